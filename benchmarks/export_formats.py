"""Export benchmark: size, single-image latency and validation accuracy of a run's model as Keras
float32 and as every export (SavedModel; TFLite none/float16/dynamic/int8; ONNX none/float16/dynamic/int8).

    python benchmarks/export_formats.py runs/digits runs/flowers [--rounds 5] [--calls 50]

Each export is made with `cnnbuild export` (library call), so its accuracy and agreement are the
parity check's, on the run's whole validation split. Latency is measured afterwards for all
models together: in each round every model answers `--calls` single-image calls (after a warm-up)
and its median is kept; the table shows the median of the rounds, so load from other processes on
a shared machine falls on every model alike. The image is a validation image at the model's own
size, as uint8 for the exports (their in-graph resize is then the identity) and as float32 for
Keras. Runtimes keep their default thread settings. Results go to benchmarks/results/export-*.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

MODES = [("saved_model", "none"), ("tflite", "none"), ("tflite", "float16"), ("tflite", "dynamic"), ("tflite", "int8"),
         ("onnx", "none"), ("onnx", "float16"), ("onnx", "dynamic"), ("onnx", "int8")]  # fmt: skip


def export_all(run: Path, latency_calls: int) -> list[dict[str, Any]]:
    from cnnbuild.errors import CnnbuildError
    from cnnbuild.export.exporter import export_run

    rows = []
    for format, quantize in MODES:
        started = time.perf_counter()
        try:
            result = export_run(run, format, quantize, latency_runs=latency_calls)
        except CnnbuildError as exc:  # a failed parity check is a result too
            rows.append({"format": format, "quantize": quantize, "error": str(exc)})
            print(f"  {format} {quantize}: FAILED: {str(exc).splitlines()[0]}", flush=True)
            continue
        parity = result.parity
        rows.append({"format": format, "quantize": quantize, "path": str(result.model_path), "bytes": parity.export_bytes, "accuracy": parity.export_accuracy,
                     "keras_accuracy": parity.keras_accuracy, "agreement": parity.agreement, "max_probability_difference": parity.max_probability_difference,
                     "runtime": parity.runtime, "export_seconds": round(time.perf_counter() - started, 1)})  # fmt: skip
        print(f"  {format} {quantize}: {parity.export_bytes:,} bytes, accuracy {parity.export_accuracy:.4f}, agreement {parity.agreement:.4f}", flush=True)
    return rows


def latencies(run: Path, rows: list[dict[str, Any]], rounds: int, calls: int) -> dict[str, float]:
    import numpy as np
    import tensorflow as tf

    from cnnbuild.export.location import load_keras_model, open_exported
    from cnnbuild.export.parity import median_ms
    from cnnbuild.runs.record import RunRecord

    record = RunRecord.open(run)
    model = load_keras_model(record)
    height, width = record.spec.data.image_size
    channels = model.input_shape[-1]
    image = np.random.default_rng(0).integers(0, 256, (1, height, width, channels), dtype=np.uint8)
    as_float = image.astype("float32")
    compiled = tf.function(lambda x: model(x, training=False), input_signature=[tf.TensorSpec([None, height, width, channels], tf.float32)])
    callers = {"keras predict": lambda: model.predict(as_float, verbose=0), "keras compiled": lambda: compiled(as_float).numpy()}
    for row in rows:
        if "path" in row:
            exported = open_exported(row["path"])
            callers[f"{row['format']} {row['quantize']}"] = lambda exported=exported: exported(image)
    per_round: dict[str, list[float]] = {name: [] for name in callers}
    for index in range(rounds):
        for name, call in callers.items():
            per_round[name].append(median_ms(call, calls if "predict" not in name else max(5, calls // 5), warmup=5))
        print(f"  latency round {index + 1}/{rounds}: " + ", ".join(f"{name} {values[-1]:.3f} ms" for name, values in per_round.items()), flush=True)
    return {name: statistics.median(values) for name, values in per_round.items()}


def table(name: str, keras_bytes: int, keras_accuracy: float, rows: list[dict[str, Any]], latency: dict[str, float]) -> str:
    base = latency["keras compiled"]
    lines = [f"### {name}", "", "| model | size | ms / image | vs Keras compiled | validation accuracy | top-1 agreement |", "|---|---|---|---|---|---|",
             f"| Keras float32, `model.predict` | {keras_bytes / 1e3:,.0f} KB | {latency['keras predict']:.3f} | {base / latency['keras predict']:.4f}x | {keras_accuracy:.2%} | - |",
             f"| Keras float32, compiled call | {keras_bytes / 1e3:,.0f} KB | {base:.3f} | 1.00x | {keras_accuracy:.2%} | - |"]  # fmt: skip
    for row in rows:
        label = f"{row['format']} {row['quantize']}"
        if "error" in row:
            lines.append(f"| {label} | - | - | - | failed: {row['error'].splitlines()[0]} | - |")
            continue
        ms = latency[label]
        lines.append(f"| {label} ({row['runtime']}) | {row['bytes'] / 1e3:,.0f} KB | {ms:.3f} | {base / ms:.1f}x | {row['accuracy']:.2%} | {row['agreement']:.2%} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=50)
    args = parser.parse_args()
    from benchmarks.machine import describe_machine
    from cnnbuild.builder.runtime import import_tensorflow
    from cnnbuild.runs.record import RunRecord

    import_tensorflow()
    results = {"machine": describe_machine(probe_gpu=False), "rounds": args.rounds, "calls": args.calls, "runs": []}
    tables = []
    for run in args.runs:
        record = RunRecord.open(run)
        print(f"{record.name}: exporting {run}", flush=True)
        rows = export_all(run, args.calls)
        latency = latencies(run, rows, args.rounds, args.calls)
        keras_accuracy = next((row["keras_accuracy"] for row in rows if "keras_accuracy" in row), float("nan"))
        results["runs"].append({"run": str(run), "name": record.name, "keras_bytes": record.model_path.stat().st_size, "keras_accuracy": keras_accuracy, "exports": rows, "latency_ms": latency})
        tables.append(table(f"{record.name} ({run})", record.model_path.stat().st_size, keras_accuracy, rows, latency))
    target = HERE / "results" / f"export-{time.strftime('%Y%m%d-%H%M%S')}.json"
    target.parent.mkdir(exist_ok=True)
    target.write_text(json.dumps(results, indent=1), encoding="utf-8")
    print("\n\n".join(tables))
    print(f"\nwrote {target}")


if __name__ == "__main__":
    main()
