"""Which model a path names: an exported model (.tflite, .onnx, a SavedModel folder, an export
folder) or a run directory; and opening it with its runtime."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnnbuild.errors import ExportError
from cnnbuild.export.metadata import EXPORT_JSON, MODEL_FILES

if TYPE_CHECKING:
    from cnnbuild.export.runtimes import ExportedModel

SUFFIXES = {".tflite": "tflite", ".onnx": "onnx"}


def find_export(path: str | Path) -> tuple[str, Path] | None:
    """``(format, model path)`` for an exported model, None for anything else (a run directory).

    A folder holding ``saved_model.pb`` is a SavedModel; a folder holding ``model.tflite`` or
    ``model.onnx`` (what ``cnnbuild export`` writes) is that model.
    """
    path = Path(path)
    if path.is_file():
        if path.suffix.lower() in SUFFIXES:
            return SUFFIXES[path.suffix.lower()], path
        if path.name == MODEL_FILES["saved_model"]:
            return "saved_model", path.parent
        raise ExportError(f"{path}: not an exported model; give a .tflite or .onnx file, a SavedModel folder, or a run directory")
    if path.is_dir():
        for format, name in MODEL_FILES.items():
            if (path / name).is_file():
                return format, path if format == "saved_model" else path / name
        _refuse_failed(path / EXPORT_JSON)
    return None


def _refuse_failed(report: Path) -> None:
    """An export folder whose model was removed because the parity check failed."""
    if not report.is_file():
        return
    try:
        problems = json.loads(report.read_text(encoding="utf-8")).get("parity", {}).get("problems") or ["see the file"]
    except (OSError, ValueError, AttributeError):
        problems = ["see the file"]
    raise ExportError(f"{report.parent}: holds no model: the export failed its parity check ({'; '.join(problems)}); details in {report}")


def check_export_report(model_path: Path) -> None:
    """Refuse a model whose export.json (beside it) says the parity check failed."""
    folder = model_path if model_path.is_dir() else model_path.parent
    report = folder / EXPORT_JSON
    if not report.is_file():
        return
    try:
        passed = json.loads(report.read_text(encoding="utf-8")).get("parity", {}).get("passed", True)
    except (OSError, ValueError, AttributeError):
        return
    if passed is False:
        _refuse_failed(report)


def open_exported(path: str | Path) -> ExportedModel:
    """The exported model at ``path`` with its runtime; ExportError when it is not one or cannot be used."""
    from cnnbuild.export import runtimes

    found = find_export(path)
    if found is None:
        raise ExportError(f"{path}: not an exported model (.tflite, .onnx or a SavedModel folder)")
    format, model_path = found
    check_export_report(model_path)
    opener = {"tflite": runtimes.open_tflite, "onnx": runtimes.open_onnx, "saved_model": runtimes.open_saved_model}[format]
    return opener(model_path)


def open_model(path: str | Path, *, allow_unsafe: bool = False) -> ExportedModel:
    """An exported model, or a run directory's Keras model inside the serving graph; both take
    uint8 images of any size and return probabilities."""
    if find_export(path) is not None:
        return open_exported(path)
    from cnnbuild.export.runtimes import KerasModel
    from cnnbuild.runs.record import RunRecord

    record = RunRecord.open(path)
    model = load_keras_model(record, allow_unsafe=allow_unsafe)
    from cnnbuild.export.graph import ServingModule
    from cnnbuild.export.metadata import metadata_for_run

    info = metadata_for_run(record, "keras", "none")
    return KerasModel(record.model_path, info, ServingModule(float32_twin(model), info))


def load_keras_model(record: object, *, allow_unsafe: bool = False) -> Any:
    """The run's model as trained, without its optimizer (an export does not carry training state)."""
    from cnnbuild.builder.model.build import load_saved_model

    return load_saved_model(record.model_path, allow_unsafe=allow_unsafe, compile=False)  # type: ignore[attr-defined]


def float32_twin(model: Any) -> Any:
    """``model`` itself when it computes in float32, else a copy with its weights that does.

    A model trained with mixed precision keeps float32 weights but computes in bfloat16 or
    float16, which the TFLite and ONNX converters do not take; exports are made from the twin,
    and the parity check compares them with the model as trained.
    """
    import keras

    if all(layer.dtype_policy.name == "float32" for layer in model.layers):
        return model

    def in_float32(layer: Any) -> Any:
        return layer.__class__.from_config({**layer.get_config(), "dtype": "float32"})

    twin = keras.models.clone_model(model, clone_function=in_float32)
    twin.set_weights(model.get_weights())
    return twin
