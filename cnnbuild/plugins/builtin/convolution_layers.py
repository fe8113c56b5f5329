"""Convolution and pooling layers: Conv2D, Conv2DTranspose, SeparableConv2D, DepthwiseConv2D and the poolings (adaptive and global too)."""

from __future__ import annotations

import math

from pydantic import Field, ValidationInfo, field_validator

from cnnbuild.contracts.layers import LayerShape, Shape, ShapeError
from cnnbuild.contracts.values import Activation, Initializer, Padding, Pair, Params, PositiveInt
from cnnbuild.plugins.builtin.keras_catalogue import catalogued
from cnnbuild.plugins.builtin.layer_values import NonNegativePair
from cnnbuild.plugins.hookspecs import hookimpl


def not_with_strides(cls: type, dilation: tuple[int, int], info: ValidationInfo) -> tuple[int, int]:
    """Keras's Conv2D and Conv2DTranspose refuse a dilation_rate above 1 together with strides above 1."""
    strides = info.data.get("strides", (1, 1))
    if max(strides) > 1 and max(dilation) > 1:
        raise ValueError(f"Keras takes strides ({list(strides)}) or dilation_rate ({list(dilation)}) above 1, not both")
    return dilation


class _WindowParams(Params):
    """What every convolution shares."""

    kernel_size: Pair
    strides: Pair = (1, 1)
    padding: Padding = "valid"
    dilation_rate: Pair = (1, 1)
    activation: Activation | None = None
    use_bias: bool = True


class Conv2DParams(_WindowParams):
    filters: PositiveInt
    kernel_initializer: Initializer = "glorot_uniform"
    groups: PositiveInt = Field(1, description="channel groups convolved separately (ResNeXt); must divide filters and the input's channels")
    _dilation = field_validator("dilation_rate")(not_with_strides)

    @field_validator("groups")
    @classmethod
    def _divides_filters(cls, groups: int, info: ValidationInfo) -> int:
        filters = info.data.get("filters")
        if filters is not None and filters % groups:
            raise ValueError(f"must divide filters ({filters}), got {groups}")
        return groups


class Conv2DTransposeParams(_WindowParams):
    filters: PositiveInt
    kernel_initializer: Initializer = "glorot_uniform"
    output_padding: NonNegativePair | None = Field(
        None, description="rows and columns added to the output's bottom and right, each less than its stride; default: the size is the input's times strides (padding: same)"
    )

    _dilation = field_validator("dilation_rate")(not_with_strides)

    @field_validator("output_padding")
    @classmethod
    def _below_strides(cls, padding: tuple[int, int] | None, info: ValidationInfo) -> tuple[int, int] | None:
        strides = info.data.get("strides", (1, 1))
        if padding is not None and any(pad >= stride for pad, stride in zip(padding, strides, strict=True)):
            raise ValueError(f"must be less than strides {list(strides)} on each side, got {list(padding)}")
        return padding


class SeparableConv2DParams(_WindowParams):
    filters: PositiveInt
    depth_multiplier: PositiveInt = 1


class DepthwiseConv2DParams(_WindowParams):
    depth_multiplier: PositiveInt = 1


class PoolingParams(Params):
    pool_size: Pair = (2, 2)
    strides: Pair | None = Field(None, description="default: pool_size")
    padding: Padding = "valid"


class AdaptivePoolingParams(Params):
    output_size: Pair = Field(description="the output's [height, width], whatever the input's; each window covers about input/output rows and columns")


class GlobalPoolingParams(Params):
    keepdims: bool = False


def _spatial(shape: Shape) -> tuple[int, int, int]:
    if len(shape) != 3:
        raise ShapeError(f"needs a (height, width, channels) input, got {shape}", "put it before Flatten and Dense")
    return shape  # type: ignore[return-value]


def window_output(size: int, window: int, stride: int, dilation: int, padding: str) -> int:
    """Output length of a sliding window (Keras's formula for 'valid' and 'same')."""
    if padding == "same":
        return math.ceil(size / stride)
    effective = (window - 1) * dilation + 1
    return (size - effective) // stride + 1 if size >= effective else 0


def _windowed(shape: Shape, window: tuple[int, int], strides: tuple[int, int], dilation: tuple[int, int], padding: str) -> tuple[int, int]:
    height, width, _ = _spatial(shape)
    out = (window_output(height, window[0], strides[0], dilation[0], padding), window_output(width, window[1], strides[1], dilation[1], padding))
    if min(out) < 1:
        hint = "use padding: same, a smaller kernel or stride, or a larger image_size" if padding == "valid" else "use a smaller stride or a larger image_size"
        raise ShapeError(f"window {window} with strides {strides} shrinks ({height}, {width}) to {out}", hint)
    return out


def conv_shape(params: Conv2DParams, shape: Shape) -> LayerShape:
    out = _windowed(shape, params.kernel_size, params.strides, params.dilation_rate, params.padding)
    if shape[-1] % params.groups:
        raise ShapeError(f"groups {params.groups} does not divide the {shape[-1]} channels of {shape}", f"choose groups dividing both {shape[-1]} and filters")
    weights = params.kernel_size[0] * params.kernel_size[1] * (shape[-1] // params.groups) * params.filters
    return LayerShape((*out, params.filters), weights + (params.filters if params.use_bias else 0))


def transposed_output(size: int, window: int, stride: int, dilation: int, padding: str, output_padding: int | None) -> int:
    """Output length of a transposed convolution (Keras's formula, as TensorFlow pads)."""
    effective = (window - 1) * dilation + 1
    if output_padding is None:
        return size * stride if padding == "same" else (size - 1) * stride + max(effective, stride)
    return (size - 1) * stride + (effective % 2 if padding == "same" else effective) + output_padding


def conv_transpose_shape(params: Conv2DTransposeParams, shape: Shape) -> LayerShape:
    height, width, channels = _spatial(shape)
    pads = params.output_padding or (None, None)
    out = tuple(
        transposed_output(size, params.kernel_size[axis], params.strides[axis], params.dilation_rate[axis], params.padding, pads[axis]) for axis, size in enumerate((height, width))
    )
    weights = params.kernel_size[0] * params.kernel_size[1] * channels * params.filters
    return LayerShape((*out, params.filters), weights + (params.filters if params.use_bias else 0))


def separable_shape(params: SeparableConv2DParams, shape: Shape) -> LayerShape:
    out = _windowed(shape, params.kernel_size, params.strides, params.dilation_rate, params.padding)
    depthwise = params.kernel_size[0] * params.kernel_size[1] * shape[-1] * params.depth_multiplier
    pointwise = shape[-1] * params.depth_multiplier * params.filters
    return LayerShape((*out, params.filters), depthwise + pointwise + (params.filters if params.use_bias else 0))


def depthwise_shape(params: DepthwiseConv2DParams, shape: Shape) -> LayerShape:
    out = _windowed(shape, params.kernel_size, params.strides, params.dilation_rate, params.padding)
    channels = shape[-1] * params.depth_multiplier
    weights = params.kernel_size[0] * params.kernel_size[1] * channels
    return LayerShape((*out, channels), weights + (channels if params.use_bias else 0))


def pool_shape(params: PoolingParams, shape: Shape) -> LayerShape:
    out = _windowed(shape, params.pool_size, params.strides or params.pool_size, (1, 1), params.padding)
    return LayerShape((*out, shape[-1]))


def adaptive_pool_shape(params: AdaptivePoolingParams, shape: Shape) -> LayerShape:
    _spatial(shape)
    return LayerShape((*params.output_size, shape[-1]))


def global_pool_shape(params: GlobalPoolingParams, shape: Shape) -> LayerShape:
    _spatial(shape)
    return LayerShape((1, 1, shape[-1]) if params.keepdims else (shape[-1],))


def _keras(name: str, params: Params) -> object:
    import keras

    return getattr(keras.layers, name)(**params.model_dump(exclude={"type"}))


@hookimpl
def register_layers(register) -> None:
    register = catalogued(register)
    register("Conv2D", Conv2DParams, lambda p: _keras("Conv2D", p), shape=conv_shape, aliases=("Convolution2D",))
    register("Conv2DTranspose", Conv2DTransposeParams, lambda p: _keras("Conv2DTranspose", p), shape=conv_transpose_shape, aliases=("Convolution2DTranspose",))
    register("SeparableConv2D", SeparableConv2DParams, lambda p: _keras("SeparableConv2D", p), shape=separable_shape, aliases=("SeparableConvolution2D",))
    register("DepthwiseConv2D", DepthwiseConv2DParams, lambda p: _keras("DepthwiseConv2D", p), shape=depthwise_shape)
    register("MaxPooling2D", PoolingParams, lambda p: _keras("MaxPooling2D", p), shape=pool_shape, aliases=("MaxPool2D",))
    register("AveragePooling2D", PoolingParams, lambda p: _keras("AveragePooling2D", p), shape=pool_shape, aliases=("AvgPool2D",))
    register("AdaptiveAveragePooling2D", AdaptivePoolingParams, lambda p: _keras("AdaptiveAveragePooling2D", p), shape=adaptive_pool_shape)
    register("AdaptiveMaxPooling2D", AdaptivePoolingParams, lambda p: _keras("AdaptiveMaxPooling2D", p), shape=adaptive_pool_shape)
    register("GlobalAveragePooling2D", GlobalPoolingParams, lambda p: _keras("GlobalAveragePooling2D", p), shape=global_pool_shape, aliases=("GlobalAvgPool2D",))
    register("GlobalMaxPooling2D", GlobalPoolingParams, lambda p: _keras("GlobalMaxPooling2D", p), shape=global_pool_shape, aliases=("GlobalMaxPool2D",))
