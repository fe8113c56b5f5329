"""Spec -> ``keras.Model``: each layer from its registered factory; and loading saved models safely."""

from __future__ import annotations

import hashlib
import random
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnnbuild.builder.runtime import import_tensorflow
from cnnbuild.errors import CnnbuildError, PluginError, RunError
from cnnbuild.spec.labels import binary_labels, model_class_count
from cnnbuild.spec.shapes import resolve_units

if TYPE_CHECKING:
    import keras

    from cnnbuild.plugins.registry import Registry
    from cnnbuild.spec.document import Spec

def make_layer(registry: Registry, entry: Any, input_shape: tuple[int | None, ...] | None = None, spec: Spec | None = None, *, load_weights: bool = True) -> Any:
    """The Keras layer of one entry, from its registered factory; a backbone's factory also gets
    the input shape, and path parameters arrive resolved against the spec's folder.

    ``load_weights=False`` builds a backbone whose parameters have a ``weights`` field with
    ``weights: none``: its shapes and parameter counts without downloading or reading anything."""
    import keras

    registration = registry.layers[entry.type]
    if spec is not None:
        entry = with_resolved_paths(entry, spec)
    if registration.backbone:
        if not load_weights:
            entry = without_weights(entry)
        return registration.make(keras.layers.Layer, entry, tuple(input_shape or ()))
    return registration.make(keras.layers.Layer, entry)


def model_layer(registry: Registry, entry: Any, where: str, classes: tuple[int | None, bool], spec: Spec, input_shape: tuple[int | None, ...] | None = None, *, output: bool, load_weights: bool = True) -> Any:
    """The Keras layer of one entry of ``model.layers``, for the chain and the graph builder alike:
    ``units: auto`` filled from ``classes`` (the class count, or None when unknown, and whether
    labels are binary), a CnnbuildError at ``where`` when it cannot be; the model's ``output``
    layer computes in float32 under mixed precision, so its outputs and the loss stay float32."""
    import keras

    resolved = resolve_units(entry, *classes)
    if resolved is None:
        raise CnnbuildError(
            f"{where}.units is 'auto' but the number of classes is unknown: the data is not there yet; "
            "pass --num-classes N (or num_classes=N), or point data at an existing folder"
        )
    layer = make_layer(registry, resolved, input_shape, spec, load_weights=load_weights)
    if output and keras.config.dtype_policy().name != "float32":
        layer.dtype_policy = keras.DTypePolicy("float32")
    return layer


def without_weights(entry: Any) -> Any:
    """A backbone entry with ``weights: none`` (and no checksum), where its parameters have those fields."""
    fields = type(entry).model_fields
    if "weights" not in fields or getattr(entry, "weights", None) == "none":
        return entry
    return entry.model_copy(update={"weights": "none", **({"sha256": None} if "sha256" in fields else {})})


def loads_weights(spec: Spec, registry: Registry) -> list[str]:
    """The backbones of the spec's model that would load pretrained weights, as ``ARCHITECTURE (weights)``."""
    found = []
    for node in spec.graph.nodes:
        registration = registry.layers.get(node.type)
        weights = getattr(node.entry, "weights", "none")
        if registration is not None and registration.backbone and weights != "none":
            found.append(f"{getattr(node.entry, 'architecture', node.type)} ({weights})")
    return found


def with_resolved_paths(entry: Any, spec: Spec) -> Any:
    """``entry`` with each :data:`~cnnbuild.SpecPath` parameter made absolute against the spec's folder."""
    from cnnbuild.contracts.values import is_spec_path, literal_values

    changed = {
        name: str(spec.resolve_path(value))
        for name, field in type(entry).model_fields.items()
        if is_spec_path(field) and isinstance(value := getattr(entry, name), str) and value not in literal_values(field.annotation)
    }
    return entry.model_copy(update=changed) if changed else entry


def _layer(registry: Registry, entry: Any) -> Any:
    return make_layer(registry, entry)


def augmentation_seeds(spec: Spec) -> list[int | None]:
    """One seed per ``augmentation`` entry, from the spec's seed, the entry's type and how many
    entries of that type come before it; all None without a seed.

    Each entry then draws from a stream of its own: adding, removing or moving an entry of
    another type leaves this one's draws unchanged, and building the layers consumes none of
    the random numbers that the model's initial weights are drawn from."""
    if spec.seed is None:
        return [None] * len(spec.augmentation)
    seen: Counter[str] = Counter()
    seeds = []
    for entry in spec.augmentation:
        key = f"{spec.seed}:{entry.type}:{seen[entry.type]}".encode()
        seen[entry.type] += 1
        seeds.append(int.from_bytes(hashlib.sha256(key).digest()[:4], "big") & 0x7FFFFFFF)
    return seeds


@contextmanager
def _python_random(seed: int | None) -> Iterator[None]:
    """Python's random numbers seeded with ``seed`` inside, restored after: Keras layers built
    without a seed take theirs from it (and so do the sub-layers of RandAugment, Pipeline...)."""
    if seed is None:
        yield
        return
    state = random.getstate()
    random.seed(seed)
    try:
        yield
    finally:
        random.setstate(state)


def augmentation_layers(spec: Spec, registry: Registry | None = None) -> list[Any]:
    """Fresh Keras layers for the spec's ``augmentation`` list, each seeded by :func:`augmentation_seeds`."""
    registry = registry or spec.registry
    layers = []
    for entry, seed in zip(spec.augmentation, augmentation_seeds(spec), strict=True):
        with _python_random(seed):
            layers.append(_layer(registry, entry))
    return layers


def build_model(spec: Spec, num_classes: int | None = None, *, include_augmentation: bool | None = None, registry: Registry | None = None, load_weights: bool = True) -> keras.Model:
    """The spec's model, not compiled: a ``keras.Sequential`` for a plain list of layers, a
    functional ``keras.Model`` for a graph (or a list holding a pretrained backbone).

    ``num_classes`` fills ``units: auto``; without it the data source is asked. Augmentation
    layers are included when ``augmentation_placement`` is ``model`` (or when
    ``include_augmentation`` says so). ``load_weights=False`` (summaries and diagrams) builds
    backbones without their pretrained weights: the same shapes and counts, nothing downloaded.
    """
    registry = registry or spec.registry
    num_classes = model_class_count(spec, num_classes, registry)  # before TensorFlow loads: a missing count is said at once
    import_tensorflow()
    import keras

    binary = binary_labels(spec, num_classes)
    layers: list[Any] = []
    if include_augmentation if include_augmentation is not None else spec.augmentation_placement == "model":
        layers += augmentation_layers(spec, registry)
    if not spec.graph.chain or any(registry.layers[entry.type].backbone for entry in spec.model.layers):
        from cnnbuild.builder.model.graph_build import build_functional

        return guarded_build(lambda: build_functional(spec, registry, num_classes, binary, layers, load_weights=load_weights))
    last = len(spec.model.layers) - 1
    for index, entry in enumerate(spec.model.layers):
        layers.append(model_layer(registry, entry, f"model.layers[{index}]", (num_classes, binary), spec, output=index == last))
    return guarded_build(lambda: keras.Sequential([keras.Input(shape=spec.data.input_shape), *layers], name=model_name(spec)))


def model_name(spec: Spec) -> str:
    return spec.name.replace(".", "_")


def guarded_build(build: Any) -> Any:
    """``build()``, with running out of memory and a layer failing in Keras turned into one-line errors."""
    try:
        return build()
    except (MemoryError, import_tensorflow().errors.ResourceExhaustedError) as exc:
        raise CnnbuildError(f"not enough memory to build the model's weights ({type(exc).__name__}); use fewer units or filters, or a smaller image_size") from exc
    except (TypeError, ValueError, NotImplementedError) as exc:  # a plugin layer failing in build() or call()
        raise PluginError(f"building the model failed: {type(exc).__name__}: {first_lines(exc)}") from exc


def load_saved_model(path: Any, *, allow_unsafe: bool = False, spec: Spec | None = None, compile: bool = True) -> Any:
    """Load a ``.keras`` file with safe mode on (unless ``allow_unsafe``) and plugin objects known.

    A file holding Python code (a Lambda layer) is refused with a message saying why; a damaged
    file and a custom layer no plugin provides (named, with the plugins ``spec`` uses) too.
    ``compile=False`` leaves the optimizer and its state out (what an export needs).
    """
    import zipfile

    import_tensorflow()
    import keras

    import cnnbuild.builder.model.segmentation_objects  # noqa: F401  (registers the segmentation loss and metrics a checkpoint may hold)
    import cnnbuild.builder.model.task_objects  # noqa: F401  (registers the task losses and metrics a checkpoint may hold)
    from cnnbuild.plugins.manager import keras_objects

    if Path(path).exists() and not zipfile.is_zipfile(path):
        raise RunError(f"{path}: the model file is damaged: not a complete .keras archive (cut off while it was written, or overwritten); train again, or use a checkpoint")
    try:
        return keras.saving.load_model(path, custom_objects=keras_objects(), safe_mode=not allow_unsafe, compile=compile)
    except (ValueError, TypeError) as exc:
        missing = re.search(r"Could not locate class '([^']+)'", str(exc))
        if missing:
            raise RunError(f"{path}: cannot load model: {missing_class(missing.group(1), spec)}") from exc
        if isinstance(exc, TypeError):
            raise RunError(f"{path}: cannot load model: {type(exc).__name__}: {first_lines(exc)}") from exc
        if "safe_mode" in str(exc) or "lambda" in str(exc).lower():
            raise RunError(
                f"{path}: refused to load: the model contains Python code (a Lambda layer), which could run anything; "
                "pass --allow-unsafe-model only if you trust where this file came from"
            ) from exc
        raise RunError(f"{path}: cannot load model: {first_lines(exc)}") from exc
    except (OSError, KeyError) as exc:
        raise RunError(f"{path}: cannot load model: {type(exc).__name__}: {first_lines(exc)}") from exc


def missing_class(name: str, spec: Spec | None) -> str:
    """What to do when a saved model holds a custom class that no plugin's ``keras_objects`` provides."""
    text = f"it holds a custom Keras class {name!r} that no installed plugin provides through its keras_objects hook"
    if spec is None:
        return text + "; install the plugin the model was trained with"
    registry = spec.registry
    entries = [entry for _, entry in spec.graph.entries()] + list(spec.augmentation)
    owners = {registry.layers[entry.type].plugin for entry in entries if entry.type in registry.layers and not registry.layers[entry.type].plugin.builtin}
    if not owners:
        return text + "; install the plugin the model was trained with"
    named = ", ".join(sorted(owner.describe() for owner in owners))
    return text + f"; this run's layers come from {named}: its keras_objects hook must return {{{name!r}: the class}}, or the class must be registered with keras.saving.register_keras_serializable in a module that hook imports"


def first_lines(exc: Exception, limit: int = 400) -> str:
    """Keras load errors embed the whole model config; keep what a person can read."""
    text = " ".join(line.strip() for line in str(exc).splitlines() if line.strip() and not line.lstrip().startswith("config="))
    return text if len(text) <= limit else text[: limit - 3] + "..."
