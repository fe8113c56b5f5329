"""The serving graph every format is made from: raw uint8 images of any size in, probabilities out.

uint8 ``(N, H, W, C)`` -> centre crop to the model's aspect ratio (when training cropped) ->
``tf.image.resize`` with the training interpolation -> the Keras model -> softmax or sigmoid
(a one-unit binary model gives the two columns ``[1 - p, p]``).

This module imports TensorFlow; it is imported only by what exports or runs a model.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from cnnbuild.data.decode import aspect_window
from cnnbuild.export.metadata import INPUT_NAME, OUTPUT_NAME, ExportMetadata


def crop_to_aspect(images: Any, height: int, width: int) -> Any:
    """The largest centred window of ``height:width`` aspect: the window training crops
    (:func:`cnnbuild.data.decode.aspect_window`, integer arithmetic, which full-int8 TFLite needs)."""
    shape = tf.shape(images)
    top, left, crop_height, crop_width = aspect_window(shape[1], shape[2], height, width)
    # a plain strided slice converts to every format (crop_to_bounding_box adds assertions)
    return images[:, top : top + crop_height, left : left + crop_width, :]


def preprocess(images: Any, info: ExportMetadata) -> Any:
    """uint8 ``(N, H, W, C)`` -> float32 ``(N, height, width, C)`` with the pixels training fed the model."""
    height, width = info.input.image_size
    if info.input.crop_to_aspect_ratio:
        images = crop_to_aspect(images, height, width)
    # training resizes the uint8 image (resize computes in float32 either way, antialias off)
    return tf.image.resize(tf.cast(images, tf.float32), (height, width), method=info.input.interpolation)


def probabilities(outputs: Any, info: ExportMetadata) -> Any:
    """The Keras model's outputs as class probabilities, as ``builder.model.outputs`` computes them."""
    outputs = tf.cast(outputs, tf.float32)
    if info.output.applied == "softmax":
        outputs = tf.nn.softmax(outputs, axis=-1)
    elif info.output.applied == "sigmoid":
        outputs = tf.sigmoid(outputs)
    if info.output.binary_two_columns:
        outputs = tf.concat([1.0 - outputs, outputs], axis=-1)
    if info.output.target_mean:  # regression: values in the targets' original units
        outputs = outputs * tf.constant(info.output.target_std, tf.float32) + tf.constant(info.output.target_mean, tf.float32)
    return outputs


class ServingModule(tf.Module):
    """A Keras model wrapped as ``serve(images: uint8[N, H, W, C]) -> {"probabilities": float32[N, classes]}``."""

    def __init__(self, model: Any, info: ExportMetadata) -> None:
        super().__init__(name="cnnbuild_serving")
        # Keras 3 variables are not tf.Variables, so tf.Module does not see them: without this
        # list the TFLite converter leaves the weights uninitialised (NaN out, int8 calibration fails).
        # The model itself is not an attribute: saved through it as well, every weight would be stored twice.
        self.model_variables = [variable.value for variable in model.variables]

        def serve(images: Any) -> dict[str, Any]:
            outputs = model(preprocess(images, info), training=False)
            return {OUTPUT_NAME: probabilities(outputs, info)}

        signature = [tf.TensorSpec([None, None, None, info.input.channels], tf.uint8, name=INPUT_NAME)]
        self.serve = tf.function(serve, input_signature=signature)

    def __call__(self, images: Any) -> Any:
        """uint8 numpy ``(N, H, W, C)`` -> float32 numpy probabilities ``(N, classes)``."""
        return self.serve(tf.constant(images))[OUTPUT_NAME].numpy()


def layer_module(layer: Any, input_shape: tuple[int, ...]) -> tf.Module:
    """One layer as a float32 graph of its own (to find which layer a converter cannot take)."""
    module = tf.Module(name="cnnbuild_layer")
    module.layer_variables = [variable.value for variable in layer.variables]
    module.serve = tf.function(lambda x: {OUTPUT_NAME: tf.cast(layer(x, training=False), tf.float32)}, input_signature=[tf.TensorSpec([None, *input_shape], tf.float32, name=INPUT_NAME)])
    return module


def preprocessing_module(info: ExportMetadata) -> tf.Module:
    """The crop and resize alone, as a graph of its own (to tell a preprocessing failure from a layer's)."""
    module = tf.Module(name="cnnbuild_preprocessing")
    signature = [tf.TensorSpec([None, None, None, info.input.channels], tf.uint8, name=INPUT_NAME)]
    module.serve = tf.function(lambda images: {OUTPUT_NAME: preprocess(images, info)}, input_signature=signature)
    return module
