"""One prediction pass over a validation pipeline: confusion matrix, per-class table, mistakes."""

from __future__ import annotations

import numpy as np
import pytest

from cnnbuild.builder.reports.evaluation import decode_labels, format_class_table, per_class_table, predict_validation
from cnnbuild.spec.labels import Labels


class FixedModel:
    """Returns preset outputs, batch after batch, and counts its calls."""

    def __init__(self, outputs: np.ndarray) -> None:
        self.outputs = outputs
        self.position = 0
        self.calls = 0

    def predict_on_batch(self, images):
        self.calls += 1
        batch = self.outputs[self.position : self.position + len(images)]
        self.position += len(images)
        return batch


def pipeline(images: np.ndarray, encoded: np.ndarray, batch_size: int):
    from cnnbuild.builder.runtime import import_tensorflow

    tf = import_tensorflow()
    return tf.data.Dataset.from_tensor_slices((images, encoded)).batch(batch_size)


def test_int_labels_confusion_matrix_table_and_most_confident_mistakes_first():
    true = np.array([0, 0, 0, 1, 1, 2, 2, 2])
    # image i is filled with the value i, so the mistakes kept can be told apart
    images = np.stack([np.full((4, 4, 1), i, dtype="float32") for i in range(8)])
    logits = np.full((8, 3), -5.0)
    predicted = [0, 0, 1, 1, 2, 2, 2, 0]
    for row, column in enumerate(predicted):
        logits[row, column] = 5.0
    logits[2] = [0.5, 1.0, -5.0]  # a weakly confident mistake (0 -> 1)
    model = FixedModel(logits)
    report = predict_validation(model, pipeline(images, true.astype("int32"), 3), Labels("int", 3, True), ["a", "b", "c"], keep=2)
    assert model.calls == 3  # one pass, batch by batch
    assert report.confusion == [[2, 1, 0], [0, 1, 1], [1, 0, 2]]
    assert report.examples == 8 and report.correct == 5
    assert report.accuracy == pytest.approx(5 / 8)
    rows = {row["class"]: row for row in report.per_class}
    assert rows["a"] == pytest.approx({"class": "a", "precision": 2 / 3, "recall": 2 / 3, "f1": 2 / 3, "support": 3})
    assert rows["b"]["precision"] == pytest.approx(0.5) and rows["b"]["recall"] == pytest.approx(0.5)
    assert rows["c"]["support"] == 3 and rows["c"]["recall"] == pytest.approx(2 / 3)
    # three mistakes (rows 2, 4, 7); keep=2 holds the two most confident: 4 and 7, never 2
    assert [(m.index, m.true, m.predicted) for m in report.mistakes] == [(4, 1, 2), (7, 2, 0)]
    assert report.mistakes[0].confidence > 0.99
    assert float(report.mistakes[0].image[0, 0, 0]) == 4.0


def test_binary_logits_and_categorical_probabilities():
    images = np.zeros((4, 2, 2, 3), dtype="float32")
    binary_true = np.array([[0.0], [1.0], [1.0], [0.0]], dtype="float32")
    logits = np.array([[-3.0], [2.0], [-1.0], [4.0]])  # rows 2 and 3 are wrong
    report = predict_validation(FixedModel(logits), pipeline(images, binary_true, 4), Labels("binary", 2, True), ["cat", "dog"])
    assert report.confusion == [[1, 1], [1, 1]]
    assert [(m.true, m.predicted) for m in report.mistakes] == [(0, 1), (1, 0)]
    assert report.mistakes[0].confidence == pytest.approx(1 / (1 + np.exp(-4.0)))

    one_hot = np.eye(3, dtype="float32")[[2, 1, 0, 2]]
    probabilities = np.eye(3)[[2, 1, 1, 2]] * 0.9 + 0.1 / 3
    report = predict_validation(FixedModel(probabilities), pipeline(images, one_hot, 2), Labels("categorical", 3, False), ["x", "y", "z"])
    assert report.confusion == [[0, 1, 0], [0, 1, 0], [0, 0, 2]]


def test_decode_labels_per_mode():
    assert decode_labels(np.array([[0.0], [1.0]]), Labels("binary", 2, True)).tolist() == [0, 1]
    assert decode_labels(np.eye(4)[[3, 0]], Labels("categorical", 4, True)).tolist() == [3, 0]
    assert decode_labels(np.array([2, 1]), Labels("int", 3, True)).tolist() == [2, 1]


def test_class_table_text_has_every_class_and_a_macro_average():
    rows = per_class_table(np.array([0, 1, 1]), np.array([0, 1, 0]), ["daisy", "sunflowers", "never_seen"])
    text = format_class_table(rows)
    lines = text.splitlines()
    assert lines[0].split() == ["class", "precision", "recall", "f1", "support"]
    assert lines[1].split() == ["daisy", "0.500", "1.000", "0.667", "1"]
    assert lines[2].split() == ["sunflowers", "1.000", "0.500", "0.667", "2"]
    assert lines[3].split() == ["never_seen", "0.000", "0.000", "0.000", "0"]
    assert lines[4].split() == ["macro", "avg", "0.500", "0.500", "0.444", "3"]


def test_class_table_and_confusion_are_scikit_learns_to_the_last_bit():
    """The report counts with NumPy (scikit-learn costs a second to import); its figures are the ones
    ``precision_recall_fscore_support(zero_division=0)`` and ``confusion_matrix(labels=...)`` give,
    with classes never predicted, never present, and labels outside the classes."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    from cnnbuild.builder.reports.evaluation import confusion_counts

    generator = np.random.default_rng(7)
    for classes, size in ((2, 1), (3, 40), (7, 500), (12, 33)):
        true = generator.integers(0, classes, size)
        predicted = generator.integers(0, max(classes - 2, 1), size)  # the last classes never predicted
        true[:3] = classes - 1 if size > 3 else true[:3]
        names = [f"c{i}" for i in range(classes + 1)]  # one more class than the data has: no examples at all
        rows = per_class_table(true, predicted, names)
        precision, recall, f1, support = precision_recall_fscore_support(true, predicted, labels=list(range(len(names))), zero_division=0)
        assert [row["precision"] for row in rows] == precision.tolist()
        assert [row["recall"] for row in rows] == recall.tolist()
        assert [row["f1"] for row in rows] == f1.tolist()
        assert [row["support"] for row in rows] == support.tolist()
        outside = np.concatenate([true, [classes + 5, -1]]), np.concatenate([predicted, [0, 1]])
        assert confusion_counts(*outside, len(names)).tolist() == confusion_matrix(*outside, labels=list(range(len(names)))).tolist()
    # a true label outside the classes still counts its prediction against the predicted class
    true, predicted = np.array([0, 1, 2, 3, 3, 1]), np.array([0, 1, 1, 0, 1, 1])
    rows = per_class_table(true, predicted, ["a", "b", "c"])
    expected = precision_recall_fscore_support(true, predicted, labels=[0, 1, 2], zero_division=0)
    assert [[row[key] for row in rows] for key in ("precision", "recall", "f1", "support")] == [list(values) for values in expected]
