"""Augmentation policies (RandAugment, AugMix, Pipeline) and batch mixing (MixUp, CutMix).

MixUp and CutMix are registered with ``mixes_labels=True``: cnnbuild calls them in the tf.data
pipeline on ``{"images": x, "labels": y}`` with one-hot (or binary) labels, so the labels are
mixed with the same weights as the pixels, and ``loss: auto`` becomes the categorical form.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from cnnbuild.contracts.layers import LayerContext, LayerShape, Shape, ShapeError, same_shape
from cnnbuild.contracts.values import AugmentationList, Params, PositiveInt, PositiveNumber
from cnnbuild.plugins.builtin.fixed_keras_layers import fixed_layer_classes
from cnnbuild.plugins.builtin.keras_catalogue import catalogued
from cnnbuild.plugins.builtin.preprocessing_layers import Fraction, ValueRange, from_zero, keras_layer, not_offered, refused
from cnnbuild.plugins.hookspecs import hookimpl


class RandAugmentParams(Params):
    value_range: ValueRange = (0.0, 255.0)
    num_ops: PositiveInt = Field(2, le=11, description="operations per batch, drawn from 11 (the same for every image of a batch)")
    factor: Fraction = Field(0.5, description="strength of the operations, in [0, 1]; each draws its magnitude from [0, factor]")
    interpolation: Literal["bilinear", "nearest"] = "bilinear"


class AugMixParams(Params):
    value_range: ValueRange = (0.0, 255.0)
    num_chains: PositiveInt = Field(3, le=16)
    chain_depth: PositiveInt = Field(3, le=16)
    factor: Fraction = Field(0.3, description="strength of each operation, in [0, 1]")
    alpha: PositiveNumber = Field(1.0, description="concentration of the Dirichlet chain weights and of the Beta blend with the original")
    all_ops: bool = Field(True, description="also brightness, colour degeneration, contrast and sharpness")
    interpolation: Literal["bilinear", "nearest"] = "bilinear"


class PipelineParams(Params):
    layers: AugmentationList = Field(description="augmentation entries, applied in order")


class MixUpParams(Params):
    alpha: PositiveNumber = Field(0.2, description="each image's weight is drawn from Beta(alpha, alpha); small alpha: mostly one image")


class CutMixParams(Params):
    factor: Fraction = Field(1.0, description="alpha is drawn from [0, factor] (or [lower, upper]) per batch; the box covers 1 - Beta(alpha, alpha) of the image")


def _aug_mix(params: AugMixParams) -> Any:
    options = params.model_dump(exclude={"type"})
    return fixed_layer_classes()["AugMix"](**{**options, "factor": from_zero(params.factor)})


def _entries(params: PipelineParams) -> list[Any]:
    """The nested entries (validated parameter models once the spec model has typed them)."""
    return [entry for entry in params.layers if not isinstance(entry, dict)]


def _pipeline(params: PipelineParams, *, context: LayerContext) -> Any:
    import keras

    return keras.layers.Pipeline([context.make_layer(entry) for entry in _entries(params)])


def _pipeline_shape(params: PipelineParams, shape: Shape, *, context: LayerContext) -> LayerShape:
    for index, entry in enumerate(_entries(params)):
        try:
            declared = context.layer_shape(entry, shape)
        except ShapeError as exc:
            raise ShapeError(f"layers[{index}] ({entry.type}) {exc}", exc.hint) from exc
        if declared is None:
            return LayerShape(shape)
        shape = tuple(declared.output_shape)
    return LayerShape(shape)


@hookimpl
def register_layers(register: Any) -> None:
    register = catalogued(register)
    register("RandAugment", RandAugmentParams, lambda p: keras_layer("RandAugment", p, factor=from_zero(p.factor)), shape=same_shape, augmentation=True)
    register("AugMix", AugMixParams, _aug_mix, shape=same_shape, augmentation=True)
    register("Pipeline", PipelineParams, _pipeline, shape=_pipeline_shape, augmentation=True, context=True)
    register("MixUp", MixUpParams, lambda p: keras_layer("MixUp", p), shape=same_shape, mixes_labels=True)
    register("CutMix", CutMixParams, lambda p: keras_layer("CutMix", p, factor=from_zero(p.factor)), shape=same_shape, mixes_labels=True)
    equalization = (
        "Keras 3.15's Equalization cannot be part of a Keras model, computes one histogram over the whole batch (an image's result depends on "
        "the others), and as deterministic preprocessing applied to training images only it would make them unlike the validation images; "
        "RandAugment and AugMix include it as one of their random operations"
    )
    register("Equalization", refused("Equalization", equalization), not_offered, augmentation=True)
