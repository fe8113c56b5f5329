"""Rescaling, Resizing, CenterCrop, GaussianNoise and the geometric and basic random augmentation layers.

Where a Keras 3.15 layer reads a bare number differently from its own documentation, the
factory passes the explicit pair that gives the documented meaning (the README says which).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator

from cnnbuild.contracts.layers import LayerShape, Shape, ShapeError, same_shape
from cnnbuild.contracts.values import Factor, Interpolation, Number, Params, PositiveInt, Probability, factor_within
from cnnbuild.plugins.builtin.fixed_keras_layers import fixed_layer_classes
from cnnbuild.plugins.builtin.keras_catalogue import catalogued
from cnnbuild.plugins.hookspecs import hookimpl

FillMode = Literal["reflect", "wrap", "constant", "nearest"]
ValueRange = tuple[Number, Number]
Fraction = factor_within(0, 1)
Signed = factor_within(-1, 1)


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
    height_factor: Signed = Field(description="negative zooms in, positive zooms out, e.g. 0.1 or [-0.2, 0.2]")
    width_factor: Signed | None = Field(None, description="default: keep the aspect ratio")
    fill_mode: FillMode = "reflect"
    interpolation: Literal["bilinear", "nearest"] = "bilinear"
    fill_value: Number = 0.0


class RandomTranslationParams(Params):
    height_factor: Signed
    width_factor: Signed
    fill_mode: FillMode = "reflect"
    interpolation: Literal["bilinear", "nearest"] = "bilinear"
    fill_value: Number = 0.0


class RandomShearParams(Params):
    x_factor: Fraction = Field(0.0, description="a number f shears by up to +/-f; [lower, upper]: by a magnitude in that range, either sign")
    y_factor: Fraction = 0.0
    interpolation: Literal["bilinear", "nearest"] = "bilinear"
    fill_mode: FillMode = "reflect"
    fill_value: Number = 0.0


class RandomPerspectiveParams(Params):
    factor: Probability = Field(1.0, description="probability that an image is warped")
    scale: Probability = Field(1.0, description="how far the corners may move, in [0, 1]")
    interpolation: Literal["bilinear", "nearest"] = "bilinear"
    fill_value: Number = 0.0


class RandomContrastParams(Params):
    factor: Fraction = Field(description="a number f: contrast varies in [1 - f, 1 + f]; [lower, upper]: in [1 - lower, 1 + upper]")
    value_range: ValueRange = (0.0, 255.0)


class RandomBrightnessParams(Params):
    factor: Signed = Field(description="brightness shift as a fraction of value_range, in [-1, 1]")
    value_range: ValueRange = (0.0, 255.0)


class RandomErasingParams(Params):
    factor: Probability = Field(1.0, description="probability that an image gets an erased rectangle")
    scale: Fraction = Field((0.02, 0.33), description="each side of the rectangle is sqrt(U(scale)) of the image's side")
    fill_value: Number | tuple[Number, Number, Number] | None = Field(None, description="a grey level or [r, g, b]; default: noise")
    value_range: ValueRange = (0.0, 255.0)


class RandomGaussianBlurParams(Params):
    factor: Probability = Field(1.0, description="probability that an image is blurred")
    kernel_size: PositiveInt | tuple[PositiveInt, PositiveInt] = Field(3, description="odd: a size, or [height, width]")
    sigma: Fraction = Field(1.0, description="standard deviation in pixels, at most 1 in Keras 3.15: a number s means U(0, s); one value per batch")
    value_range: ValueRange = (0.0, 255.0)

    @model_validator(mode="after")
    def _odd(self) -> RandomGaussianBlurParams:
        sizes = self.kernel_size if isinstance(self.kernel_size, tuple) else (self.kernel_size,)
        if any(size % 2 == 0 for size in sizes):
            raise ValueError(f"kernel_size must be odd, got {self.kernel_size}")
        return self


def refused(name: str, reason: str) -> type[Params]:
    """A parameter model that refuses every entry of ``name``, saying why (a Keras layer cnnbuild does not offer)."""

    class Refused(Params):
        model_config = ConfigDict(json_schema_extra={"not": {}, "description": f"not offered: {reason}"})

        @model_validator(mode="before")
        @classmethod
        def _refuse(cls, data: Any) -> Any:
            raise ValueError(f"{name} is not offered: {reason}")

    return Refused


def not_offered(params: Params) -> Any:
    raise TypeError("refused at validation")


class GaussianNoiseParams(Params):
    stddev: Number = Field(gt=0, le=1, description="in the units of the layer's input; Keras allows at most 1, so use it after Rescaling(1/255)")


def sized_shape(params: SizeParams, shape: Shape) -> LayerShape:
    if len(shape) != 3:
        raise ShapeError(f"needs a (height, width, channels) input, got {shape}")
    return LayerShape((params.height, params.width, shape[-1]))


def symmetric(factor: float | tuple[float, float]) -> tuple[float, float]:
    """A number f as the pair (f, f), which Keras reads as [1 - f, 1 + f] or as probability f."""
    return factor if isinstance(factor, tuple) else (factor, factor)


def from_zero(factor: float | tuple[float, float]) -> tuple[float, float]:
    """A number f as the pair (0, f)."""
    return factor if isinstance(factor, tuple) else (0.0, factor)


def keras_layer(name: str, params: Params, **changed: Any) -> Any:
    """``keras.layers.<name>`` with the entry's parameters, ``changed`` replacing some of them."""
    import keras

    return getattr(keras.layers, name)(**{**params.model_dump(exclude={"type"}), **changed})


def register_each(register: Any, factories: dict[str, tuple[type[Params], Any]], **options: Any) -> None:
    """Register every ``name: (params, factory)`` with the same options."""
    for name, (params, factory) in factories.items():
        register(name, params, factory, **options)


def _random_crop(params: SizeParams) -> Any:
    # Keras's RandomCrop returns the uncropped image at inference, so predict breaks after Flatten;
    # cnnbuild's crops the centre at inference, as torchvision recipes do.
    return fixed_layer_classes()["RandomCrop"](height=params.height, width=params.width)


def _plain(name: str) -> Any:
    return lambda p: keras_layer(name, p)


@hookimpl
def register_layers(register: Any) -> None:
    register = catalogued(register)
    register("Rescaling", RescalingParams, _plain("Rescaling"), shape=same_shape)
    register("Resizing", ResizingParams, _plain("Resizing"), shape=sized_shape)
    register("CenterCrop", SizeParams, _plain("CenterCrop"), shape=sized_shape)
    register(
        "GaussianNoise", GaussianNoiseParams, _plain("GaussianNoise"), shape=same_shape,
        not_augmentation="Keras's GaussianNoise takes stddev up to 1, one grey level of the 0..255 images augmentation sees; "
        "put it in model.layers after Rescaling(1/255), where stddev is a fraction of the range",
    )  # fmt: skip
    register_each(
        register,
        {
            "RandomFlip": (RandomFlipParams, _plain("RandomFlip")),
            "RandomRotation": (RandomRotationParams, _plain("RandomRotation")),
            "RandomZoom": (RandomZoomParams, _plain("RandomZoom")),
            "RandomTranslation": (RandomTranslationParams, _plain("RandomTranslation")),
            # a number f: Keras would store (-f, f), which it refuses to load again; (0, f) with its random sign draws the same
            "RandomShear": (RandomShearParams, lambda p: keras_layer("RandomShear", p, x_factor=from_zero(p.x_factor), y_factor=from_zero(p.y_factor))),
            "RandomPerspective": (RandomPerspectiveParams, lambda p: keras_layer("RandomPerspective", p, factor=symmetric(p.factor))),
            # Keras 3.15 reads a number f as [1, 1 + f] (contrast only ever rises), not as its docs' [1 - f, 1 + f]
            "RandomContrast": (RandomContrastParams, lambda p: keras_layer("RandomContrast", p, factor=symmetric(p.factor))),
            "RandomBrightness": (RandomBrightnessParams, _plain("RandomBrightness")),
            "RandomErasing": (RandomErasingParams, lambda p: keras_layer("RandomErasing", p, factor=symmetric(p.factor))),
            "RandomGaussianBlur": (RandomGaussianBlurParams, lambda p: keras_layer("RandomGaussianBlur", p, factor=symmetric(p.factor), sigma=from_zero(p.sigma))),
        },
        shape=same_shape,
        augmentation=True,
    )
    register("RandomCrop", SizeParams, _random_crop, shape=sized_shape, augmentation=True)
    elastic = (
        "in tf.data Keras 3.15 replaces every image of a batch of unknown size (cnnbuild's batches) with the warped first image, "
        "its x and y displacements are equal, and it costs about 3.6 s of CPU per 32 images; use RandomRotation, RandomZoom, RandomShear or RandomPerspective"
    )
    register("RandomElasticTransform", refused("RandomElasticTransform", elastic), not_offered, augmentation=True)


@hookimpl
def keras_objects() -> dict[str, Any]:
    return {f"cnnbuild>{name}": cls for name, cls in fixed_layer_classes().items()}
