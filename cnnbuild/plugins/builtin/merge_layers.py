"""Add, Subtract, Multiply, Average, Maximum, Minimum and Concatenate: layers that merge several inputs.

Registered with ``inputs=``, so their shape functions receive a list of input shapes and the
layers a list of tensors. Element-wise merges broadcast a dimension of 1 against any size, as
Keras does (a squeeze-and-excitation gate of shape (1, 1, C) multiplies an (H, W, C) input).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from cnnbuild.contracts.layers import LayerShape, Shape, ShapeError
from cnnbuild.contracts.values import Params
from cnnbuild.plugins.builtin.keras_catalogue import catalogued
from cnnbuild.plugins.hookspecs import hookimpl

RANK_HINT = "bring them to the same rank first (Flatten or GlobalAveragePooling2D each input)"


class MergeParams(Params):
    pass


class ConcatenateParams(Params):
    axis: int = Field(-1, description="the axis the inputs are joined along (Keras counts the batch axis as 0); every other dimension must agree")


def _same_rank(shapes: list[Shape], hint: str = RANK_HINT) -> None:
    for index, shape in enumerate(shapes[1:], 2):
        if len(shape) != len(shapes[0]):
            raise ShapeError(f"input {index} has shape {shape} and input 1 has shape {shapes[0]}: they have different ranks", hint)


def _gate_hint(shapes: list[Shape]) -> str:
    """The fix for an element-wise merge of a map and a vector of its channels (a squeeze-and-excitation
    gate made after a global pooling without keepdims): keep the pooled dimensions, so that the gate broadcasts."""
    vector = min(shapes, key=len)
    feature_map = max(shapes, key=len)
    if len(vector) != 1 or len(feature_map) < 2 or vector[0] not in (feature_map[-1], 1):
        return RANK_HINT
    kept = (*(1 for _ in feature_map[:-1]), vector[0])
    return (
        f"to scale a {feature_map} map by a {vector} gate, set keepdims: true on the GlobalAveragePooling2D or GlobalMaxPooling2D "
        f"the gate comes from: the gate becomes {kept}, which broadcasts (Flatten would lose the map's layout)"
    )


def elementwise_shape(params: Params, shapes: list[Shape]) -> LayerShape:
    """The shape of an element-wise merge: equal dimensions, or 1 broadcast against any size."""
    _same_rank(shapes, _gate_hint(shapes))
    output = list(shapes[0])
    for index, shape in enumerate(shapes[1:], 2):
        for axis, (have, other) in enumerate(zip(output, shape, strict=True)):
            if have == other or other == 1:
                continue
            if have == 1:
                output[axis] = other
                continue
            raise ShapeError(
                f"input {index} has shape {shape} and input 1 has shape {shapes[0]}: dimension {axis + 1} differs ({other} against {have})",
                "make them agree (a 1x1 Conv2D sets the channels, strides or pooling the size), or use Concatenate",
            )
    return LayerShape(tuple(output))


def concatenate_shape(params: ConcatenateParams, shapes: list[Shape]) -> LayerShape:
    """The shape of ``Concatenate(axis)``: the axis summed, every other dimension equal."""
    _same_rank(shapes)
    rank = len(shapes[0])
    if params.axis == 0 or not -rank <= params.axis <= rank:
        raise ShapeError(f"axis {params.axis} is not an axis of inputs of shape {shapes[0]} (axis 0 is the batch)", "use axis: -1, the channels")
    axis = params.axis - 1 if params.axis > 0 else rank + params.axis
    for index, shape in enumerate(shapes[1:], 2):
        differing = [d for d in range(rank) if d != axis and shape[d] != shapes[0][d]]
        if differing:
            raise ShapeError(
                f"input {index} has shape {shape} and input 1 has shape {shapes[0]}: every dimension but the joined one (axis {params.axis}) must agree",
                "bring them to the same height and width (strides, pooling or padding: same)",
            )
    joined = list(shapes[0])
    joined[axis] = sum(shape[axis] for shape in shapes)
    return LayerShape(tuple(joined))


def _keras(name: str, **options: Any) -> Any:
    import keras

    return getattr(keras.layers, name)(**options)


@hookimpl
def register_layers(register: Any) -> None:
    register = catalogued(register)
    for name in ("Add", "Multiply", "Average", "Maximum", "Minimum"):
        register(name, MergeParams, lambda p, name=name: _keras(name), shape=elementwise_shape, inputs=(2, None))
    register("Subtract", MergeParams, lambda p: _keras("Subtract"), shape=elementwise_shape, inputs=2)
    register("Concatenate", ConcatenateParams, lambda p: _keras("Concatenate", axis=p.axis), shape=concatenate_shape, inputs=(2, None))
