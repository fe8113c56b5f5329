"""``cnnbuild evaluate``: a finished run's model on its validation split, or on other data of some or all of its classes.

Every example's prediction is kept (file, true class, predicted class, confidence), so mistakes,
and mislabelled files, can be found by path; the confusion matrix and the misclassified images
are drawn beside them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnnbuild.builder.inference import FinishedRun, call_model, open_finished
from cnnbuild.builder.reports.evaluation import ValidationReport, format_class_table, named_batches, predict_validation, predictions_csv
from cnnbuild.builder.reports.evaluation_folder import EvaluationFolder
from cnnbuild.builder.task_evaluate import TaskEvaluation, evaluate_task
from cnnbuild.contracts import run_layout as layout
from cnnbuild.data.folders import nfc
from cnnbuild.data.graph_map import graph_map
from cnnbuild.errors import DataError, RunError
from cnnbuild.runs.directory import RunDirectory
from cnnbuild.runs.record import RunRecord
from cnnbuild.spec.document import Spec
from cnnbuild.spec.labels import known_class_names


@dataclass
class Evaluation:
    """What ``evaluate`` found, and where it wrote its files."""

    data: str
    report: ValidationReport
    loss: float | None
    written: list[Path]
    #: files under the data folder that were not evaluated, each with why (never left out silently)
    skipped: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        present = [row for row in self.report.per_class if row["support"]]
        return {
            "data": self.data, "examples": self.report.examples, "accuracy": self.report.accuracy, "loss": self.loss,
            "per_class": present, "confusion_matrix": self.report.confusion, "class_names": self.report.class_names,
            "files": [str(path) for path in self.written], "skipped": self.skipped,
        }  # fmt: skip

    def text(self) -> str:
        lines = [f"{self.report.examples} examples from {self.data}", f"accuracy {self.report.accuracy:.4f}"]
        if self.loss is not None:
            lines.append(f"loss {self.loss:.4f}")
        lines += ["", format_class_table([row for row in self.report.per_class if row["support"]])]
        if self.skipped:
            lines += ["", f"{len(self.skipped)} files not evaluated:"] + [f"  {item['path']}: {item['reason']}" for item in self.skipped]
        return "\n".join(lines + [f"wrote {path}" for path in self.written])


def spec_for_data(spec: Spec, data: str | Path, run_names: list[str] | None = None) -> Spec:
    """``spec`` reading all of ``data`` (a folder, or a file such as a CSV) with the run's own data
    source: its ``path`` parameter replaced, no validation split, no shuffling, no cache."""
    params = type(spec.data)
    if "path" not in params.model_fields:
        raise RunError(f"data source {spec.data.type!r} has no 'path' parameter, so --data cannot point it elsewhere; evaluate on the run's own validation split instead")
    location = Path(data).expanduser().resolve()
    update: dict[str, Any] = {"path": str(location), "validation_split": 0, "shuffle_buffer": 0, "cache": "none"}
    update.update({key: None for key in ("url", "sha256", "test_path", "class_names") if key in params.model_fields})  # the data's own classes
    if spec.task_row.name == "multi_label" and "class_names" in params.model_fields:
        update["class_names"] = run_names or spec.data.class_names  # the run's labels, in the model's order (``run_names``: class_names.json)
    try:
        changed = params.model_validate({**spec.data.model_dump(), **update})
    except ValueError as exc:
        raise RunError(f"--data {data}: {exc}") from exc
    return spec.model_copy(update={"data": changed})


def class_mapping(source_classes: list[str], run_classes: list[str]) -> list[int]:
    """For each of the data's classes, its index among the run's (a subset is fine; an unknown class is refused)."""
    position = {nfc(name): index for index, name in enumerate(run_classes)}
    unknown = [name for name in source_classes if nfc(name) not in position]
    if unknown:
        raise DataError(f"the data has classes the run's model does not know: {unknown}; the model's classes are {run_classes}; leave those folders out")
    return [position[nfc(name)] for name in source_classes]


def _batches(finished: FinishedRun, spec: Spec, source: Any, split: str, mapping: list[int]) -> Any:
    """``(images, the run's class indices, names)`` batches of one split, by file where the source lists its files."""
    from cnnbuild.builder.runtime import import_tensorflow

    tf = import_tensorflow()
    if source.files is not None:
        files = [(path, mapping[label], where) for path, label, where in source.files]
        return named_batches(files, split, spec.data, spec.data.batch_size)
    dataset = source.validation if split == "validation" else source.train
    table = tf.constant(mapping, dtype=tf.int64)
    named = graph_map(dataset.enumerate(), lambda index, example: (example[0], tf.gather(table, tf.cast(example[1], tf.int64)), tf.strings.join([split, "[", tf.strings.as_string(index), "]"])))
    return named.batch(spec.data.batch_size)


def evaluate(run_dir: str | Path, data: str | Path | None = None, *, out: str | Path | None = None, allow_unsafe: bool = False) -> Evaluation | TaskEvaluation:
    """The run's model on its validation split, or on ``data`` read by the run's data source (a
    folder of some or all of the run's classes). Writes ``predictions.csv``,
    ``confusion_matrix.png`` and ``misclassified.png`` to ``out`` (default:
    ``RUN_DIR/evaluations/<data's name or validation>/``)."""
    from cnnbuild.builder.data.source import load_source

    if RunRecord.open(run_dir).spec.task_row.name == "segmentation":
        from cnnbuild.builder.segmentation_evaluate import evaluate_segmentation

        return evaluate_segmentation(run_dir, data, out=out, allow_unsafe=allow_unsafe)  # type: ignore[return-value]
    if out is not None:
        EvaluationFolder(Path(out)).check()  # before the model loads: refuse a folder holding files evaluate did not write
    if data is not None:
        # the data's classes, where its source tells them from a listing, are checked before TensorFlow loads the model
        record = RunRecord.open(run_dir)
        names = known_class_names(spec_for_data(record.spec, data, record.class_names), record.spec.registry)
        if names is not None:
            class_mapping(names, record.class_names)
    finished = open_finished(run_dir, allow_unsafe=allow_unsafe)
    spec = finished.spec if data is None else spec_for_data(finished.spec, data, finished.class_names)
    source = load_source(spec)
    if finished.task is not None:
        return evaluate_task(finished, spec, source, data, Path(out) if out else None)
    if data is None and [nfc(name) for name in source.class_names] != [nfc(name) for name in finished.class_names]:
        raise DataError(f"the run's data now has the classes {source.class_names}, the run was trained on {finished.class_names}; evaluate with --data on a folder of the run's classes")
    split = "validation" if data is None else "train"
    if (source.validation if data is None else source.train) is None:
        raise DataError("the run's data has no validation split (validation_split: 0); pass --data FOLDER")
    mapping = class_mapping(source.class_names, finished.class_names)
    labels = finished.record.labels
    report = call_model(finished, lambda model: predict_validation(model, _batches(finished, spec, source, split, mapping), labels, finished.class_names, split=split))
    loss = None
    if mapping == list(range(len(finished.class_names))):  # the same classes in the same order: Keras's own loss applies
        from cnnbuild.builder.data.pipelines import build_pipelines

        prepared = build_pipelines(spec, source, augment=False)
        results = call_model(finished, lambda model: model.evaluate(prepared.validation if data is None else prepared.train, verbose=0, return_dict=True))
        loss = float(results["loss"])
    name = "validation" if data is None else Path(data).resolve().name
    written = _write(finished, report, Path(out) if out else None, f"{layout.EVALUATIONS}/{name}", split)
    return Evaluation(str(data) if data else "the validation split", report, loss, written)


def _write(finished: FinishedRun, report: ValidationReport, out: Path | None, inside: str, split: str) -> list[Path]:
    """Into the run's own ``evaluations/NAME`` folder, or into ``out`` (replacing only what evaluate wrote there)."""
    if out is not None:
        return EvaluationFolder(out).write(report, split)
    from cnnbuild.builder.reports import figures
    from cnnbuild.builder.reports.visuals import misclassified_grid

    files = {
        layout.PREDICTIONS: lambda path: path.write_text(predictions_csv({split: report}), encoding="utf-8"),
        layout.CONFUSION_MATRIX: lambda path: figures.draw_confusion_matrix(report.confusion, report.class_names, path, title=f"Confusion matrix ({report.examples} images, accuracy {report.accuracy:.1%})"),
        layout.MISCLASSIFIED: lambda path: misclassified_grid(report, path),
    }
    return [RunDirectory(finished.record.path).write_bytes_with(f"{inside}/{name}", writer) for name, writer in files.items()]
