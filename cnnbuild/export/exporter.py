"""``cnnbuild export``: convert a run's model, check the result against the Keras model, write
the export folder (the model, its metadata, ``export.json``) only when the check passes."""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cnnbuild.errors import CnnbuildError, ExportError
from cnnbuild.export.metadata import EXPORT_JSON, FORMATS, MODEL_FILES, QUANTIZE_MODES, ExportMetadata
from cnnbuild.export.packages import require
from cnnbuild.export.parity import Parity

log = logging.getLogger(__name__)

MAX_ACCURACY_DROP = 2.0
CALIBRATION_IMAGES = 200
PARITY_EXAMPLES = 2000
LATENCY_RUNS = 50


@dataclass
class ExportResult:
    """A verified export: its folder, the model in it, the metadata and the parity check."""

    folder: Path
    model_path: Path
    info: ExportMetadata
    parity: Parity
    report: Path


def default_folder(run_dir: str | Path, format: str, quantize: str) -> Path:
    """``RUN_DIR/exports/tflite-int8`` (``RUN_DIR/exports/onnx`` without quantization)."""
    from cnnbuild.contracts.run_layout import EXPORTS

    return Path(run_dir) / EXPORTS / (format if quantize == "none" else f"{format}-{quantize}")


def check_request(format: str, quantize: str) -> None:
    """Refuse an unknown format or mode, a combination that does not exist, or a missing converter (before any work)."""
    if format not in FORMATS:
        raise ExportError(f"unknown export format {format!r}; choose one of {', '.join(FORMATS)}")
    if quantize not in QUANTIZE_MODES:
        raise ExportError(f"unknown --quantize {quantize!r}; choose one of {', '.join(QUANTIZE_MODES)}")
    if format == "saved_model" and quantize != "none":
        raise ExportError(f"a SavedModel cannot be quantized (--quantize {quantize}); use --format tflite or --format onnx for {quantize}")
    if format == "tflite":
        require("ai_edge_litert.interpreter", "TFLite export (its parity check runs the model with LiteRT)")
    if format == "onnx":
        require("tf2onnx", "ONNX export")
        require("onnx", "ONNX export")
        require("onnxruntime", "ONNX export (its parity check runs the model with ONNX Runtime)")
        if quantize == "float16":
            require("onnxconverter_common", "float16 ONNX export")


def _check_target(folder: Path) -> None:
    if folder.suffix.lower() in (".tflite", ".onnx", ".pb"):
        raise ExportError(f"--out {folder}: --out names the export folder (it holds the model, its metadata and {EXPORT_JSON}), not the model file; for example --out exports/{folder.stem}")
    if folder.exists() and (not folder.is_dir() or (any(folder.iterdir()) and not (folder / EXPORT_JSON).exists())):
        raise ExportError(f"{folder}: exists and is not an earlier export (no {EXPORT_JSON} in it); choose another --out")


def export_run(
    run_dir: str | Path, format: str, quantize: str = "none", out: str | Path | None = None, *,
    max_accuracy_drop: float = MAX_ACCURACY_DROP, calibration_images: int = CALIBRATION_IMAGES,
    parity_examples: int = PARITY_EXAMPLES, latency_runs: int = LATENCY_RUNS, allow_unsafe: bool = False,
) -> ExportResult:  # fmt: skip
    """Export a finished run's model and check it; ExportError (with the parity table) when the check fails.

    The export folder (default ``RUN_DIR/exports/FORMAT[-QUANTIZE]``) holds the model, its
    metadata and ``export.json`` (the parity figures); an earlier export there is replaced.
    """
    from cnnbuild.builder.runtime import import_tensorflow
    from cnnbuild.export import samples
    from cnnbuild.export.metadata import metadata_for_run
    from cnnbuild.runs.record import RunRecord

    import_tensorflow()  # quietly, before a converter imports it noisily
    check_request(format, quantize)
    record = RunRecord.open(run_dir)
    keras_file = record.model_path
    folder = Path(out) if out is not None else default_folder(record.path, format, quantize)
    _check_target(folder)
    info = metadata_for_run(record, format, quantize)
    log.info("reading the run's data for the parity check")
    source = samples.load_data(record.spec, record.class_names)
    examples = samples.validation_examples(source, info.input.channels, parity_examples)
    calibration = samples.calibration_images(source, info.input.channels, calibration_images, record.spec.seed) if quantize == "int8" else []
    from cnnbuild.export.graph import ServingModule
    from cnnbuild.export.location import float32_twin, load_keras_model

    model = load_keras_model(record, allow_unsafe=allow_unsafe)
    twin = float32_twin(model)
    staging = folder.parent / f".partial-export-{folder.name}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        log.info("converting to %s%s", format, "" if quantize == "none" else f" ({quantize})")
        model_path = _convert(format, quantize, ServingModule(twin, info), info, staging, calibration, record.spec, twin)
        parity = _check(model, record, model_path, examples, keras_file, max_accuracy_drop, latency_runs)
        settings = {"max_accuracy_drop": max_accuracy_drop, "calibration_images": len(calibration), "parity_examples": parity_examples, "latency_runs": latency_runs}
        report = _report(record.path, info, parity, settings, model_path.relative_to(staging) if model_path != staging else Path("."))
        if not parity.passed:
            shutil.rmtree(staging, ignore_errors=True)
            folder.mkdir(parents=True, exist_ok=True)
            for item in folder.iterdir():
                shutil.rmtree(item) if item.is_dir() else item.unlink()
            (folder / EXPORT_JSON).write_text(json.dumps(report, indent=1), encoding="utf-8")
            raise ExportError("\n".join([f"export to {format}{'' if quantize == 'none' else ' ' + quantize} failed its parity check, so no model was kept:", *(f"  - {p}" for p in parity.problems), parity.table(), f"(figures in {folder / EXPORT_JSON})"]))
        (staging / EXPORT_JSON).write_text(json.dumps(report, indent=1), encoding="utf-8")
        if folder.exists():
            shutil.rmtree(folder)
        staging.rename(folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    final = folder if format == "saved_model" else folder / MODEL_FILES[format]
    return ExportResult(folder, final, info, parity, folder / EXPORT_JSON)


def _convert(format: str, quantize: str, module: Any, info: ExportMetadata, staging: Path, calibration: list[Any], spec: Any, model: Any) -> Path:
    """Write the model into ``staging``; a converter failure names the part of the model it fails on."""
    from cnnbuild.export.diagnose import failing_part
    from cnnbuild.export.native_output import quiet_native_output

    try:
        with quiet_native_output():
            return _write(format, quantize, module, info, staging, calibration)
    except CnnbuildError:
        raise
    except Exception as exc:
        detail = _first_line(exc)
        log.info("the conversion failed (%s); converting each part alone to find the one that fails", detail)
        with quiet_native_output():
            part = failing_part(spec, model, info, lambda piece: _write(format, "none", piece, info, staging / "part", []))
        where = f" at {part}, which the {format} converter cannot take" if part else ""
        hint = "; export to another format, or replace that layer" if part else ""
        raise ExportError(f"export to {format}{'' if quantize == 'none' else ' ' + quantize} failed{where}: {detail}{hint}") from exc


def _write(format: str, quantize: str, module: Any, info: ExportMetadata, folder: Path, calibration: list[Any]) -> Path:
    from cnnbuild.export import onnx_format, saved_model_format, tflite_format

    folder.mkdir(parents=True, exist_ok=True)
    if format == "saved_model":
        saved_model_format.convert(module, info, folder)
        return folder
    path = folder / MODEL_FILES[format]
    if format == "onnx":
        onnx_format.convert(module, info, quantize, path, calibration)
        return path

    def representative() -> Any:
        for image in calibration:
            yield [image[None]]

    content = tflite_format.with_metadata(tflite_format.convert(module, quantize, representative), info)
    path.write_bytes(content)
    path.with_name(path.name + ".json").write_text(info.to_json(indent=1), encoding="utf-8")  # the sidecar, for readers without a flatbuffer library
    return path


def _check(model: Any, record: Any, model_path: Path, examples: Any, keras_file: Path, max_accuracy_drop: float, latency_runs: int) -> Parity:
    from cnnbuild.export import onnx_format, tflite_format
    from cnnbuild.export.location import open_exported
    from cnnbuild.export.parity import compare, judge

    log.info("checking the export against the Keras model on %d validation images", len(examples.labels))
    exported = open_exported(model_path)
    parity = compare(model, record.labels, exported, examples, keras_bytes=keras_file.stat().st_size, latency_runs=latency_runs)
    facts: dict[str, Any] = {}
    if exported.info.format == "tflite":
        facts = tflite_format.quantization_facts(model_path.read_bytes())
    elif exported.info.format == "onnx":
        facts = onnx_format.quantization_facts(model_path)
    judge(parity, max_accuracy_drop=max_accuracy_drop, facts=facts)
    return parity


def _report(run_dir: Path, info: ExportMetadata, parity: Parity, settings: dict[str, Any], model: Path) -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for package in ("tensorflow", "keras", "tf2onnx", "onnx", "onnxruntime", "onnxconverter-common", "ai-edge-litert"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            pass
    return {
        "model": str(model), "run": str(run_dir.resolve()), "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "metadata": info.model_dump(mode="json"), "parity": parity.as_dict(), "settings": settings, "versions": versions,
    }  # fmt: skip


def _first_line(exc: Exception) -> str:
    """The part of a converter's error a person can act on (MLIR errors come wrapped in location noise)."""
    import re

    text = str(exc)
    unsupported = re.search(r"'(tf\.\w+)' op (is neither a custom op nor a flex op|is not supported[^\n]*)", text)
    if unsupported:
        return f"TensorFlow op {unsupported.group(1)} {unsupported.group(2)}"
    lines = [line.strip() for line in text.splitlines() if line.strip()] or [type(exc).__name__]
    return " ".join(lines[0].split())[:300]
