"""Spec -> ``keras.Model``: layers from the registry, then the loss and metrics that fit the labels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cnnbuild.builder.runtime import import_tensorflow
from cnnbuild.errors import CnnbuildError, PluginError
from cnnbuild.plugins.manager import get_registry
from cnnbuild.spec.checks import known_class_names
from cnnbuild.spec.shapes import binary_labels, resolve_units

if TYPE_CHECKING:
    import keras

    from cnnbuild.plugins.registry import Registry
    from cnnbuild.spec.document import Spec

PROBABILITY_ACTIVATIONS = ("softmax", "sigmoid")


@dataclass(frozen=True)
class Labels:
    """How labels are encoded and what the last layer outputs."""

    mode: str  # int | binary | categorical
    num_classes: int
    from_logits: bool


def resolve_num_classes(spec: Spec, num_classes: int | None, registry: Registry | None = None) -> int | None:
    """``num_classes`` if given, else what the data source tells without loading, else None."""
    if num_classes is not None:
        return num_classes
    names = known_class_names(spec, registry or get_registry())
    return len(names) if names else None


def label_encoding(spec: Spec, num_classes: int) -> Labels:
    """The label mode and whether the model outputs logits, from the spec and the class count."""
    mode = spec.data.label_mode or ("binary" if binary_labels(spec, num_classes) else "int")
    activation = getattr(spec.model.layers[-1], "activation", None)
    from_logits = spec.compile.loss.from_logits
    if from_logits is None:
        from_logits = activation not in PROBABILITY_ACTIVATIONS
    return Labels(mode, num_classes, from_logits)


def output_probabilities(outputs: Any, labels: Labels) -> Any:
    """Model outputs (logits or probabilities) as a ``(N, classes)`` array of class probabilities."""
    import numpy as np

    if labels.mode == "binary":
        positive = outputs.reshape(-1)
        if labels.from_logits:
            positive = 1 / (1 + np.exp(-positive))
        return np.stack([1 - positive, positive], axis=1)
    if labels.from_logits:
        shifted = outputs - outputs.max(axis=1, keepdims=True)
        exp = np.exp(shifted)
        return exp / exp.sum(axis=1, keepdims=True)
    return outputs


def _layer(registry: Registry, entry: Any) -> Any:
    import keras

    return registry.layers[entry.type].make(keras.layers.Layer, "a keras.layers.Layer", entry)


def augmentation_layers(spec: Spec, registry: Registry | None = None) -> list[Any]:
    """Fresh Keras layers for the spec's ``augmentation`` list."""
    registry = registry or get_registry()
    return [_layer(registry, entry) for entry in spec.augmentation]


def build_model(spec: Spec, num_classes: int | None = None, *, include_augmentation: bool | None = None, registry: Registry | None = None) -> keras.Model:
    """A ``keras.Sequential`` for the spec's layer stack (not compiled).

    ``num_classes`` fills ``units: auto``; without it the data source is asked. Augmentation
    layers are included when ``augmentation_placement`` is ``model`` (or when
    ``include_augmentation`` says so).
    """
    import_tensorflow()
    import keras

    registry = registry or get_registry()
    num_classes = resolve_num_classes(spec, num_classes, registry)
    binary = binary_labels(spec, num_classes)
    layers: list[Any] = []
    if include_augmentation if include_augmentation is not None else spec.augmentation_placement == "model":
        layers += augmentation_layers(spec, registry)
    last = len(spec.model.layers) - 1
    for index, entry in enumerate(spec.model.layers):
        resolved = resolve_units(entry, num_classes, binary)
        if resolved is None:
            raise CnnbuildError(
                f"model.layers[{index}].units is 'auto' but the number of classes is unknown: the data is not there yet; "
                "pass --num-classes N (or num_classes=N), or point data at an existing folder"
            )
        layer = _layer(registry, resolved)
        if index == last and keras.config.dtype_policy().name != "float32":
            layer.dtype_policy = keras.DTypePolicy("float32")  # keep the outputs and the loss in float32
        layers.append(layer)
    try:
        model = keras.Sequential([keras.Input(shape=spec.data.input_shape), *layers], name=spec.name.replace(".", "_"))
    except (MemoryError, import_tensorflow().errors.ResourceExhaustedError) as exc:
        raise CnnbuildError(f"not enough memory to build the model's weights ({type(exc).__name__}); use fewer units or filters, or a smaller image_size") from None
    except (TypeError, ValueError, NotImplementedError) as exc:  # a plugin layer failing in build() or call()
        raise PluginError(f"building the model failed: {type(exc).__name__}: {_first_lines(exc)}") from None
    return model


def _metrics(spec: Spec, labels: Labels) -> list[Any]:
    import keras

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

    loss = spec.compile.loss
    kind = loss.type
    if kind == "auto":
        kind = {"binary": "binary_crossentropy", "categorical": "categorical_crossentropy", "int": "sparse_categorical_crossentropy"}[labels.mode]
    if kind == "binary_crossentropy":
        return keras.losses.BinaryCrossentropy(from_logits=labels.from_logits, label_smoothing=loss.label_smoothing)
    if kind == "categorical_crossentropy":
        return keras.losses.CategoricalCrossentropy(from_logits=labels.from_logits, label_smoothing=loss.label_smoothing)
    return keras.losses.SparseCategoricalCrossentropy(from_logits=labels.from_logits)


def make_optimizer(spec: Spec) -> Any:
    import keras

    options = spec.compile.optimizer.model_dump(exclude={"type"}, exclude_none=True)
    classes = {"adam": keras.optimizers.Adam, "adamw": keras.optimizers.AdamW, "sgd": keras.optimizers.SGD, "rmsprop": keras.optimizers.RMSprop}
    return classes[spec.compile.optimizer.type](**options)


def compile_model(model: keras.Model, spec: Spec, labels: Labels) -> keras.Model:
    """Compile with the spec's optimizer, the loss that fits the labels and matching metrics."""
    jit = spec.compile.jit_compile
    model.compile(optimizer=make_optimizer(spec), loss=make_loss(spec, labels), metrics=_metrics(spec, labels), jit_compile=jit)
    return model


def load_saved_model(path: Any, *, allow_unsafe: bool = False) -> Any:
    """Load a ``.keras`` file with safe mode on (unless ``allow_unsafe``) and plugin objects known.

    A file holding Python code (a Lambda layer) is refused with a message saying why.
    """
    import_tensorflow()
    import keras

    from cnnbuild.errors import RunError
    from cnnbuild.plugins.manager import keras_objects

    try:
        return keras.saving.load_model(path, custom_objects=keras_objects(), safe_mode=not allow_unsafe)
    except ValueError as exc:
        if "safe_mode" in str(exc) or "lambda" in str(exc).lower():
            raise RunError(
                f"{path}: refused to load: the model contains Python code (a Lambda layer), which could run anything; "
                "pass --allow-unsafe-model only if you trust where this file came from"
            ) from None
        raise RunError(f"{path}: cannot load model: {_first_lines(exc)}") from None
    except (OSError, KeyError, TypeError) as exc:
        raise RunError(f"{path}: cannot load model: {type(exc).__name__}: {_first_lines(exc)}") from None


def _first_lines(exc: Exception, limit: int = 400) -> str:
    """Keras load errors embed the whole model config; keep what a person can read."""
    text = " ".join(line.strip() for line in str(exc).splitlines() if line.strip() and not line.lstrip().startswith("config="))
    return text if len(text) <= limit else text[: limit - 3] + "..."
