"""One pass of a trained model over the validation pipeline: confusion matrix, per-class table, worst mistakes."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
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
    name: str = ""  # the file (or "validation[i]" for examples without one)


@dataclass(frozen=True)
class Prediction:
    """What the model said about one example."""

    name: str
    true: int
    predicted: int
    confidence: float


@dataclass
class ValidationReport:
    """What the model did on the validation split."""

    class_names: list[str]
    confusion: list[list[int]]  # rows: true class, columns: predicted class
    per_class: list[dict[str, Any]]
    examples: int
    correct: int
    mistakes: list[Mistake] = field(default_factory=list)
    predictions: list[Prediction] = field(default_factory=list)

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
    """Precision, recall, F1 and support of every class (0 where a class was never predicted or
    has no examples), as scikit-learn's ``precision_recall_fscore_support(labels=range(n),
    zero_division=0)`` gives them: a prediction counts against its class whatever the true label,
    and an example counts in its class's support whatever was predicted."""
    n = len(class_names)
    true, predicted = _indices(true), _indices(predicted)
    hits, supports, predictions = _counts(true[true == predicted], n), _counts(true, n), _counts(predicted, n)
    rows = []
    for i, name in enumerate(class_names):
        tp, support, predicted_as = int(hits[i]), int(supports[i]), int(predictions[i])
        rows.append(
            {
                "class": name,
                "precision": tp / predicted_as if predicted_as else 0.0,
                "recall": tp / support if support else 0.0,
                "f1": 2 * tp / (support + predicted_as) if tp else 0.0,
                "support": support,
            }
        )
    return rows


def confusion_counts(true: Any, predicted: Any, num_classes: int) -> Any:
    """``(classes, classes)`` int64 counts, rows the true class and columns the predicted one;
    pairs with an index outside ``0..num_classes-1`` are not counted (scikit-learn's ``confusion_matrix(labels=...)``)."""
    true, predicted = _indices(true), _indices(predicted)
    counted = (true >= 0) & (true < num_classes) & (predicted >= 0) & (predicted < num_classes)
    return _counts(true[counted] * num_classes + predicted[counted], num_classes * num_classes).reshape(num_classes, num_classes)


def _indices(values: Any) -> Any:
    import numpy as np

    return np.asarray(values, dtype="int64").reshape(-1)


def _counts(indices: Any, size: int) -> Any:
    """How often each of ``0..size-1`` occurs in ``indices`` (others are not counted)."""
    import numpy as np

    return np.bincount(indices[(indices >= 0) & (indices < size)], minlength=size)


class ReportBuilder:
    """A :class:`ValidationReport` built batch by batch from images, true classes and class
    probabilities (keeping at most ``keep`` misclassified images, the most confident first)."""

    def __init__(self, class_names: list[str], keep: int = KEEP_MISCLASSIFIED) -> None:
        self.class_names = list(class_names)
        self.keep = keep
        self.trues: list[Any] = []
        self.predictions: list[Any] = []
        self.mistakes: list[Mistake] = []
        self.rows: list[Prediction] = []
        self.seen = 0

    def add(self, images: Any, true: Any, probabilities: Any, names: list[str]) -> None:
        """One batch: ``true`` class indices and ``probabilities`` ``(N, classes)`` of its ``images``, named by ``names``."""
        import numpy as np

        predicted = probabilities.argmax(axis=1)
        self.trues.append(true)
        self.predictions.append(predicted)
        self.rows += [Prediction(names[row], int(true[row]), int(predicted[row]), float(probabilities[row, predicted[row]])) for row in range(len(true))]
        for row in np.flatnonzero(predicted != true):
            confidence = float(probabilities[row, predicted[row]])
            self.mistakes.append(Mistake(np.asarray(images[row], dtype="float32"), int(true[row]), int(predicted[row]), confidence, self.seen + int(row), names[row]))
        if len(self.mistakes) > self.keep:  # hold at most `keep` images in memory
            self.mistakes.sort(key=lambda m: (-m.confidence, m.index))
            del self.mistakes[self.keep :]
        self.seen += len(true)

    def report(self) -> ValidationReport:
        import numpy as np

        true_all = np.concatenate(self.trues) if self.trues else np.zeros(0, dtype="int64")
        predicted_all = np.concatenate(self.predictions) if self.predictions else np.zeros(0, dtype="int64")
        self.mistakes.sort(key=lambda m: (-m.confidence, m.index))
        matrix = confusion_counts(true_all, predicted_all, len(self.class_names))
        return ValidationReport(
            class_names=list(self.class_names),
            confusion=matrix.astype(int).tolist(),
            per_class=per_class_table(true_all, predicted_all, self.class_names),
            examples=int(len(true_all)),
            correct=int((true_all == predicted_all).sum()),
            mistakes=self.mistakes[: self.keep],
            predictions=self.rows,
        )


def predict_validation(model: Any, dataset: Any, labels: Labels, class_names: list[str], *, keep: int = KEEP_MISCLASSIFIED, split: str = "validation") -> ValidationReport:
    """Predict every batch of ``dataset`` once: batched ``(images, encoded labels)`` as the training
    pipeline feeds them, or ``(images, class indices, names)`` as :func:`named_batches` gives them.

    Returns the confusion matrix, the per-class table, every example's prediction and up to
    ``keep`` misclassified images, the ones predicted with the highest confidence first.
    """
    import numpy as np

    from cnnbuild.builder.model.outputs import output_probabilities

    builder = ReportBuilder(class_names, keep)
    for batch in dataset.as_numpy_iterator():
        true = np.asarray(batch[1]).astype("int64").reshape(-1) if len(batch) == 3 else decode_labels(batch[1], labels)
        names = [_text(name) for name in batch[2]] if len(batch) == 3 else [f"{split}[{builder.seen + row}]" for row in range(len(true))]
        outputs = np.asarray(model.predict_on_batch(batch[0]), dtype="float64")
        builder.add(batch[0], true, output_probabilities(outputs, labels), names)
    return builder.report()


def _text(name: Any) -> str:
    import os

    return os.fsdecode(name) if isinstance(name, bytes) else str(name)


def named_batches(files: list[tuple[str, int, str]], split: str, params: Any, batch_size: int) -> Any:
    """The ``split`` examples of a file-based source, decoded as training decodes them, batched as
    ``(images, class indices, file paths)``: each prediction keeps its file, even when a file
    that changed since the check is left out."""
    import os

    from cnnbuild.builder.runtime import import_tensorflow
    from cnnbuild.data.decode import decode_files
    from cnnbuild.data.graph_map import graph_map
    from cnnbuild.data.image_files import ImageFile, inspect_images
    from cnnbuild.data.scan_index import ScanIndex

    tf = import_tensorflow()
    chosen = [(path, label) for path, label, where in files if where == split]
    verdicts = inspect_images([Path(path) for path, _ in chosen], index=ScanIndex.default())  # the scan index answers for files unchanged since the run's check
    usable = [ImageFile(path, position, verdict.native, verdict.size) for position, ((path, _), verdict) in enumerate(zip(chosen, verdicts, strict=True)) if not verdict.reason]
    labels = tf.constant([label for _, label in chosen] or [0], dtype=tf.int64)
    names = tf.constant([os.fsencode(path) for path, _ in chosen] or [b""])
    return graph_map(decode_files(usable, params), lambda image, position: (image, tf.gather(labels, position), tf.gather(names, position))).batch(batch_size)


def predictions_csv(reports: dict[str, ValidationReport]) -> str:
    """Every prediction of every split as CSV: split, file, true class, predicted class, confidence, correct."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["split", "file", "true", "predicted", "confidence", "correct"])
    for split, report in reports.items():
        names = report.class_names
        for row in report.predictions:
            # a name that is not valid UTF-8 (its bytes kept as surrogates) is written with its odd bytes as \xNN
            name = os.fsencode(row.name).decode("utf-8", "backslashreplace")
            writer.writerow([split, name, names[row.true], names[row.predicted], f"{row.confidence:.6f}", int(row.true == row.predicted)])
    return out.getvalue()


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
