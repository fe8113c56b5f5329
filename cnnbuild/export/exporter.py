"""``cnnbuild export``: convert a run's model, check the result against the Keras model, write
the export folder (the model, its metadata, ``export.json``) only when the check passes."""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cnnbuild.errors import CnnbuildError, ExportError
from cnnbuild.export import formats
from cnnbuild.export.folder import ExportFolder
from cnnbuild.export.formats import Format
from cnnbuild.export.metadata import EXPORT_JSON, ExportMetadata
from cnnbuild.export.packages import require
from cnnbuild.export.parity import Parity

log = logging.getLogger(__name__)

MAX_ACCURACY_DROP = 2.0
CALIBRATION_IMAGES = 200
PARITY_EXAMPLES = 2000
LATENCY_RUNS = 50


@dataclass
class ExportResult:
    """A verified export: its folder, the model in it, the metadata and the parity check; the files
    export wrote (relative to the folder) and those it kept there because it did not write them."""

    folder: Path
    model_path: Path
    info: ExportMetadata
    parity: Parity
    report: Path
    files: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


def default_folder(run_dir: str | Path, format: str, quantize: str) -> Path:
    """``RUN_DIR/exports/tflite-int8`` (``RUN_DIR/exports/onnx`` without quantization)."""
    from cnnbuild.contracts.run_layout import EXPORTS

    return Path(run_dir) / EXPORTS / (format if quantize == "none" else f"{format}-{quantize}")


def check_request(format: str, quantize: str) -> None:
    """Refuse an unknown format or mode, a combination that does not exist, or a missing converter (before any work)."""
    formats.check_request(format, quantize)


def export_run(
    run_dir: str | Path, format: str, quantize: str = "none", out: str | Path | None = None, *,
    max_accuracy_drop: float = MAX_ACCURACY_DROP, calibration_images: int = CALIBRATION_IMAGES,
    parity_examples: int = PARITY_EXAMPLES, latency_runs: int = LATENCY_RUNS, allow_unsafe: bool = False,
) -> ExportResult:  # fmt: skip
    """Export a finished run's model and check it; ExportError (with the parity table) when the check fails.

    The export folder (default ``RUN_DIR/exports/FORMAT[-QUANTIZE]``) gets the model, its
    metadata and ``export.json`` (the parity figures and the sha256 of every file export wrote);
    the files an earlier export wrote there are replaced, every other file is kept. The request,
    the run and the folder are checked before TensorFlow loads.
    """
    from cnnbuild.runs.record import RunRecord

    row = formats.check_request(format, quantize)
    record = RunRecord.open(run_dir)
    _ = record.model_path  # RunError when the run did not finish, before anything loads
    target = ExportFolder.check(Path(out) if out is not None else default_folder(record.path, format, quantize), row)
    from cnnbuild.builder.runtime import import_tensorflow
    from cnnbuild.export import samples
    from cnnbuild.export.metadata import metadata_for_run

    import_tensorflow()  # quietly, before a converter imports it noisily
    for module, purpose in (*row.export_needs, *row.quantize_needs.get(quantize, ())):
        require(module, purpose)  # installed (checked above), and importable
    info = metadata_for_run(record, format, quantize)
    log.info("reading the run's data for the parity check")
    source = samples.load_data(record.spec, record.class_names)
    examples = samples.validation_examples(source, info.input, parity_examples)
    calibration = samples.calibration_images(source, info.input, calibration_images, record.spec.seed) if quantize == "int8" else []
    from cnnbuild.export.graph import ServingModule
    from cnnbuild.export.location import float32_twin, load_keras_model

    model = load_keras_model(record, allow_unsafe=allow_unsafe)
    twin = float32_twin(model)
    with tempfile.TemporaryDirectory(prefix="cnnbuild-export-") as scratch:
        staging = Path(scratch) / "export"
        log.info("converting to %s%s", format, "" if quantize == "none" else f" ({quantize})")
        _convert(row, quantize, ServingModule(twin, info), info, staging, calibration, record.spec, twin)
        model_path = staging if row.model_is_folder else staging / row.model_file
        parity = _check(model, record, row, model_path, examples, max_accuracy_drop, latency_runs)
        settings = {"max_accuracy_drop": max_accuracy_drop, "calibration_images": len(calibration), "parity_examples": parity_examples, "latency_runs": latency_runs}
        document = _report(record.path, info, parity, settings, Path(".") if row.model_is_folder else Path(row.model_file))
        if not parity.passed:
            target.record_failure(document)
            raise ExportError("\n".join([f"export to {format}{'' if quantize == 'none' else ' ' + quantize} failed its parity check, so no model was kept:", *(f"  - {p}" for p in parity.problems), parity.table(), f"(figures in {target.path / EXPORT_JSON})"]))
        files = target.install(staging, document)
    final = target.path if row.model_is_folder else target.path / row.model_file
    return ExportResult(target.path, final, info, parity, target.path / EXPORT_JSON, files, target.kept())


def _convert(row: Format, quantize: str, module: Any, info: ExportMetadata, staging: Path, calibration: list[Any], spec: Any, model: Any) -> None:
    """Write the model into ``staging``; a converter failure names the part of the model it fails on."""
    from cnnbuild.export.diagnose import failing_part
    from cnnbuild.export.native_output import quiet_native_output

    def write(piece: Any, quantize: str, folder: Path, calibration: list[Any]) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        row.converter().convert(piece, info, quantize, folder, calibration)

    try:
        with quiet_native_output():
            write(module, quantize, staging, calibration)
    except CnnbuildError:
        raise
    except Exception as exc:
        detail = _first_line(exc)
        log.info("the conversion failed (%s); converting each part alone to find the one that fails", detail)
        with quiet_native_output():
            part = failing_part(spec, model, info, lambda piece: write(piece, "none", staging.parent / "part", []))
        where = f" at {part}, which the {row.name} converter cannot take" if part else ""
        hint = "; export to another format, or replace that layer" if part else ""
        raise ExportError(f"export to {row.name}{'' if quantize == 'none' else ' ' + quantize} failed{where}: {detail}{hint}") from exc


def _check(model: Any, record: Any, row: Format, model_path: Path, examples: Any, max_accuracy_drop: float, latency_runs: int) -> Parity:
    from cnnbuild.export.parity import compare, judge

    log.info("checking the export against the Keras model on %d validation images", len(examples.labels))
    exported = row.converter().open(model_path)
    if exported.info.output.task != "single_label":
        from cnnbuild.export.task_parity import compare_task

        parity = compare_task(model, exported, examples, keras_bytes=record.model_path.stat().st_size, latency_runs=latency_runs)
    else:
        parity = compare(model, record.labels, exported, examples, keras_bytes=record.model_path.stat().st_size, latency_runs=latency_runs)
    facts_of = getattr(row.converter(), "quantization_facts", None)
    judge(parity, max_accuracy_drop=max_accuracy_drop, facts=facts_of(model_path) if facts_of else {})
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
