"""LayerNormalization, RMSNormalization, GroupNormalization and UnitNormalization (BatchNormalization is in core_layers)."""

from __future__ import annotations

import math
from typing import Any

from pydantic import Field

from cnnbuild.contracts.layers import LayerShape, Shape, ShapeError
from cnnbuild.contracts.values import Params, PositiveInt, PositiveNumber
from cnnbuild.plugins.builtin.keras_catalogue import catalogued
from cnnbuild.plugins.builtin.layer_values import Axes, axis_indices
from cnnbuild.plugins.hookspecs import hookimpl


class LayerNormalizationParams(Params):
    axis: Axes = Field(-1, description="the axis or axes normalised together (-1: the channels); a beta and a gamma per position of them")
    epsilon: PositiveNumber = 0.001
    center: bool = True
    scale: bool = True


class RMSNormalizationParams(Params):
    axis: Axes = Field(-1, description="the axis or axes normalised together (-1: the channels); a learned scale per position of them, no offset")
    epsilon: PositiveNumber = 1e-6


class GroupNormalizationParams(Params):
    groups: PositiveInt = Field(32, description="how many groups the channels are split into; must divide the channels (their count: instance normalization, 1: layer normalization)")
    axis: int = Field(-1, description="the channels axis")
    epsilon: PositiveNumber = 0.001
    center: bool = True
    scale: bool = True


class UnitNormalizationParams(Params):
    axis: Axes = Field(-1, description="the axis or axes along which each vector is scaled to length 1")


def _indices(axes: int | tuple[int, ...], shape: Shape) -> tuple[int, ...]:
    found = axis_indices(axes, len(shape))
    if found is None:
        written = axes if isinstance(axes, int) else list(axes)
        raise ShapeError(f"axis {written} is not an axis of an input of shape {shape} (axis 0 is the batch)", "use -1, the channels")
    return found


def layer_norm_shape(params: LayerNormalizationParams, shape: Shape) -> LayerShape:
    per_position = math.prod(shape[index] for index in _indices(params.axis, shape))
    return LayerShape(shape, per_position * (int(params.center) + int(params.scale)))


def rms_norm_shape(params: RMSNormalizationParams, shape: Shape) -> LayerShape:
    return LayerShape(shape, math.prod(shape[index] for index in _indices(params.axis, shape)))


def group_norm_shape(params: GroupNormalizationParams, shape: Shape) -> LayerShape:
    (index,) = _indices(params.axis, shape)
    channels = shape[index]
    if channels % params.groups:
        raise ShapeError(f"groups {params.groups} does not divide the {channels} channels of {shape}", f"choose groups among the divisors of {channels}")
    return LayerShape(shape, channels * (int(params.center) + int(params.scale)))


def unit_norm_shape(params: UnitNormalizationParams, shape: Shape) -> LayerShape:
    _indices(params.axis, shape)
    return LayerShape(shape)


def _keras(name: str, params: Params) -> Any:
    import keras

    options = params.model_dump(exclude={"type"})
    if isinstance(options.get("axis"), tuple):
        options["axis"] = list(options["axis"])
    return getattr(keras.layers, name)(**options)


@hookimpl
def register_layers(register: Any) -> None:
    register = catalogued(register)
    register("LayerNormalization", LayerNormalizationParams, lambda p: _keras("LayerNormalization", p), shape=layer_norm_shape)
    register("RMSNormalization", RMSNormalizationParams, lambda p: _keras("RMSNormalization", p), shape=rms_norm_shape)
    register("GroupNormalization", GroupNormalizationParams, lambda p: _keras("GroupNormalization", p), shape=group_norm_shape)
    register("UnitNormalization", UnitNormalizationParams, lambda p: _keras("UnitNormalization", p), shape=unit_norm_shape)
