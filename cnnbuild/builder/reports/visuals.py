"""The figures and validation tables every finished run gets in its run directory."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnnbuild.builder.reports import figures
from cnnbuild.builder.reports.evaluation import ValidationReport, predict_validation
from cnnbuild.contracts.run_layout import CONFUSION_MATRIX, CURVES, MISCLASSIFIED

if TYPE_CHECKING:
    from cnnbuild.builder.data.pipelines import PreparedData
    from cnnbuild.runs.directory import RunDirectory

log = logging.getLogger(__name__)


def _draw(run: RunDirectory, name: str, draw: Callable[[Path], list[str]]) -> None:
    # A figure that fails to draw must not cost the user a finished training run.
    try:
        run.write_bytes_with(name, draw)
    except Exception as exc:
        log.warning("warning: could not draw %s: %s: %s", name, type(exc).__name__, exc)


def mistake_titles(report: ValidationReport) -> list[str]:
    """``true: a / predicted: b (87%)`` for each misclassified image shown."""
    names = report.class_names
    return [f"true: {names[m.true]}\npredicted: {names[m.predicted]} ({m.confidence:.0%})" for m in report.mistakes]


def draw_validation(run: RunDirectory, report: ValidationReport) -> None:
    """``confusion_matrix.png`` and ``misclassified.png`` from a validation report."""
    title = f"Confusion matrix, validation split ({report.examples} images, accuracy {report.accuracy:.1%})"
    _draw(run, CONFUSION_MATRIX, lambda path: figures.draw_confusion_matrix(report.confusion, report.class_names, path, title=title))
    wrong = report.examples - report.correct
    shown = len(report.mistakes)
    grid_title = f"Misclassified validation images: {shown} of {wrong}, most confident first" if wrong else "Misclassified validation images"
    _draw(
        run,
        MISCLASSIFIED,
        lambda path: figures.draw_image_grid(
            [m.image for m in report.mistakes], mistake_titles(report), path, title=grid_title, columns=4,
            empty_message=f"none: all {report.examples} validation images were classified correctly",
        ),
    )  # fmt: skip


def record_run_visuals(run: RunDirectory, model: Any, prepared: PreparedData, history: dict[str, list[float]], name: str) -> dict[str, Any]:
    """Draw the run's figures and evaluate the final model on the validation split (one
    prediction pass). Returns what to add to ``metrics.json``: ``total_params``, and with a
    validation split ``validation`` (the final model's metrics), ``per_class`` and ``confusion_matrix``."""
    additions: dict[str, Any] = {"total_params": int(model.count_params())}
    _draw(run, CURVES, lambda path: figures.draw_curves(history, path, title=f"{name}: training curves"))
    if prepared.validation is None:
        return additions
    evaluated = model.evaluate(prepared.validation, verbose=0, return_dict=True)
    additions["validation"] = {key: float(value) for key, value in evaluated.items()}
    report = predict_validation(model, prepared.validation, prepared.labels, prepared.class_names)
    additions["per_class"] = report.per_class
    additions["confusion_matrix"] = report.confusion
    draw_validation(run, report)
    return additions
