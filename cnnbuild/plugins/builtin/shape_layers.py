"""UpSampling2D, ZeroPadding2D, Cropping2D, Reshape, Permute and Identity: layers that move values, without weights."""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import Field, field_validator

from cnnbuild.contracts.layers import LayerShape, Shape, ShapeError, same_shape
from cnnbuild.contracts.values import Pair, Params
from cnnbuild.plugins.builtin.keras_catalogue import catalogued
from cnnbuild.plugins.builtin.layer_values import Dimensions, Margins
from cnnbuild.plugins.hookspecs import hookimpl

SPATIAL_HINT = "put it before Flatten and Dense, where the input is (height, width, channels)"


class UpSampling2DParams(Params):
    size: Pair = Field((2, 2), description="how many times the rows and the columns are repeated (or interpolated)")
    interpolation: Literal["nearest", "bilinear", "bicubic", "lanczos3", "lanczos5"] = "nearest"


class ZeroPadding2DParams(Params):
    padding: Margins = Field(((1, 1), (1, 1)), description="zeros added: an int, [height, width] (both sides) or [[top, bottom], [left, right]]")


class Cropping2DParams(Params):
    cropping: Margins = Field(((0, 0), (0, 0)), description="rows and columns removed: an int, [height, width] (both sides) or [[top, bottom], [left, right]]")


class ReshapeParams(Params):
    target_shape: Dimensions = Field(description="the output shape without the batch axis, such as [64, 32]; one dimension may be -1 (inferred)")


class PermuteParams(Params):
    dims: tuple[int, ...] = Field(description="the input axes in their new order, counted from 1 (the batch axis stays first): [2, 1, 3] swaps height and width")

    @field_validator("dims")
    @classmethod
    def _permutation(cls, dims: tuple[int, ...]) -> tuple[int, ...]:
        if sorted(dims) != list(range(1, len(dims) + 1)):
            raise ValueError(f"must be an ordering of 1..{len(dims)} (each axis once, the batch axis 0 not included), got {list(dims)}")
        return dims


class NoParams(Params):
    pass


def _spatial(shape: Shape) -> Shape:
    if len(shape) != 3:
        raise ShapeError(f"needs a (height, width, channels) input, got {shape}", SPATIAL_HINT)
    return shape


def upsampling_shape(params: UpSampling2DParams, shape: Shape) -> LayerShape:
    height, width, channels = _spatial(shape)
    return LayerShape((height * params.size[0], width * params.size[1], channels))


def zero_padding_shape(params: ZeroPadding2DParams, shape: Shape) -> LayerShape:
    height, width, channels = _spatial(shape)
    (top, bottom), (left, right) = params.padding
    return LayerShape((height + top + bottom, width + left + right, channels))


def cropping_shape(params: Cropping2DParams, shape: Shape) -> LayerShape:
    height, width, channels = _spatial(shape)
    (top, bottom), (left, right) = params.cropping
    out = (height - top - bottom, width - left - right)
    if min(out) < 1:
        raise ShapeError(f"cropping {[list(side) for side in params.cropping]} leaves nothing of ({height}, {width})", "crop less, or crop a larger input")
    return LayerShape((*out, channels))


def reshape_shape(params: ReshapeParams, shape: Shape) -> LayerShape:
    size = math.prod(shape)
    known = math.prod(d for d in params.target_shape if d != -1)
    target = list(params.target_shape)
    if -1 in target:
        if size % known:
            raise ShapeError(f"cannot reshape {shape} ({size:,} values) to {target}: {size:,} is not a multiple of {known:,}", "choose dimensions whose product divides the input's size")
        target[target.index(-1)] = size // known
    elif known != size:
        raise ShapeError(f"cannot reshape {shape} ({size:,} values) to {target} ({known:,} values)", "the product of target_shape must equal the input's size (or write -1 for one dimension)")
    return LayerShape(tuple(target))


def permute_shape(params: PermuteParams, shape: Shape) -> LayerShape:
    if len(params.dims) != len(shape):
        raise ShapeError(f"dims {list(params.dims)} orders {len(params.dims)} axes, and the input {shape} has {len(shape)}", f"list each of the input's axes 1..{len(shape)} once")
    return LayerShape(tuple(shape[axis - 1] for axis in params.dims))


def _keras(name: str, params: Params) -> Any:
    import keras

    return getattr(keras.layers, name)(**params.model_dump(exclude={"type"}))


@hookimpl
def register_layers(register: Any) -> None:
    register = catalogued(register)
    register("UpSampling2D", UpSampling2DParams, lambda p: _keras("UpSampling2D", p), shape=upsampling_shape)
    register("ZeroPadding2D", ZeroPadding2DParams, lambda p: _keras("ZeroPadding2D", p), shape=zero_padding_shape)
    register("Cropping2D", Cropping2DParams, lambda p: _keras("Cropping2D", p), shape=cropping_shape)
    register("Reshape", ReshapeParams, lambda p: _keras("Reshape", p), shape=reshape_shape)
    register("Permute", PermuteParams, lambda p: _keras("Permute", p), shape=permute_shape)
    register("Identity", NoParams, lambda p: _keras("Identity", p), shape=same_shape)
