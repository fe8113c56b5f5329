"""The tasks a spec can state (``task:``), one row each: what the model's output is, which
activation and loss fit it, which ``compile.metrics`` make sense, and how the data source's
labels are read. Every rule that depends on the task reads this table; adding a task is a row
(and the modules that train, measure and predict it).

No TensorFlow here: the spec's checks and the plugin API read it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Task:
    """One kind of prediction a model makes of an image."""

    name: str
    #: what the model predicts, in a few words (messages and docs)
    predicts: str
    #: what ``units: auto`` on the output layer becomes
    units: str
    #: activations of the output layer that fit (None: no activation, i.e. logits or plain values)
    activations: tuple[str | None, ...]
    #: the activation the checks suggest
    suggested_activation: str
    #: what ``loss: auto`` becomes (a ``compile.loss.type``)
    default_loss: str
    #: ``compile.loss.type`` values that fit, besides ``auto``
    losses: tuple[str, ...]
    #: ``compile.metrics`` that make sense for the task; the first ones are the default
    metrics: tuple[str, ...]
    default_metrics: tuple[str, ...]
    #: what the data source delivers as each example's label
    targets: str
    #: whether ``train.class_weight`` applies (multi-label has ``task.positive_weight`` instead)
    class_weight: bool
    #: whether the model answers per pixel (a mask of class indices) rather than one row per image:
    #: what exports, ``predict`` and ``serve`` give back
    per_pixel: bool = False


SINGLE_LABEL = Task(
    name="single_label",
    predicts="one class per image",
    units="the number of classes (1 for binary labels)",
    activations=("softmax", "sigmoid", None, "linear"),
    suggested_activation="softmax",
    default_loss="auto",  # sparse, categorical or binary cross-entropy, from the labels (spec/labels.py)
    losses=("sparse_categorical_crossentropy", "categorical_crossentropy", "binary_crossentropy"),
    metrics=("accuracy", "auc", "precision", "recall", "top_3_accuracy", "top_5_accuracy"),
    default_metrics=("accuracy",),
    targets="an int class index into class_names",
    class_weight=True,
)
MULTI_LABEL = Task(
    name="multi_label",
    predicts="any number of labels per image (each present or not)",
    units="the number of labels",
    activations=("sigmoid", None, "linear"),
    suggested_activation="sigmoid",
    default_loss="binary_crossentropy",
    losses=("binary_crossentropy",),
    metrics=("accuracy", "auc", "precision", "recall", "f1_micro", "f1_macro", "average_precision"),
    default_metrics=("f1_micro", "f1_macro", "average_precision"),
    targets="a float32 vector of 0/1, one entry per label of class_names",
    class_weight=False,
)
REGRESSION = Task(
    name="regression",
    predicts="one or more numbers per image",
    units="the number of targets",
    activations=(None, "linear"),
    suggested_activation="linear",
    default_loss="mean_squared_error",
    losses=("mean_squared_error", "mean_absolute_error", "huber"),
    metrics=("mae", "rmse"),
    default_metrics=("mae", "rmse"),
    targets="a float32 vector, one value per target of class_names (the target names)",
    class_weight=False,
)

SEGMENTATION = Task(
    name="segmentation",
    predicts="one class per pixel",
    units="the number of classes (1 for two classes with sigmoid)",
    activations=("softmax", "sigmoid", None, "linear"),
    suggested_activation="softmax",
    default_loss="sparse_categorical_crossentropy",
    losses=("sparse_categorical_crossentropy", "dice_crossentropy"),
    metrics=("mean_iou", "per_class_iou", "dice", "pixel_accuracy"),
    default_metrics=("mean_iou", "per_class_iou", "dice", "pixel_accuracy"),
    targets="an int32 mask (height, width) of class indices into class_names (or the ignore index)",
    class_weight=True,
    per_pixel=True,
)

#: Metrics (and their ``val_`` twins) for which lower is better; every other metric is better higher.
LOWER_IS_BETTER = ("loss", "mae", "rmse")


def lower_is_better(metric: str) -> bool:
    """Whether a smaller value of ``metric`` (a history key such as ``val_mae``) is better: losses and errors."""
    name = metric[4:] if metric.startswith("val_") else metric
    return "loss" in name or name in LOWER_IS_BETTER


#: Every task, by its name in ``task.type``.
TASKS: dict[str, Task] = {task.name: task for task in (SINGLE_LABEL, MULTI_LABEL, REGRESSION, SEGMENTATION)}
#: The task of a spec that states none, and of a data source that does not declare its tasks.
DEFAULT_TASK = SINGLE_LABEL.name


def task_named(name: str | None) -> Task:
    """The row of task ``name`` (None: single-label)."""
    return TASKS[name or DEFAULT_TASK]
