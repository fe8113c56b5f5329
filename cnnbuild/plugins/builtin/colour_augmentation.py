"""Colour and intensity augmentation (hue, saturation, sharpness, posterization, ...), and the
deterministic contrast layers, which belong in ``model.layers`` because they also apply at inference.

Factors are passed to Keras 3.15 as explicit pairs: several of its layers read a bare number
otherwise than their documentation says (RandomSaturation and RandomColorDegeneration as
[-f, f], probabilities as U(0, f), RandomPosterization as 1..f-1 bits).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator, model_validator

from cnnbuild.contracts.layers import LayerShape, Shape, ShapeError, same_shape
from cnnbuild.contracts.values import Number, Params, PositiveInt, Probability, factor_within
from cnnbuild.plugins.builtin.keras_catalogue import catalogued
from cnnbuild.plugins.builtin.preprocessing_layers import Fraction, Signed, ValueRange, from_zero, keras_layer, register_each, symmetric
from cnnbuild.plugins.hookspecs import hookimpl

Bits = factor_within(1, 8)
Saturation = factor_within(0, 0.999)


def rgb_shape(params: Params, shape: Shape) -> LayerShape:
    """Shape function of a layer that needs three colour channels."""
    if len(shape) != 3 or shape[-1] != 3:
        channels = shape[-1] if shape else None
        raise ShapeError(f"needs RGB images (3 channels), got {channels} channel(s)", "use color_mode: rgb, or leave this layer out")
    return LayerShape(shape)


def _around_half(factor: float | tuple[float, float]) -> tuple[float, float]:
    """A number f as [0.5 - f/2, 0.5 + f/2]: around the no-op value 0.5 of saturation."""
    return factor if isinstance(factor, tuple) else (0.5 - factor / 2, 0.5 + factor / 2)


class RandomHueParams(Params):
    factor: Fraction = Field(description="hue shift up to factor/2 of the colour circle, either way; a number f means [0, f]")
    value_range: ValueRange = (0.0, 255.0)


class RandomSaturationParams(Params):
    factor: Saturation = Field(description="[lower, upper] in [0, 1): 0.5 keeps the colours, 0 is grey, near 1 fully saturated; a number f means [0.5 - f/2, 0.5 + f/2]")


class RandomSharpnessParams(Params):
    factor: Fraction = Field(description="[lower, upper] in [0, 1]: 0 blurred, 0.5 unchanged, 1 sharpened; a number f means [0, f]")
    value_range: ValueRange = (0.0, 255.0)


class RandomColorDegenerationParams(Params):
    factor: Fraction = Field(description="how far towards grey, in [0, 1]; a number f means [0, f]")
    value_range: ValueRange = (0.0, 255.0)


class RandomGrayscaleParams(Params):
    factor: Probability = Field(0.5, description="probability that an image turns grey")


class RandomInvertParams(Params):
    factor: Probability = Field(1.0, description="probability that an image is inverted")
    value_range: ValueRange = (0.0, 255.0)


class RandomPosterizationParams(Params):
    factor: Bits = Field(description="bits kept per channel, 1 to 8: a number or [fewest, most] (both included)")
    value_range: ValueRange = (0.0, 255.0)


class SolarizationParams(Params):
    addition_factor: Fraction = Field(0.0, description="added before the threshold: a number f or [0, f] adds U(0, f) of the range")
    threshold_factor: Fraction = Field(0.0, description="pixels at or above U(0, f) of the range are inverted; the default 0 inverts every pixel")
    value_range: ValueRange = (0.0, 255.0)

    @field_validator("addition_factor", "threshold_factor")
    @classmethod
    def _from_zero(cls, value: Any) -> Any:
        if isinstance(value, tuple) and value[0] != 0:
            raise ValueError(f"Keras 3.15 scales only the upper end of the range by 255, so [{value[0]:g}, {value[1]:g}] would draw from [{value[0]:g}, {value[1] * 255:g}]; give a number or [0, upper]")
        return value


class RandomColorJitterParams(Params):
    brightness_factor: Signed | None = Field(None, description="as RandomBrightness's factor")
    contrast_factor: Fraction | None = Field(None, description="as RandomContrast's factor")
    saturation_factor: Saturation | None = Field(None, description="as RandomSaturation's factor")
    hue_factor: Fraction | None = Field(None, description="as RandomHue's factor")
    value_range: ValueRange = (0.0, 255.0)

    @model_validator(mode="after")
    def _something(self) -> RandomColorJitterParams:
        if all(getattr(self, key) is None for key in ("brightness_factor", "contrast_factor", "saturation_factor", "hue_factor")):
            raise ValueError("give at least one of brightness_factor, contrast_factor, saturation_factor, hue_factor")
        return self


class ValueRangeParams(Params):
    value_range: ValueRange = (0.0, 255.0)


class ClaheParams(Params):
    value_range: ValueRange = (0.0, 255.0)
    clip_limit: Number = Field(4.0, gt=0)
    tile_grid_size: tuple[PositiveInt, PositiveInt] = (8, 8)


def _saturation(factor: Any) -> Any:
    # value_range (0, 1) whatever the images' range: Keras clips the HSV saturation (a 0..1
    # quantity) to value_range, so (0, 255) lets it leave the range and the colours go wrong
    return keras_layer("RandomSaturation", RandomSaturationParams(factor=factor), factor=_around_half(factor), value_range=(0, 1))


def _colour_jitter(params: RandomColorJitterParams) -> Any:
    """Keras's RandomColorJitter gives one value_range to all four of its layers, and saturation
    needs (0, 1) where brightness and contrast need the images' range: the same four layers,
    in Keras's order, each with the range it needs."""
    import keras

    value_range = params.value_range
    layers = []
    if params.brightness_factor is not None:
        layers.append(keras.layers.RandomBrightness(params.brightness_factor, value_range=value_range))
    if params.contrast_factor is not None:
        layers.append(keras.layers.RandomContrast(symmetric(params.contrast_factor), value_range=value_range))
    if params.saturation_factor is not None:
        layers.append(_saturation(params.saturation_factor))
    if params.hue_factor is not None:
        layers.append(keras.layers.RandomHue(from_zero(params.hue_factor), value_range=value_range))
    return keras.layers.Pipeline(layers)


def _jitter_shape(params: RandomColorJitterParams, shape: Shape) -> LayerShape:
    return rgb_shape(params, shape) if params.saturation_factor is not None or params.hue_factor is not None else LayerShape(shape)


def _posterization(params: RandomPosterizationParams) -> Any:
    # Keras draws the bits from [lower, upper): one more at the top keeps both ends
    lower, upper = params.factor if isinstance(params.factor, tuple) else (params.factor, params.factor)
    bits = (int(lower), int(lower)) if lower == upper else (int(lower), int(upper) + 1)
    return keras_layer("RandomPosterization", params, factor=bits)


@hookimpl
def register_layers(register: Any) -> None:
    register = catalogued(register)
    register_each(
        register,
        {
            "RandomHue": (RandomHueParams, lambda p: keras_layer("RandomHue", p, factor=from_zero(p.factor))),
            "RandomSaturation": (RandomSaturationParams, lambda p: _saturation(p.factor)),
            "RandomColorDegeneration": (RandomColorDegenerationParams, lambda p: keras_layer("RandomColorDegeneration", p, factor=from_zero(p.factor))),
            "RandomGrayscale": (RandomGrayscaleParams, lambda p: keras_layer("RandomGrayscale", p)),
        },
        shape=rgb_shape,
        augmentation=True,
    )
    register("RandomColorJitter", RandomColorJitterParams, _colour_jitter, shape=_jitter_shape, augmentation=True)
    register_each(
        register,
        {
            "RandomSharpness": (RandomSharpnessParams, lambda p: keras_layer("RandomSharpness", p, factor=from_zero(p.factor))),
            "RandomInvert": (RandomInvertParams, lambda p: keras_layer("RandomInvert", p, factor=symmetric(p.factor))),
            "RandomPosterization": (RandomPosterizationParams, _posterization),
            "Solarization": (SolarizationParams, lambda p: keras_layer("Solarization", p, addition_factor=from_zero(p.addition_factor), threshold_factor=from_zero(p.threshold_factor))),
        },
        shape=same_shape,
        augmentation=True,
    )
    inference_too = "it changes images at inference too (deterministic preprocessing, not a random augmentation); put it in model.layers"
    register("AutoContrast", ValueRangeParams, lambda p: keras_layer("AutoContrast", p), shape=same_shape, not_augmentation=inference_too)
    register("ContrastLimitedAdaptiveHistogramEqualization", ClaheParams, lambda p: keras_layer("ContrastLimitedAdaptiveHistogramEqualization", p), shape=same_shape, aliases=("CLAHE",), not_augmentation=inference_too)
