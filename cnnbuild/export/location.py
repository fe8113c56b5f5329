"""Which model a path names: an exported model (.tflite, .onnx, a SavedModel folder, an export
folder) or a run directory; and opening it with its runtime."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnnbuild.errors import ExportError
from cnnbuild.export.formats import BY_NAME, BY_SUFFIX, FORMATS
from cnnbuild.export.manifest import ExportReport, check_files, read_report

if TYPE_CHECKING:
    from cnnbuild.export.runtimes import ExportedModel


def find_export(path: str | Path) -> tuple[str, Path] | None:
    """``(format, model path)`` for an exported model, None for anything else (a run directory).

    A file with a format's suffix (``.tflite``, ``.onnx``) or a SavedModel's ``saved_model.pb`` is
    that model; a folder holding a format's model file (what ``cnnbuild export`` writes) is that model.
    """
    path = Path(path)
    if path.is_file():
        format = BY_SUFFIX.get(path.suffix.lower())
        if format is not None:
            return format.name, path
        folder_format = next((format for format in FORMATS if format.model_is_folder and path.name == format.model_file), None)
        if folder_format is not None:
            return folder_format.name, path.parent
        raise ExportError(f"{path}: not an exported model; give a {', '.join(BY_SUFFIX)} file, a SavedModel folder, or a run directory")
    if path.is_dir():
        for format in FORMATS:
            if (path / format.model_file).is_file():
                return format.name, path if format.model_is_folder else path / format.model_file
        report = read_report(path)
        if report is not None and not report.passed:
            _refuse_failed(report)
    return None


def _refuse_failed(report: ExportReport) -> None:
    """An export folder whose model was removed because the parity check failed."""
    raise ExportError(f"{report.folder}: holds no model: the export failed its parity check ({'; '.join(report.problems)}); details in {report.path}")


def open_exported(path: str | Path, *, allow_modified: bool = False) -> ExportedModel:
    """The exported model at ``path`` with its runtime; ExportError when it is not one or cannot be used.

    When its folder holds the ``export.json`` export wrote, a failed parity check refuses the
    model, and a file changed since the export refuses it too (a warning with ``allow_modified``).
    """
    found = find_export(path)
    if found is None:
        raise ExportError(f"{path}: not an exported model ({', '.join(BY_SUFFIX)} or a SavedModel folder)")
    name, model_path = found
    report = read_report(model_path if model_path.is_dir() else model_path.parent)
    if report is not None:
        if not report.passed:
            _refuse_failed(report)
        check_files(report, allow_modified=allow_modified)
    return BY_NAME[name].converter().open(model_path)


def open_model(path: str | Path, *, allow_unsafe: bool = False, allow_modified: bool = False) -> ExportedModel:
    """An exported model, or a run directory's Keras model inside the serving graph; both take
    uint8 images of any size and return probabilities."""
    if find_export(path) is not None:
        return open_exported(path, allow_modified=allow_modified)
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
