"""The loss and metrics of ``task: segmentation``, as Keras objects a saved model names (registered
under the package ``cnnbuild``): cross-entropy per pixel with an optional Dice term, and the
measures of a pixel confusion matrix (mean and per-class IoU, Dice, pixel accuracy).

Masks are int ``(batch, height, width)`` of class indices; pixels equal to ``ignore_index`` count
nowhere. The model outputs ``(batch, height, width, classes)`` (softmax or logits) or, for two
classes with a sigmoid, ``(batch, height, width, 1)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import keras
from keras import ops

if TYPE_CHECKING:
    from cnnbuild.spec.document import Spec
    from cnnbuild.spec.labels import Labels

#: the measures a :class:`ConfusionMeasure` can report
MEASURES = ("mean_iou", "iou", "dice", "pixel_accuracy")


def _valid_and_indices(y_true: Any, num_classes: int, ignore_index: int | None) -> tuple[Any, Any]:
    """``(valid pixels as float32, class indices with the ignored pixels set to 0)``."""
    y_true = ops.cast(y_true, "int32")
    if len(y_true.shape) == 4:  # (batch, height, width, 1)
        y_true = ops.squeeze(y_true, -1)
    valid = ops.logical_and(y_true >= 0, y_true < num_classes)
    if ignore_index is not None:
        valid = ops.logical_and(valid, y_true != ignore_index)
    return ops.cast(valid, "float32"), ops.where(valid, y_true, ops.zeros_like(y_true))


def _probabilities(y_pred: Any, binary: bool, from_logits: bool) -> Any:
    """``(batch, height, width, classes)`` probabilities (two channels for a sigmoid output)."""
    y_pred = ops.cast(y_pred, "float32")
    if binary:
        positive = ops.sigmoid(y_pred) if from_logits else y_pred
        return ops.concatenate([1.0 - positive, positive], axis=-1)
    return ops.softmax(y_pred, axis=-1) if from_logits else y_pred


@keras.saving.register_keras_serializable(package="cnnbuild")
class SegmentationLoss(keras.losses.Loss):
    """Cross-entropy per pixel averaged over the valid pixels of each image, plus ``dice_weight``
    times (1 - the mean Dice over classes) when ``dice_weight`` is above 0."""

    def __init__(
        self, num_classes: int, *, binary: bool = False, from_logits: bool = False, ignore_index: int | None = None, dice_weight: float = 0.0, class_weights: list[float] | None = None,
        name: str = "segmentation_loss", **kwargs: Any,
    ) -> None:  # fmt: skip
        super().__init__(name=name, **kwargs)
        self.num_classes, self.binary, self.from_logits = num_classes, binary, from_logits
        self.ignore_index, self.dice_weight = ignore_index, dice_weight
        self.class_weights = [float(w) for w in class_weights] if class_weights else None

    def call(self, y_true: Any, y_pred: Any) -> Any:
        valid, indices = _valid_and_indices(y_true, self.num_classes, self.ignore_index)
        if self.binary:
            target = ops.expand_dims(ops.cast(indices, "float32"), -1)
            per_pixel = ops.squeeze(keras.losses.binary_crossentropy(target[..., None], ops.cast(y_pred, "float32")[..., None], from_logits=self.from_logits), -1)
        else:
            per_pixel = keras.losses.sparse_categorical_crossentropy(indices, ops.cast(y_pred, "float32"), from_logits=self.from_logits)
        per_pixel = ops.reshape(per_pixel, ops.shape(valid))
        if self.class_weights:  # each pixel weighted by its true class's weight
            per_pixel = per_pixel * ops.take(ops.convert_to_tensor(self.class_weights, "float32"), indices)
        counted = ops.maximum(ops.sum(valid, axis=(1, 2)), 1.0)
        loss = ops.sum(per_pixel * valid, axis=(1, 2)) / counted
        if self.dice_weight > 0:
            probabilities = _probabilities(y_pred, self.binary, self.from_logits) * valid[..., None]
            truth = ops.one_hot(indices, self.num_classes) * valid[..., None]
            overlap = ops.sum(probabilities * truth, axis=(1, 2))
            total = ops.sum(probabilities, axis=(1, 2)) + ops.sum(truth, axis=(1, 2))
            dice = (2.0 * overlap + 1.0) / (total + 1.0)  # +1: a class absent from both counts as matched
            loss = loss + self.dice_weight * (1.0 - ops.mean(dice, axis=-1))
        return loss

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(), "num_classes": self.num_classes, "binary": self.binary, "from_logits": self.from_logits,
            "ignore_index": self.ignore_index, "dice_weight": self.dice_weight, "class_weights": self.class_weights,
        }  # fmt: skip


@keras.saving.register_keras_serializable(package="cnnbuild")
class ConfusionMeasure(keras.metrics.Metric):
    """A measure of the pixel confusion matrix accumulated over an epoch: ``mean_iou`` (over the
    classes present in the truth or the prediction), ``iou`` of class ``class_id``, ``dice``
    (mean over the same classes) or ``pixel_accuracy``."""

    def __init__(
        self, num_classes: int, measure: str, *, class_id: int | None = None, binary: bool = False, from_logits: bool = False,
        ignore_index: int | None = None, name: str | None = None, **kwargs: Any,
    ) -> None:  # fmt: skip
        super().__init__(name=name or measure, **kwargs)
        self.num_classes, self.measure, self.class_id = num_classes, measure, class_id
        self.binary, self.from_logits, self.ignore_index = binary, from_logits, ignore_index
        self.matrix = self.add_variable(shape=(num_classes, num_classes), initializer="zeros", dtype="float32", name="confusion")

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        valid, indices = _valid_and_indices(y_true, self.num_classes, self.ignore_index)
        y_pred = ops.cast(y_pred, "float32")
        if self.binary:
            predicted = ops.cast(y_pred[..., 0] > (0.0 if self.from_logits else 0.5), "int32")
        else:
            predicted = ops.cast(ops.argmax(y_pred, axis=-1), "int32")
        pairs = ops.reshape(indices * self.num_classes + ops.reshape(predicted, ops.shape(indices)), (-1,))
        counts = ops.bincount(pairs, weights=ops.reshape(valid, (-1,)), minlength=self.num_classes * self.num_classes)
        self.matrix.assign_add(ops.reshape(ops.cast(counts, "float32")[: self.num_classes * self.num_classes], (self.num_classes, self.num_classes)))

    def result(self) -> Any:
        matrix = self.matrix  # rows: true class, columns: predicted class
        hits = ops.diagonal(matrix)
        true_totals, predicted_totals = ops.sum(matrix, axis=1), ops.sum(matrix, axis=0)
        union = true_totals + predicted_totals - hits
        if self.measure == "pixel_accuracy":
            return ops.divide_no_nan(ops.sum(hits), ops.sum(matrix))
        if self.measure == "iou":
            return ops.divide_no_nan(hits[self.class_id], union[self.class_id])
        present = ops.cast(union > 0, "float32")
        per_class = ops.divide_no_nan(hits, union) if self.measure == "mean_iou" else ops.divide_no_nan(2.0 * hits, true_totals + predicted_totals)
        return ops.divide_no_nan(ops.sum(per_class * present), ops.sum(present))

    def reset_state(self) -> None:
        self.matrix.assign(ops.zeros((self.num_classes, self.num_classes), "float32"))

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(), "num_classes": self.num_classes, "measure": self.measure, "class_id": self.class_id,
            "binary": self.binary, "from_logits": self.from_logits, "ignore_index": self.ignore_index,
        }  # fmt: skip


def metric_name(class_name: str) -> str:
    """The history key of a class's IoU: ``iou_<name>`` with characters other than letters, digits and ``_`` as ``_``."""
    return "iou_" + "".join(c if c.isascii() and (c.isalnum() or c == "_") else "_" for c in class_name)


def segmentation_loss(spec: Spec, labels: Labels) -> SegmentationLoss:
    """The loss of ``compile.loss``: cross-entropy per pixel (``auto``), plus Dice for ``dice_crossentropy``."""
    task = spec.task
    dice = float(getattr(task, "dice_weight", 1.0)) if spec.compile.loss.type == "dice_crossentropy" else 0.0
    return SegmentationLoss(
        labels.num_classes, binary=labels.mode == "binary_mask", from_logits=labels.from_logits, ignore_index=getattr(task, "ignore_index", None), dice_weight=dice,
        class_weights=list(labels.pixel_weights) or None,
    )  # fmt: skip


def _class_names(spec: Spec, count: int) -> list[str]:
    from cnnbuild.errors import CnnbuildError
    from cnnbuild.spec.labels import known_class_names

    try:
        names = known_class_names(spec, spec.registry)
    except CnnbuildError:
        names = None
    return names if names is not None and len(names) == count else [str(index) for index in range(count)]


def segmentation_metrics(spec: Spec, labels: Labels) -> list[ConfusionMeasure]:
    """The metrics of ``compile.metrics``; ``per_class_iou`` is one ``iou_<class>`` metric per class."""
    class_names = _class_names(spec, labels.num_classes)
    options = {"binary": labels.mode == "binary_mask", "from_logits": labels.from_logits, "ignore_index": getattr(spec.task, "ignore_index", None)}
    metrics: list[ConfusionMeasure] = []
    for name in spec.compile.metrics:
        if name == "per_class_iou":
            metrics += [ConfusionMeasure(labels.num_classes, "iou", class_id=index, name=metric_name(class_name), **options) for index, class_name in enumerate(class_names)]
        else:
            metrics.append(ConfusionMeasure(labels.num_classes, name, **options))
    return metrics
