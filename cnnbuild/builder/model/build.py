"""Spec -> ``keras.Model``: each layer from its registered factory; and loading saved models safely."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cnnbuild.builder.runtime import import_tensorflow
from cnnbuild.errors import CnnbuildError, PluginError, RunError
from cnnbuild.plugins.manager import get_registry
from cnnbuild.spec.labels import binary_labels, class_count
from cnnbuild.spec.shapes import resolve_units

if TYPE_CHECKING:
    import keras

    from cnnbuild.plugins.registry import Registry
    from cnnbuild.spec.document import Spec

def _layer(registry: Registry, entry: Any) -> Any:
    import keras

    return registry.layers[entry.type].make(keras.layers.Layer, entry)


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
    num_classes = class_count(spec, num_classes, registry)
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
        raise PluginError(f"building the model failed: {type(exc).__name__}: {first_lines(exc)}") from None
    return model


def load_saved_model(path: Any, *, allow_unsafe: bool = False, compile: bool = True) -> Any:
    """Load a ``.keras`` file with safe mode on (unless ``allow_unsafe``) and plugin objects known.

    A file holding Python code (a Lambda layer) is refused with a message saying why.
    ``compile=False`` leaves the optimizer and its state out (what an export needs).
    """
    import_tensorflow()
    import keras

    from cnnbuild.plugins.manager import keras_objects

    try:
        return keras.saving.load_model(path, custom_objects=keras_objects(), safe_mode=not allow_unsafe, compile=compile)
    except ValueError as exc:
        if "safe_mode" in str(exc) or "lambda" in str(exc).lower():
            raise RunError(
                f"{path}: refused to load: the model contains Python code (a Lambda layer), which could run anything; "
                "pass --allow-unsafe-model only if you trust where this file came from"
            ) from None
        raise RunError(f"{path}: cannot load model: {first_lines(exc)}") from None
    except (OSError, KeyError, TypeError) as exc:
        raise RunError(f"{path}: cannot load model: {type(exc).__name__}: {first_lines(exc)}") from None


def first_lines(exc: Exception, limit: int = 400) -> str:
    """Keras load errors embed the whole model config; keep what a person can read."""
    text = " ".join(line.strip() for line in str(exc).splitlines() if line.strip() and not line.lstrip().startswith("config="))
    return text if len(text) <= limit else text[: limit - 3] + "..."
