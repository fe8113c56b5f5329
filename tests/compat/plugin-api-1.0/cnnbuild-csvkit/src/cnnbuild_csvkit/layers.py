"""The Keras layer behind ``ResidualConv2D`` (imported only when a model is built or loaded)."""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="cnnbuild_csvkit")
class ResidualConv2D(keras.layers.Layer):
    """relu(conv(relu(conv(x))) + shortcut(x)); the shortcut is a 1x1 convolution when the channels change."""

    def __init__(self, filters: int, kernel_size: int = 3, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.kernel_size = kernel_size

    def build(self, input_shape):
        channels = input_shape[-1]
        self.first = keras.layers.Conv2D(self.filters, self.kernel_size, padding="same", activation="relu", dtype=self.dtype_policy)
        self.second = keras.layers.Conv2D(self.filters, self.kernel_size, padding="same", dtype=self.dtype_policy)
        self.first.build(input_shape)
        self.second.build((*input_shape[:-1], self.filters))
        self.projection = None
        if channels != self.filters:
            self.projection = keras.layers.Conv2D(self.filters, 1, dtype=self.dtype_policy)
            self.projection.build(input_shape)

    def call(self, inputs):
        shortcut = inputs if self.projection is None else self.projection(inputs)
        return keras.ops.relu(self.second(self.first(inputs)) + shortcut)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size}
