"""Compile a model with the spec's optimizer, the loss that fits the labels and matching metrics."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import keras

    from cnnbuild.spec.document import Spec
    from cnnbuild.spec.labels import Labels


def _task_metrics(spec: Spec, labels: Labels) -> list[Any]:
    """Multi-label and regression metrics: F1 and precision at the threshold, average precision; errors in the targets' units."""
    import keras

    from cnnbuild.builder.model.task_objects import LogitF1Score, OriginalUnitsMeanAbsoluteError, OriginalUnitsRootMeanSquaredError

    metrics: list[Any] = []
    threshold = 0.0 if labels.from_logits else 0.5  # during training; the run chooses each label's own threshold after it
    for name in spec.compile.metrics:
        if name == "mae":
            metrics.append(OriginalUnitsMeanAbsoluteError(*labels.scaling, name="mae") if labels.scaling else keras.metrics.MeanAbsoluteError(name="mae"))
        elif name == "rmse":
            metrics.append(OriginalUnitsRootMeanSquaredError(*labels.scaling, name="rmse") if labels.scaling else keras.metrics.RootMeanSquaredError(name="rmse"))
        elif name in ("f1_micro", "f1_macro"):
            f1 = LogitF1Score if labels.from_logits else keras.metrics.F1Score  # Keras's takes no threshold of 0
            metrics.append(f1(average=name[3:], threshold=0.5, name=name))
        elif name == "average_precision":  # the mean over labels of the area under each label's precision-recall curve
            metrics.append(keras.metrics.AUC(curve="PR", multi_label=True, num_labels=labels.num_classes, from_logits=labels.from_logits, name=name))
        elif name == "auc":
            metrics.append(keras.metrics.AUC(multi_label=True, num_labels=labels.num_classes, from_logits=labels.from_logits, name=name))
        elif name == "accuracy":  # the fraction of (image, label) decisions that are right
            metrics.append(keras.metrics.BinaryAccuracy(name="accuracy", threshold=threshold))
        elif name == "precision":
            metrics.append(keras.metrics.Precision(name="precision", thresholds=threshold))
        elif name == "recall":
            metrics.append(keras.metrics.Recall(name="recall", thresholds=threshold))
    return metrics


def _metrics(spec: Spec, labels: Labels) -> list[Any]:
    import keras

    if labels.mode in ("mask", "binary_mask"):
        from cnnbuild.builder.model.segmentation_objects import segmentation_metrics

        return segmentation_metrics(spec, labels)

    if labels.mode in ("multi_hot", "values"):
        return _task_metrics(spec, labels)
    metrics: list[Any] = []
    threshold = 0.0 if labels.from_logits else 0.5
    for name in spec.compile.metrics:
        if name == "accuracy":
            metric = {
                "binary": lambda: keras.metrics.BinaryAccuracy(name="accuracy", threshold=threshold),
                "categorical": lambda: keras.metrics.CategoricalAccuracy(name="accuracy"),
                "int": lambda: keras.metrics.SparseCategoricalAccuracy(name="accuracy"),
            }[labels.mode]()
        elif name == "auc":
            metric = keras.metrics.AUC(name="auc", from_logits=labels.from_logits)
        elif name == "precision":
            metric = keras.metrics.Precision(name="precision", thresholds=threshold)
        elif name == "recall":
            metric = keras.metrics.Recall(name="recall", thresholds=threshold)
        else:
            k = int(name.split("_")[1])
            metric = keras.metrics.TopKCategoricalAccuracy(k, name=name) if labels.mode == "categorical" else keras.metrics.SparseTopKCategoricalAccuracy(k, name=name)
        metrics.append(metric)
    return metrics


def make_loss(spec: Spec, labels: Labels) -> Any:
    import keras

    if labels.mode in ("mask", "binary_mask"):
        from cnnbuild.builder.model.segmentation_objects import segmentation_loss

        return segmentation_loss(spec, labels)
    loss = spec.compile.loss
    kind = loss.type
    if labels.mode == "values":
        kind = spec.task_row.default_loss if kind == "auto" else kind
        return {"mean_squared_error": keras.losses.MeanSquaredError, "mean_absolute_error": keras.losses.MeanAbsoluteError, "huber": keras.losses.Huber}[kind]()
    if labels.mode == "multi_hot":
        if labels.positive_weights:
            from cnnbuild.builder.model.task_objects import PositiveWeightedBinaryCrossentropy

            return PositiveWeightedBinaryCrossentropy(labels.positive_weights, from_logits=labels.from_logits)
        return keras.losses.BinaryCrossentropy(from_logits=labels.from_logits, label_smoothing=loss.label_smoothing)
    if kind == "auto":
        kind = {"binary": "binary_crossentropy", "categorical": "categorical_crossentropy", "int": "sparse_categorical_crossentropy"}[labels.mode]
    if kind == "binary_crossentropy":
        return keras.losses.BinaryCrossentropy(from_logits=labels.from_logits, label_smoothing=loss.label_smoothing)
    if kind == "categorical_crossentropy":
        return keras.losses.CategoricalCrossentropy(from_logits=labels.from_logits, label_smoothing=loss.label_smoothing)
    return keras.losses.SparseCategoricalCrossentropy(from_logits=labels.from_logits)


def make_optimizer(spec: Spec, learning_rate_multiplier: float = 1.0) -> Any:
    import keras

    options = spec.compile.optimizer.model_dump(exclude={"type"}, exclude_none=True)
    options["learning_rate"] = options["learning_rate"] * learning_rate_multiplier
    classes = {"adam": keras.optimizers.Adam, "adamw": keras.optimizers.AdamW, "sgd": keras.optimizers.SGD, "rmsprop": keras.optimizers.RMSprop}
    return classes[spec.compile.optimizer.type](**options)


def compile_model(model: keras.Model, spec: Spec, labels: Labels, *, learning_rate_multiplier: float = 1.0) -> keras.Model:
    """Compile with the spec's optimizer (its learning rate times ``learning_rate_multiplier``), the
    loss that fits the labels and matching metrics."""
    jit = spec.compile.jit_compile
    model.compile(optimizer=make_optimizer(spec, learning_rate_multiplier), loss=make_loss(spec, labels), metrics=_metrics(spec, labels), jit_compile=jit)
    return model
