"""Dense, Dropout, GaussianDropout, Flatten, Activation, BatchNormalization and SpatialDropout2D."""

from __future__ import annotations

import math

from pydantic import Field

from cnnbuild.contracts.layers import LayerShape, Shape, ShapeError, same_shape
from cnnbuild.contracts.values import Activation, Fraction01, Initializer, Params, PositiveNumber, Units
from cnnbuild.plugins.builtin.keras_catalogue import catalogued
from cnnbuild.plugins.hookspecs import hookimpl


class DenseParams(Params):
    units: Units = Field(description="output units; auto: the number of classes (1 for binary labels)")
    activation: Activation | None = None
    use_bias: bool = True
    kernel_initializer: Initializer = "glorot_uniform"


class DropoutParams(Params):
    rate: Fraction01 = Field(description="fraction of inputs dropped while training, in [0, 1)")


class GaussianDropoutParams(Params):
    rate: Fraction01 = Field(description="drop probability: inputs are multiplied by noise of mean 1 and standard deviation sqrt(rate / (1 - rate)) while training")


class NoParams(Params):
    pass


class ActivationParams(Params):
    activation: Activation


class BatchNormalizationParams(Params):
    momentum: Fraction01 = 0.99
    epsilon: PositiveNumber = 0.001
    center: bool = True
    scale: bool = True


def dense_shape(params: DenseParams, shape: Shape) -> LayerShape:
    units = int(params.units)
    weights = shape[-1] * units + (units if params.use_bias else 0)
    return LayerShape((*shape[:-1], units), weights)


def flatten_shape(params: NoParams, shape: Shape) -> LayerShape:
    return LayerShape((math.prod(shape),))



def batch_norm_shape(params: BatchNormalizationParams, shape: Shape) -> LayerShape:
    channels = shape[-1]
    trainable = channels * (int(params.center) + int(params.scale))
    return LayerShape(shape, trainable + 2 * channels, 2 * channels)


def spatial_dropout_shape(params: DropoutParams, shape: Shape) -> LayerShape:
    if len(shape) != 3:
        raise ShapeError(f"needs a (height, width, channels) input, got {shape}", "put it before Flatten")
    return LayerShape(shape)


def _keras(name: str, **kwargs: object) -> object:
    import keras

    return getattr(keras.layers, name)(**kwargs)


@hookimpl
def register_layers(register) -> None:
    register = catalogued(register)
    register("Dense", DenseParams, lambda p: _keras("Dense", **p.model_dump(exclude={"type"})), shape=dense_shape)
    register("Dropout", DropoutParams, lambda p: _keras("Dropout", rate=p.rate), shape=same_shape)
    register("GaussianDropout", GaussianDropoutParams, lambda p: _keras("GaussianDropout", rate=p.rate), shape=same_shape)
    register("SpatialDropout2D", DropoutParams, lambda p: _keras("SpatialDropout2D", rate=p.rate), shape=spatial_dropout_shape)
    register("Flatten", NoParams, lambda p: _keras("Flatten"), shape=flatten_shape)
    register("Activation", ActivationParams, lambda p: _keras("Activation", activation=p.activation), shape=same_shape)
    register("BatchNormalization", BatchNormalizationParams, lambda p: _keras("BatchNormalization", **p.model_dump(exclude={"type"})), shape=batch_norm_shape)
