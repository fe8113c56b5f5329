"""What a finished multi-label or regression run adds to its run directory: the thresholds chosen
on the validation split (in ``task.json``), the task's measures in ``metrics.json``, every
prediction in ``predictions.csv``, and the task's figure."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cnnbuild.builder.reports import figures
from cnnbuild.builder.reports.task_figures import draw_pr_curves, draw_predicted_vs_true
from cnnbuild.builder.reports.task_measures import TaskPredictions, choose_thresholds, predict_split, predictions_csv, task_measures
from cnnbuild.contracts import run_layout as layout
from cnnbuild.runs.task_record import read_task_record

if TYPE_CHECKING:
    from cnnbuild.builder.data.pipelines import PreparedData
    from cnnbuild.builder.reports.drawing import FigureWriter
    from cnnbuild.runs.directory import RunDirectory
    from cnnbuild.runs.task_record import TaskRecord


def split_files(prepared: PreparedData, split: str) -> list[str] | None:
    """The files of ``split`` in its order, for sources that name them."""
    files = prepared.source.files
    return [path for path, _, where in files if where == split] if files else None


def draw_task_figure(drawings: FigureWriter, predictions: TaskPredictions, record: TaskRecord, name: str) -> None:
    """``pr_curves.png`` (multi-label) or ``predicted_vs_true.png`` (regression) of ``predictions``, drawn by ``drawings``."""
    if record.task == "multi_label":
        title = f"{name}: precision-recall per label, {predictions.split} split ({len(predictions.true)} images)"
        drawings.draw(layout.PR_CURVES, lambda path: draw_pr_curves(predictions, record, path, title=title))
    else:
        title = f"{name}: predicted against true, {predictions.split} split ({len(predictions.true)} images)"
        drawings.draw(layout.PREDICTED_VS_TRUE, lambda path: draw_predicted_vs_true(predictions, record, path, title=title))


def record_task_visuals(
    run: RunDirectory, model: Any, prepared: PreparedData, history: dict[str, list[float]], spec: Any, drawings: FigureWriter, evaluate: Callable[[Any, Any], dict[str, float]]
) -> dict[str, Any]:
    """Choose each label's threshold on the validation split (multi-label with ``threshold: auto``),
    measure the validation and test splits, write ``predictions.csv`` and the figures. Returns
    what to add to ``metrics.json``: ``total_params``, ``task``, and per split evaluated
    ``validation`` (Keras's metrics) and ``task_metrics`` (``{split: measures}``)."""
    record = read_task_record(run.record)
    additions: dict[str, Any] = {"total_params": int(model.count_params()), "task": record.task}
    drawings.draw(layout.CURVES, lambda path: figures.draw_curves(history, path, title=f"{spec.name}: training curves"))
    splits: list[TaskPredictions] = []
    source, batch_size = prepared.source, spec.data.batch_size  # the source's own targets: regression's in their original units
    if source.validation is not None:
        validation = predict_split(model, source.validation.batch(batch_size), record, "validation", split_files(prepared, "validation"))
        if record.task == "multi_label" and spec.task.threshold == "auto" and len(validation.true):
            record = record.with_thresholds(choose_thresholds(validation.true, validation.predicted), "validation")
            run.write_json(layout.TASK, record.as_dict())
        splits.append(validation)
        additions["validation"] = evaluate(model, prepared.validation)
        draw_task_figure(drawings, validation, record, spec.name)  # on the drawing thread: matplotlib is used by one thread at a time
    if source.test is not None:
        splits.append(predict_split(model, source.test.batch(batch_size), record, "test", split_files(prepared, "test")))
    if splits:
        additions["task_metrics"] = {predictions.split: task_measures(predictions, record) for predictions in splits}
        run.write_text(layout.PREDICTIONS, predictions_csv(splits, record))
    return additions
