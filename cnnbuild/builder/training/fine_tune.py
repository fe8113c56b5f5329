"""``train.fine_tune``: after the epochs with the pretrained backbone frozen, unfreeze it (all of
it, its last N layers with weights, or from a named layer on) and train on.

BatchNormalization layers stay frozen, statistics and scale alike: in Keras 3.15 calling the
backbone with ``training=False`` does not keep them in inference mode during ``fit`` (the outer
``training`` flag overrides it), and updating their statistics on a small dataset is the classic
collapse of fine-tuning. The trainable flags are kept in the saved model, so ``--resume`` in
the middle of fine-tuning continues with the same layers unfrozen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cnnbuild.errors import CnnbuildError
from cnnbuild.spec.errors import suggest
from cnnbuild.spec.graph.checks import backbones

if TYPE_CHECKING:
    from cnnbuild.plugins.registry import Registry
    from cnnbuild.spec.document import Spec


def leaves(layer: Any) -> list[Any]:
    """The layers inside ``layer``, nested models opened, in order."""
    found = []
    for inner in getattr(layer, "layers", []):
        found += leaves(inner) if getattr(inner, "layers", None) else [inner]
    return found


def backbone_layers(model: Any, spec: Spec, registry: Registry) -> list[tuple[str, Any]]:
    """``(architecture or type, Keras layer)`` of each pretrained backbone of the model."""
    return [(getattr(node.entry, "architecture", node.type), model.get_layer(node.id)) for node in backbones(spec, registry)]


def chosen_layers(name: str, backbone: Any, spec: Spec) -> list[Any]:
    """The layers with weights that fine-tuning unfreezes; CnnbuildError for a ``from_layer`` the backbone lacks."""
    fine_tune = spec.train.fine_tune
    weighted = [layer for layer in leaves(backbone) if layer.weights]
    if fine_tune.from_layer is not None:
        names = [layer.name for layer in weighted]
        if fine_tune.from_layer not in names:
            hint = suggest(fine_tune.from_layer, names) or f"; its layers with weights run from {names[0]!r} to {names[-1]!r}"
            raise CnnbuildError(f"train.fine_tune.from_layer: {name} has no layer with weights named {fine_tune.from_layer!r}{hint}")
        return weighted[names.index(fine_tune.from_layer) :]
    if fine_tune.last_layers is not None:
        return weighted[-fine_tune.last_layers :]
    return weighted


def check_fine_tune(model: Any, spec: Spec, registry: Registry) -> None:
    """Raise before training when fine-tuning could not unfreeze what the spec names."""
    if spec.train.fine_tune is not None:
        for name, backbone in backbone_layers(model, spec, registry):
            chosen_layers(name, backbone, spec)


def unfreeze(model: Any, spec: Spec, registry: Registry) -> str:
    """Make the chosen layers of every backbone trainable (BatchNormalization excepted); says what it did.
    The model must be compiled again afterwards."""
    import keras

    done = []
    for name, backbone in backbone_layers(model, spec, registry):
        chosen = {id(layer) for layer in chosen_layers(name, backbone, spec)}
        backbone.trainable = True
        for layer in leaves(backbone):
            layer.trainable = id(layer) in chosen and not isinstance(layer, keras.layers.BatchNormalization)
        count = sum(int(keras.ops.size(weight)) for weight in backbone.trainable_weights)
        done.append(f"{name}: {sum(1 for layer in leaves(backbone) if layer.trainable and layer.weights)} layers, {count:,} parameters trainable")
    return "; ".join(done)


def fine_tune_history(history: dict[str, list[float]], start: int) -> dict[str, list[float]]:
    """The part of ``history`` from epoch ``start`` (0-based) on: what a fine-tuning phase's callbacks replay after ``--resume``."""
    return {key: values[start:] for key, values in history.items()}
