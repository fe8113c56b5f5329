"""ReLU (with max_value: ReLU6), LeakyReLU, PReLU, ELU and Softmax: activations with parameters of their own."""

from __future__ import annotations

import math
from typing import Any

from pydantic import Field

from cnnbuild.contracts.layers import LayerShape, Shape, ShapeError, same_shape
from cnnbuild.contracts.values import NonNegativeNumber, Number, Params
from cnnbuild.plugins.builtin.keras_catalogue import catalogued
from cnnbuild.plugins.builtin.layer_values import axis_indices
from cnnbuild.plugins.hookspecs import hookimpl


class ReLUParams(Params):
    max_value: NonNegativeNumber | None = Field(None, description="the largest output (6: ReLU6); default: unbounded")
    negative_slope: NonNegativeNumber = Field(0.0, description="slope below the threshold")
    threshold: NonNegativeNumber = Field(0.0, description="inputs below it are scaled by negative_slope")


class LeakyReLUParams(Params):
    negative_slope: NonNegativeNumber = 0.3


class PReLUParams(Params):
    shared_axes: tuple[int, ...] | None = Field(
        None, description="axes (1: height, 2: width, 3: channels) that share one learned slope; [1, 2]: one slope per channel. Default: one per value"
    )


class ELUParams(Params):
    alpha: Number = 1.0


class SoftmaxParams(Params):
    axis: int = Field(-1, description="the axis along which the outputs sum to 1")


def prelu_shape(params: PReLUParams, shape: Shape) -> LayerShape:
    slopes = list(shape)
    for axis in params.shared_axes or ():
        if not 1 <= axis <= len(shape):
            raise ShapeError(f"shared_axes {list(params.shared_axes or ())} names axis {axis}, and the input {shape} has axes 1..{len(shape)}", "list axes from 1 (the batch axis 0 is always shared)")
        slopes[axis - 1] = 1
    return LayerShape(shape, math.prod(slopes))


def softmax_shape(params: SoftmaxParams, shape: Shape) -> LayerShape:
    if axis_indices(params.axis, len(shape)) is None:
        raise ShapeError(f"axis {params.axis} is not an axis of an input of shape {shape} (axis 0 is the batch)", "use -1, the channels")
    return LayerShape(shape)


def _keras(name: str, params: Params) -> Any:
    import keras

    options = params.model_dump(exclude={"type"})
    if isinstance(options.get("shared_axes"), tuple):
        options["shared_axes"] = list(options["shared_axes"])
    return getattr(keras.layers, name)(**options)


@hookimpl
def register_layers(register: Any) -> None:
    register = catalogued(register)
    register("ReLU", ReLUParams, lambda p: _keras("ReLU", p), shape=same_shape)
    register("LeakyReLU", LeakyReLUParams, lambda p: _keras("LeakyReLU", p), shape=same_shape)
    register("PReLU", PReLUParams, lambda p: _keras("PReLU", p), shape=prelu_shape)
    register("ELU", ELUParams, lambda p: _keras("ELU", p), shape=same_shape)
    register("Softmax", SoftmaxParams, lambda p: _keras("Softmax", p), shape=softmax_shape)
