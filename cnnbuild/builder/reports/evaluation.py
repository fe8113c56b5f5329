"""One pass of a trained model over the validation pipeline: confusion matrix, per-class table, worst mistakes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cnnbuild.spec.labels import Labels

#: How many misclassified images are kept (the most confident mistakes first).
KEEP_MISCLASSIFIED = 16


@dataclass
class Mistake:
    """A validation image the model got wrong."""

    image: Any  # float32 (height, width, channels), values 0..255
    true: int
    predicted: int
    confidence: float  # the probability the model gave its (wrong) prediction
    index: int  # position in the validation split


@dataclass
class ValidationReport:
    """What the model did on the validation split."""

    class_names: list[str]
    confusion: list[list[int]]  # rows: true class, columns: predicted class
    per_class: list[dict[str, Any]]
    examples: int
    correct: int
    mistakes: list[Mistake] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.correct / self.examples if self.examples else 0.0


def decode_labels(encoded: Any, labels: Labels) -> Any:
    """Int class indices from what the pipeline feeds the loss (0/1 floats, one-hot rows or ints)."""
    import numpy as np

    encoded = np.asarray(encoded)
    if labels.mode == "categorical":
        return encoded.argmax(axis=-1).astype("int64")
    return np.rint(encoded.reshape(-1)).astype("int64")


def per_class_table(true: Any, predicted: Any, class_names: list[str]) -> list[dict[str, Any]]:
    """Precision, recall, F1 and support of every class (0 where a class was never predicted)."""
    from sklearn.metrics import precision_recall_fscore_support

    indices = list(range(len(class_names)))
    precision, recall, f1, support = precision_recall_fscore_support(true, predicted, labels=indices, zero_division=0)
    return [
        {"class": name, "precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]), "support": int(support[i])}
        for i, name in enumerate(class_names)
    ]


def predict_validation(model: Any, dataset: Any, labels: Labels, class_names: list[str], *, keep: int = KEEP_MISCLASSIFIED) -> ValidationReport:
    """Predict every batch of ``dataset`` (batched ``(images, encoded labels)``) once.

    Returns the confusion matrix, the per-class table and up to ``keep`` misclassified images,
    the ones predicted with the highest confidence first.
    """
    import numpy as np
    from sklearn.metrics import confusion_matrix

    from cnnbuild.builder.model.outputs import output_probabilities

    trues: list[Any] = []
    predictions: list[Any] = []
    mistakes: list[Mistake] = []
    seen = 0
    for images, encoded in dataset.as_numpy_iterator():
        outputs = np.asarray(model.predict_on_batch(images), dtype="float64")
        probabilities = output_probabilities(outputs, labels)
        predicted = probabilities.argmax(axis=1)
        true = decode_labels(encoded, labels)
        trues.append(true)
        predictions.append(predicted)
        for row in np.flatnonzero(predicted != true):
            confidence = float(probabilities[row, predicted[row]])
            mistakes.append(Mistake(np.asarray(images[row], dtype="float32"), int(true[row]), int(predicted[row]), confidence, seen + int(row)))
        if len(mistakes) > keep:  # hold at most `keep` images in memory
            mistakes.sort(key=lambda m: (-m.confidence, m.index))
            del mistakes[keep:]
        seen += len(true)
    true_all = np.concatenate(trues) if trues else np.zeros(0, dtype="int64")
    predicted_all = np.concatenate(predictions) if predictions else np.zeros(0, dtype="int64")
    mistakes.sort(key=lambda m: (-m.confidence, m.index))
    matrix = confusion_matrix(true_all, predicted_all, labels=list(range(len(class_names))))
    return ValidationReport(
        class_names=list(class_names),
        confusion=matrix.astype(int).tolist(),
        per_class=per_class_table(true_all, predicted_all, class_names),
        examples=int(len(true_all)),
        correct=int((true_all == predicted_all).sum()),
        mistakes=mistakes[:keep],
    )


def format_class_table(rows: list[dict[str, Any]]) -> str:
    """The per-class table as aligned text, with a macro-average line."""
    if not rows:
        return ""
    width = max(len("class"), *(len(str(row["class"])) for row in rows), len("macro avg"))
    lines = [f"{'class':<{width}}  precision  recall     f1  support"]
    for row in rows:
        lines.append(f"{row['class']:<{width}}  {row['precision']:>9.3f}  {row['recall']:>6.3f}  {row['f1']:>5.3f}  {row['support']:>7d}")
    total = sum(row["support"] for row in rows)
    macro = {key: sum(row[key] for row in rows) / len(rows) for key in ("precision", "recall", "f1")}
    lines.append(f"{'macro avg':<{width}}  {macro['precision']:>9.3f}  {macro['recall']:>6.3f}  {macro['f1']:>5.3f}  {total:>7d}")
    return "\n".join(lines)
