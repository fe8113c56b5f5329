"""Rescaling, Resizing, CenterCrop and the random augmentation layers."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from cnnbuild.contracts.layers import LayerShape, Shape, ShapeError, same_shape
from cnnbuild.contracts.values import Factor, Interpolation, Number, Params, PositiveInt, PositiveNumber
from cnnbuild.plugins.hookspecs import hookimpl

FillMode = Literal["reflect", "wrap", "constant", "nearest"]


class RescalingParams(Params):
    scale: Number = Field(description="multiplier, for example 1/255")
    offset: Number = 0.0


class SizeParams(Params):
    height: PositiveInt
    width: PositiveInt


class ResizingParams(SizeParams):
    interpolation: Interpolation = "bilinear"
    crop_to_aspect_ratio: bool = False


class RandomFlipParams(Params):
    mode: Literal["horizontal", "vertical", "horizontal_and_vertical"] = "horizontal_and_vertical"


class RandomRotationParams(Params):
    factor: Factor = Field(description="fraction of a full turn, e.g. 0.1 for up to +/-36 degrees")
    fill_mode: FillMode = "reflect"
    interpolation: Literal["bilinear", "nearest"] = "bilinear"
    fill_value: Number = 0.0


class RandomZoomParams(Params):
    height_factor: Factor = Field(description="negative zooms in, positive zooms out, e.g. 0.1 or [-0.2, 0.2]")
    width_factor: Factor | None = Field(None, description="default: keep the aspect ratio")
    fill_mode: FillMode = "reflect"
    interpolation: Literal["bilinear", "nearest"] = "bilinear"
    fill_value: Number = 0.0


class RandomTranslationParams(Params):
    height_factor: Factor
    width_factor: Factor
    fill_mode: FillMode = "reflect"
    interpolation: Literal["bilinear", "nearest"] = "bilinear"
    fill_value: Number = 0.0


class RandomContrastParams(Params):
    factor: Factor = Field(description="contrast varies in [1 - factor, 1 + factor]")
    value_range: tuple[Number, Number] = (0.0, 255.0)


class RandomBrightnessParams(Params):
    factor: Factor = Field(description="brightness shift as a fraction of value_range, in [-1, 1]")
    value_range: tuple[Number, Number] = (0.0, 255.0)


class GaussianNoiseParams(Params):
    stddev: PositiveNumber



def sized_shape(params: SizeParams, shape: Shape) -> LayerShape:
    if len(shape) != 3:
        raise ShapeError(f"needs a (height, width, channels) input, got {shape}")
    return LayerShape((params.height, params.width, shape[-1]))


def _keras(name: str, params: Params, **extra: Any) -> object:
    import keras

    return getattr(keras.layers, name)(**params.model_dump(exclude={"type"}), **extra)


@hookimpl
def register_layers(register) -> None:
    register("Rescaling", RescalingParams, lambda p: _keras("Rescaling", p), shape=same_shape)
    register("Resizing", ResizingParams, lambda p: _keras("Resizing", p), shape=sized_shape)
    register("CenterCrop", SizeParams, lambda p: _keras("CenterCrop", p), shape=sized_shape)
    augmentation = {
        "RandomFlip": RandomFlipParams,
        "RandomRotation": RandomRotationParams,
        "RandomZoom": RandomZoomParams,
        "RandomTranslation": RandomTranslationParams,
        "RandomContrast": RandomContrastParams,
        "RandomBrightness": RandomBrightnessParams,
        "GaussianNoise": GaussianNoiseParams,
    }
    for name, params in augmentation.items():
        register(name, params, lambda p, name=name: _keras(name, p), shape=same_shape, augmentation=True)
    register("RandomCrop", SizeParams, lambda p: _keras("RandomCrop", p), shape=sized_shape, augmentation=True)
