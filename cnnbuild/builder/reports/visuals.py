"""The figures and validation tables every finished run gets in its run directory."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnnbuild.builder.reports import figures
from cnnbuild.builder.reports.drawing import FigureWriter
from cnnbuild.builder.reports.evaluation import ValidationReport, named_batches, predict_validation, predictions_csv
from cnnbuild.contracts.run_layout import CONFUSION_MATRIX, CURVES, MISCLASSIFIED, PREDICTIONS

if TYPE_CHECKING:
    from cnnbuild.builder.data.pipelines import PreparedData
    from cnnbuild.runs.directory import RunDirectory

log = logging.getLogger(__name__)


def mistake_titles(report: ValidationReport) -> list[str]:
    """``file name / true: a / predicted: b (87%)`` for each misclassified image shown."""
    names = report.class_names
    return [
        f"{_short(Path(m.name).name if '/' in m.name else m.name)}\ntrue: {names[m.true]}\npredicted: {names[m.predicted]} ({m.confidence:.0%})"
        for m in report.mistakes
    ]


def _short(text: str, limit: int = 24) -> str:
    return text if len(text) <= limit else text[: limit - 10] + "..." + text[-7:]


def draw_validation(drawings: FigureWriter, report: ValidationReport) -> None:
    """``confusion_matrix.png`` and ``misclassified.png`` from a validation report."""
    title = f"Confusion matrix, validation split ({report.examples} images, accuracy {report.accuracy:.1%})"
    drawings.draw(CONFUSION_MATRIX, lambda path: figures.draw_confusion_matrix(report.confusion, report.class_names, path, title=title))
    drawings.draw(MISCLASSIFIED, lambda path: misclassified_grid(report, path))


def misclassified_grid(report: ValidationReport, path: Path) -> list[str]:
    """The misclassified images of ``report``, most confident first, each titled with its file and classes."""
    wrong = report.examples - report.correct
    title = f"Misclassified images: {len(report.mistakes)} of {wrong}, most confident first" if wrong else "Misclassified images"
    return figures.draw_image_grid(
        [m.image for m in report.mistakes], mistake_titles(report), path, title=title, columns=4,
        empty_message=f"none: all {report.examples} images were classified correctly",
    )  # fmt: skip


def split_report(model: Any, prepared: PreparedData, params: Any, split: str) -> ValidationReport | None:
    """One prediction pass over a split: by file (each prediction names its file) for file-based
    sources, else over the split's pipeline (examples named ``split[i]``)."""
    dataset = prepared.validation if split == "validation" else prepared.test
    if dataset is None:
        return None
    files = prepared.source.files
    if files is not None and any(where == split for _, _, where in files):
        dataset = named_batches(files, split, params, params.batch_size)
    return predict_validation(model, dataset, prepared.labels, prepared.class_names, split=split)


def evaluate_split(model: Any, dataset: Any) -> dict[str, float]:
    """``model.evaluate(dataset)``'s metrics as floats."""
    return {key: float(value) for key, value in model.evaluate(dataset, verbose=0, return_dict=True).items()}


def record_run_visuals(
    run: RunDirectory,
    model: Any,
    prepared: PreparedData,
    history: dict[str, list[float]],
    spec: Any,
    drawings: FigureWriter,
    evaluate: Callable[[Any, Any], dict[str, float]] = evaluate_split,
) -> dict[str, Any]:
    """Draw the run's figures and evaluate the final model on the validation split (one
    prediction pass), and write every validation and test prediction to ``predictions.csv``.
    Returns what to add to ``metrics.json``: ``total_params``, and with a validation split
    ``validation`` (the final model's metrics), ``per_class`` and ``confusion_matrix``.
    Multi-label and regression runs get their own (:mod:`~cnnbuild.builder.reports.task_visuals`).
    The figures are drawn by ``drawings`` (in the background: the caller waits for them);
    ``evaluate(model, dataset)`` measures the final model (a trainer passes one that reuses the last
    validation pass when it measured the same weights)."""
    if prepared.labels.mode in ("multi_hot", "values"):
        from cnnbuild.builder.reports.task_visuals import record_task_visuals

        return record_task_visuals(run, model, prepared, history, spec, drawings, evaluate)
    if spec.task_row.name == "segmentation":
        from cnnbuild.builder.reports.segmentation_report import record_segmentation_visuals

        return record_segmentation_visuals(run, model, prepared, history, spec, drawings, evaluate)
    additions: dict[str, Any] = {"total_params": int(model.count_params())}
    drawings.draw(CURVES, lambda path: figures.draw_curves(history, path, title=f"{spec.name}: training curves"))
    reports = {split: report for split in ("validation", "test") if (report := split_report(model, prepared, spec.data, split)) is not None}
    if reports:
        run.write_text(PREDICTIONS, predictions_csv(reports))
    report = reports.get("validation")
    if report is None:
        return additions
    additions["validation"] = evaluate(model, prepared.validation)
    additions["per_class"] = report.per_class
    additions["confusion_matrix"] = report.confusion
    draw_validation(drawings, report)
    return additions
