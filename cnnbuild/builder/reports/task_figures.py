"""The figures of multi-label and regression runs: a precision-recall curve per label (with the
chosen threshold marked), and predicted against true values with the residuals, per target."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from cnnbuild.builder.reports.figures import _figure, _save

if TYPE_CHECKING:
    from cnnbuild.builder.reports.task_measures import TaskPredictions
    from cnnbuild.runs.task_record import TaskRecord


def draw_pr_curves(predictions: TaskPredictions, record: TaskRecord, path: Path, *, title: str) -> list[str]:
    """One panel per label: precision against recall over every threshold, the chosen one marked."""
    import numpy as np
    from sklearn.metrics import precision_recall_curve

    count = len(record.names)
    columns = min(count, 4)
    rows = math.ceil(count / columns)
    figure = _figure(3.2 * columns, 3.0 * rows + 0.5)
    figure.suptitle(title, parse_math=False)
    for index, name in enumerate(record.names):
        axes = figure.add_subplot(rows, columns, index + 1)
        true = predictions.true[:, index] > 0.5
        threshold = record.thresholds[index]
        if true.any() and not true.all():
            precision, recall, thresholds = precision_recall_curve(true, predictions.predicted[:, index])
            axes.plot(recall, precision, color="#08306b")
            at = int(np.searchsorted(thresholds, threshold)) if len(thresholds) else 0
            at = min(at, len(precision) - 1)
            axes.plot([recall[at]], [precision[at]], "o", color="#e6850e", label=f"threshold {threshold:.2f}")
            axes.legend(loc="lower left", fontsize="small")
        else:
            axes.text(0.5, 0.5, "every image has it" if true.all() else "no image has it", ha="center", va="center", parse_math=False)
        axes.set_title(f"{name} ({int(true.sum())} of {len(true)})", parse_math=False)
        axes.set_xlabel("recall")
        axes.set_ylabel("precision")
        axes.set_xlim(0, 1.02)
        axes.set_ylim(0, 1.02)
    return _save(figure, path, title)


def draw_predicted_vs_true(predictions: TaskPredictions, record: TaskRecord, path: Path, *, title: str) -> list[str]:
    """Per target, two panels: predicted against true (the diagonal is perfect), and the residuals against true."""
    count = len(record.names)
    figure = _figure(7.0, 3.2 * count + 0.5)
    figure.suptitle(title, parse_math=False)
    for index, name in enumerate(record.names):
        true, predicted = predictions.true[:, index], predictions.predicted[:, index]
        scatter = figure.add_subplot(count, 2, 2 * index + 1)
        scatter.scatter(true, predicted, s=8, alpha=0.6, color="#08306b")
        if len(true):
            low, high = float(min(true.min(), predicted.min())), float(max(true.max(), predicted.max()))
            scatter.plot([low, high], [low, high], "--", color="#e6850e")
        scatter.set_title(f"{name}: predicted against true", parse_math=False)
        scatter.set_xlabel("true")
        scatter.set_ylabel("predicted")
        residuals = figure.add_subplot(count, 2, 2 * index + 2)
        residuals.scatter(true, predicted - true, s=8, alpha=0.6, color="#08306b")
        residuals.axhline(0, linestyle="--", color="#e6850e")
        residuals.set_title(f"{name}: residuals", parse_math=False)
        residuals.set_xlabel("true")
        residuals.set_ylabel("predicted - true")
    return _save(figure, path, title)
