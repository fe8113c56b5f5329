"""Augmentation benchmarks: what each augmentation type costs, and what RandAugment, MixUp and
CutMix do for the tutorial's flowers model.

    python benchmarks/augmentation.py cost                   # CPU ms per 32-image 180x180 batch, per type (a few minutes)
    python benchmarks/augmentation.py flowers --epochs 8     # 4 augmentation recipes x 3 seeds on the flower photos
    python benchmarks/augmentation.py all

``cost`` runs cnnbuild's own pipeline augmentation (``training_augmenter``: the spec's layers,
seeded, fused where cnnbuild fuses) in a tf.data map with one call at a time, as seeded runs
do, and reports the median CPU time (all threads of the process) and wall time per batch after
warm-up, each type beside a plain copy of the batch. ``flowers`` runs ``cnnbuild run
examples/flowers.yaml`` per recipe and seed as separate processes, recipes alternating within
each seed, and reports the last epoch's validation accuracy: mean and sample standard deviation
over the seeds. Results go to benchmarks/results/augmentation-<time>.json.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import REPO, Variant, alternate, cnnbuild_command, mean, read_cnnbuild_run, stdev  # noqa: E402
from machine import describe_machine  # noqa: E402
from report import _table, machine_section  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"
DEFAULT_FLOWERS = REPO.parent / "shared" / "data" / "flowers"
TUTORIAL = [{"type": "RandomFlip", "mode": "horizontal"}, {"type": "RandomRotation", "factor": 0.1}, {"type": "RandomZoom", "height_factor": 0.1}]

#: Each row: a name and the augmentation list it measures (one type alone, unless the name says otherwise).
COST_ROWS: list[tuple[str, list[dict[str, Any]]]] = [
    ("RandomFlip", [{"type": "RandomFlip"}]),
    ("RandomRotation", [{"type": "RandomRotation", "factor": 0.1}]),
    ("RandomZoom", [{"type": "RandomZoom", "height_factor": 0.2}]),
    ("RandomTranslation", [{"type": "RandomTranslation", "height_factor": 0.1, "width_factor": 0.1}]),
    ("RandomShear", [{"type": "RandomShear", "x_factor": 0.2, "y_factor": 0.2}]),
    ("RandomPerspective", [{"type": "RandomPerspective", "factor": 1, "scale": 0.5}]),
    ("RandomContrast", [{"type": "RandomContrast", "factor": 0.3}]),
    ("RandomBrightness", [{"type": "RandomBrightness", "factor": 0.2}]),
    ("RandomHue", [{"type": "RandomHue", "factor": 0.2}]),
    ("RandomSaturation", [{"type": "RandomSaturation", "factor": 0.5}]),
    ("RandomColorDegeneration", [{"type": "RandomColorDegeneration", "factor": 0.5}]),
    ("RandomGrayscale", [{"type": "RandomGrayscale", "factor": 0.5}]),
    ("RandomColorJitter (all four)", [{"type": "RandomColorJitter", "brightness_factor": 0.2, "contrast_factor": 0.2, "saturation_factor": 0.5, "hue_factor": 0.1}]),
    ("RandomSharpness", [{"type": "RandomSharpness", "factor": [0.3, 0.7]}]),
    ("RandomInvert", [{"type": "RandomInvert", "factor": 0.5}]),
    ("RandomPosterization", [{"type": "RandomPosterization", "factor": [4, 6]}]),
    ("Solarization", [{"type": "Solarization", "threshold_factor": 0.5}]),
    ("RandomErasing (fill_value 0)", [{"type": "RandomErasing", "factor": 0.5, "fill_value": 0}]),
    ("RandomErasing (noise fill)", [{"type": "RandomErasing", "factor": 0.5}]),
    ("RandomGaussianBlur (kernel 5)", [{"type": "RandomGaussianBlur", "factor": 0.5, "kernel_size": 5}]),
    ("RandAugment (num_ops 2)", [{"type": "RandAugment"}]),
    ("RandAugment (num_ops 1)", [{"type": "RandAugment", "num_ops": 1}]),
    ("AugMix", [{"type": "AugMix"}]),
    ("Pipeline (flip, rotation)", [{"type": "Pipeline", "layers": TUTORIAL[:2]}]),
    ("MixUp", [{"type": "MixUp"}]),
    ("CutMix", [{"type": "CutMix"}]),
    ("tutorial: flip, rotation, zoom (fused)", TUTORIAL),
    ("tutorial: flip, rotation, zoom (fuse_augmentation: false)", TUTORIAL),
    ("flip, rotation, shear, zoom (fused)", [*TUTORIAL[:2], {"type": "RandomShear", "x_factor": 0.2}, TUTORIAL[2]]),
    ("flip, rotation, shear, zoom (fuse_augmentation: false)", [*TUTORIAL[:2], {"type": "RandomShear", "x_factor": 0.2}, TUTORIAL[2]]),
]


def _images(count: int, size: int) -> Any:
    import numpy as np

    yy, xx = np.mgrid[0:size, 0:size].astype("float32") / size
    return np.stack([np.stack([255 * xx, 255 * (1 - yy), 128 + 100 * np.sin(9 * xx + 5 * yy + k)], axis=-1) for k in range(count)]).clip(0, 255).astype("float32")


def measure_cost(name: str, entries: list[dict[str, Any]], *, size: int, warmup: int, batches: int) -> dict[str, Any]:
    """Median CPU and wall milliseconds per batch of 32 through ``entries`` as cnnbuild's pipeline applies them."""
    import numpy as np
    import tensorflow as tf

    from cnnbuild.builder.data.pipelines import training_augmenter
    from cnnbuild.spec import spec_from_dict

    fuse = "fuse_augmentation: false" not in name
    spec = spec_from_dict({"seed": 1, "data": {"type": "digits", "image_size": [size, size], "color_mode": "rgb"}, "augmentation": entries, "train": {"fuse_augmentation": fuse}, "model": {"layers": ["Flatten", {"type": "Dense", "units": "auto"}]}})
    augment = training_augmenter(spec) if entries else (lambda x, y: (tf.identity(x), y))
    labels = np.eye(5, dtype="float32")[np.arange(32) % 5]
    dataset = tf.data.Dataset.from_tensors((_images(32, size), labels)).repeat(warmup + batches).map(augment, num_parallel_calls=1)
    cpu, wall = [], []
    iterator = iter(dataset)
    for index in range(warmup + batches):
        started_cpu, started = time.process_time(), time.perf_counter()
        next(iterator)[0].numpy()
        if index >= warmup:
            cpu.append(1000 * (time.process_time() - started_cpu))
            wall.append(1000 * (time.perf_counter() - started))
    return {"name": name, "cpu_ms": statistics.median(cpu), "wall_ms": statistics.median(wall)}


def cost(args: argparse.Namespace) -> dict[str, Any]:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    rows = [measure_cost("copy of the batch (baseline)", [], size=args.size, warmup=args.warmup, batches=args.batches)]
    for name, entries in COST_ROWS:
        rows.append(measure_cost(name, entries, size=args.size, warmup=args.warmup, batches=args.batches))
        print(f"  {name:<60} {rows[-1]['cpu_ms']:8.1f} ms CPU  {rows[-1]['wall_ms']:8.1f} ms wall", flush=True)
    return {"size": args.size, "batches": args.batches, "warmup": args.warmup, "rows": rows}


def flowers(args: argparse.Namespace) -> dict[str, Any]:
    recipes = {
        "tutorial (flip, rotation 0.1, zoom 0.1)": TUTORIAL,
        "flip + RandAugment (num_ops 2, factor 0.5)": [TUTORIAL[0], {"type": "RandAugment"}],
        "tutorial + MixUp (alpha 0.2)": [*TUTORIAL, {"type": "MixUp"}],
        "tutorial + CutMix (factor 1)": [*TUTORIAL, {"type": "CutMix"}],
    }

    def command(entries: list[dict[str, Any]]) -> Any:
        def build(round_index: int, folder: Path) -> list[str]:
            sets = [f"data.path={args.data}", f"train.epochs={args.epochs}", f"seed={123 + round_index}", "compile.loss.type=auto", f"augmentation={json.dumps(entries)}"]
            return cnnbuild_command("run", "examples/flowers.yaml", *[item for value in sets for item in ("--set", value)], "--output", str(folder / "run"), "--verbose", "quiet")

        return build

    variants = [Variant(name, command(entries), read_cnnbuild_run) for name, entries in recipes.items()]
    scratch = Path(args.scratch or RESULTS / "augmentation-scratch")
    runs = alternate(variants, args.seeds, scratch, timeout=3600)
    summary = {}
    for name, measured in runs.items():
        accuracies = [m.result.get("val_accuracy") for m in measured if m.ok]
        summary[name] = {
            "val_accuracy": accuracies,
            "mean": mean(accuracies),
            "sd": stdev(accuracies),
            "wall_seconds": [round(m.wall_seconds, 1) for m in measured],
            "cpu_seconds": [round(m.cpu_seconds, 1) for m in measured],
            "failed": sum(not m.ok for m in measured),
        }
    return {"epochs": args.epochs, "seeds": [123 + r for r in range(args.seeds)], "data": str(args.data), "recipes": {k: v for k, v in recipes.items()}, "summary": summary}


def render(results: dict[str, Any]) -> str:
    parts = ["### Machine", machine_section(results["machine"])]
    if "cost" in results:
        rows = results["cost"]["rows"]
        base = rows[0]["cpu_ms"]
        table = [[row["name"], f"{row['cpu_ms']:.1f}", f"{row['wall_ms']:.1f}", f"{row['cpu_ms'] / base:.1f}x"] for row in rows]
        parts += [f"### Augmentation layers: per 32-image batch at {results['cost']['size']}x{results['cost']['size']}", _table(["augmentation", "CPU ms", "wall ms", "CPU vs copy"], table)]
    if "flowers" in results:
        result = results["flowers"]
        table = []
        for name, row in result["summary"].items():
            accuracies = ", ".join(f"{a:.3f}" for a in row["val_accuracy"])
            spread = f" ± {row['sd']:.3f}" if row["sd"] is not None else ""
            table.append([name, f"{row['mean']:.3f}{spread}" if row["mean"] is not None else "-", accuracies, f"{statistics.median(row['wall_seconds']):.0f}", str(row["failed"])])
        parts += [f"### Flowers: validation accuracy after {result['epochs']} epochs, seeds {', '.join(map(str, result['seeds']))}", _table(["recipe", "mean ± sd", "per seed", "median wall s", "failed"], table)]
    return "\n\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["cost", "flowers", "all"])
    parser.add_argument("--size", type=int, default=180)
    parser.add_argument("--batches", type=int, default=7, help="measured batches per row, after --warmup")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--data", type=Path, default=DEFAULT_FLOWERS)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--scratch", help="folder for the flowers runs (default: benchmarks/results/augmentation-scratch)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    results: dict[str, Any] = {"machine": describe_machine(probe_gpu=False), "command": " ".join(sys.argv)}
    if args.what in ("cost", "all"):
        results["cost"] = cost(args)
    if args.what in ("flowers", "all"):
        results["flowers"] = flowers(args)
    results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    out = args.out or RESULTS / f"augmentation-{args.what}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(render(results))
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
