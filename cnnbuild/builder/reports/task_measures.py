"""How well a multi-label or regression model did on a split: one prediction pass, then the
task's measures (NumPy and scikit-learn; the thresholds chosen here are stored with the run).

Multi-label: a threshold per label chosen on the validation split (the one with the best F1),
micro and macro F1, mean average precision, and each label's precision, recall, F1 and average
precision at its threshold. Regression: MAE, RMSE and R² of every target, in its original units.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cnnbuild.runs.task_record import TaskRecord


@dataclass
class TaskPredictions:
    """Every example of a split: its name, its true targets and the model's answer, in the original units.

    ``true`` and ``predicted`` are ``(N, labels or targets)``: for multi-label 0/1 and the
    probabilities, for regression the values."""

    split: str
    names: list[str]
    true: Any
    predicted: Any


def predict_split(model: Any, dataset: Any, record: TaskRecord, split: str, file_names: list[str] | None = None) -> TaskPredictions:
    """Predict every batch of ``dataset`` (batched ``(images, targets)`` as the data source gives
    them: regression targets in their original units) once; names are the split's files where they are known and complete."""
    import numpy as np

    trues, outputs = [], []
    for images, encoded in dataset.as_numpy_iterator():
        outputs.append(np.asarray(model.predict_on_batch(images), dtype="float64").reshape(len(images), -1))
        trues.append(np.asarray(encoded, dtype="float64").reshape(len(images), -1))
    width = len(record.names)
    true = np.concatenate(trues) if trues else np.zeros((0, width))
    output = np.concatenate(outputs) if outputs else np.zeros((0, width))
    predicted = record.probabilities(output) if record.task == "multi_label" else record.values(output)
    names = file_names if file_names is not None and len(file_names) == len(true) else [f"{split}[{i}]" for i in range(len(true))]
    return TaskPredictions(split, names, true, predicted)


def choose_thresholds(true: Any, probabilities: Any) -> list[float]:
    """Per label, the threshold with the best F1 on these examples (ties: the one nearest 0.5);
    0.5 for a label without positive examples here."""
    import numpy as np

    chosen = []
    for index in range(true.shape[1]):
        labels, scores = true[:, index] > 0.5, probabilities[:, index]
        if not labels.any():
            chosen.append(0.5)
            continue
        best, best_key = 0.5, None
        for threshold in np.unique(np.concatenate([scores, [0.5]])):
            predicted = scores >= threshold
            tp = float(np.sum(predicted & labels))
            f1 = 2 * tp / (predicted.sum() + labels.sum()) if (predicted.sum() + labels.sum()) else 0.0
            key = (round(f1, 12), -abs(threshold - 0.5))
            if best_key is None or key > best_key:
                best, best_key = float(threshold), key
        chosen.append(round(best, 6))
    return chosen


def multi_label_measures(predictions: TaskPredictions, record: TaskRecord) -> dict[str, Any]:
    """Micro and macro F1, mean average precision, exact-match ratio and the per-label table at ``record``'s thresholds."""
    import numpy as np
    from sklearn.metrics import average_precision_score, f1_score, precision_recall_fscore_support

    true = predictions.true > 0.5
    present = record.present(predictions.predicted)
    precision, recall, f1, support = precision_recall_fscore_support(true, present, average=None, zero_division=0)
    average_precision = [float(average_precision_score(true[:, i], predictions.predicted[:, i])) if true[:, i].any() else None for i in range(true.shape[1])]
    scored = [value for value in average_precision if value is not None]
    return {
        "examples": int(len(true)),
        "micro_f1": float(f1_score(true, present, average="micro", zero_division=0)),
        "macro_f1": float(f1_score(true, present, average="macro", zero_division=0)),
        "mean_average_precision": float(np.mean(scored)) if scored else None,
        "exact_match": float(np.mean(np.all(true == present, axis=1))) if len(true) else 0.0,
        "per_label": [
            {
                "label": name, "threshold": float(record.thresholds[i]), "precision": float(precision[i]), "recall": float(recall[i]),
                "f1": float(f1[i]), "average_precision": average_precision[i], "support": int(support[i]),
            }
            for i, name in enumerate(record.names)
        ],
    }  # fmt: skip


def regression_measures(predictions: TaskPredictions, record: TaskRecord) -> dict[str, Any]:
    """MAE, RMSE and R² per target (original units), and their means over the targets."""
    import numpy as np

    rows = []
    for index, name in enumerate(record.names):
        true, predicted = predictions.true[:, index], predictions.predicted[:, index]
        error = predicted - true
        spread = float(np.sum((true - true.mean()) ** 2)) if len(true) else 0.0
        rows.append({
            "target": name, "mae": float(np.mean(np.abs(error))) if len(true) else None, "rmse": float(np.sqrt(np.mean(error**2))) if len(true) else None,
            "r2": 1 - float(np.sum(error**2)) / spread if spread > 0 else None, "mean": float(true.mean()) if len(true) else None, "examples": int(len(true)),
        })  # fmt: skip

    def mean(key: str) -> float | None:
        values = [row[key] for row in rows if row[key] is not None]
        return float(np.mean(values)) if values else None

    return {"examples": int(len(predictions.true)), "mae": mean("mae"), "rmse": mean("rmse"), "r2": mean("r2"), "per_target": rows}


def task_measures(predictions: TaskPredictions, record: TaskRecord) -> dict[str, Any]:
    """The task's measures of one split."""
    return multi_label_measures(predictions, record) if record.task == "multi_label" else regression_measures(predictions, record)


def predictions_csv(splits: list[TaskPredictions], record: TaskRecord) -> str:
    """Every prediction as CSV. Multi-label: the true and predicted labels (``|`` between them) and
    each label's probability; regression: each target's true value, prediction and error."""
    import csv
    import io
    import os

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if record.task == "multi_label":
        writer.writerow(["split", "file", "true", "predicted", *(f"p_{name}" for name in record.names), "exact"])
    else:
        writer.writerow(["split", "file", *(f"{kind}_{name}" for name in record.names for kind in ("true", "predicted", "error"))])
    for predictions in splits:
        present = record.present(predictions.predicted) if record.task == "multi_label" else None
        for row, name in enumerate(predictions.names):
            shown = os.fsencode(name).decode("utf-8", "backslashreplace")
            if present is not None:
                truth = [label for i, label in enumerate(record.names) if predictions.true[row, i] > 0.5]
                said = [label for i, label in enumerate(record.names) if present[row, i]]
                writer.writerow([predictions.split, shown, "|".join(truth), "|".join(said), *(f"{p:.6f}" for p in predictions.predicted[row]), int(truth == said)])
            else:
                cells = []
                for i in range(len(record.names)):
                    true, predicted = predictions.true[row, i], predictions.predicted[row, i]
                    cells += [f"{true:.6g}", f"{predicted:.6g}", f"{predicted - true:.6g}"]
                writer.writerow([predictions.split, shown, *cells])
    return out.getvalue()


def format_task_table(measures: dict[str, Any]) -> str:
    """The per-label or per-target table as aligned text, with the summary line."""
    if "per_label" in measures:
        rows = measures["per_label"]
        width = max(len("label"), *(len(row["label"]) for row in rows))
        lines = [f"{'label':<{width}}  threshold  precision  recall     f1     AP  support"]
        for row in rows:
            ap = "     -" if row["average_precision"] is None else f"{row['average_precision']:>6.3f}"
            lines.append(f"{row['label']:<{width}}  {row['threshold']:>9.3f}  {row['precision']:>9.3f}  {row['recall']:>6.3f}  {row['f1']:>5.3f}  {ap}  {row['support']:>7d}")
        mean_ap = measures["mean_average_precision"]
        lines.append(f"micro F1 {measures['micro_f1']:.3f}, macro F1 {measures['macro_f1']:.3f}, mean AP {'-' if mean_ap is None else f'{mean_ap:.3f}'}, exact match {measures['exact_match']:.1%} ({measures['examples']} images)")
        return "\n".join(lines)
    rows = measures["per_target"]
    width = max(len("target"), *(len(row["target"]) for row in rows))
    lines = [f"{'target':<{width}}        MAE       RMSE      R²"]

    def number(value: float | None, digits: int = 4) -> str:
        return "-" if value is None else f"{value:.{digits}g}"

    for row in rows:
        lines.append(f"{row['target']:<{width}}  {number(row['mae']):>9}  {number(row['rmse']):>9}  {number(row['r2'], 3):>6}")
    lines.append(f"({measures['examples']} images)")
    return "\n".join(lines)
