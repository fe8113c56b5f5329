"""The Keras layer behind ``SqueezeExcitation2D`` (imported only when a model is built or loaded)."""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="cnnbuild_example")
class SqueezeExcitation2D(keras.layers.Layer):
    """Scales each channel by a gate computed from the channel means (Hu et al., 2018)."""

    def __init__(self, ratio: int = 4, **kwargs):
        super().__init__(**kwargs)
        self.ratio = ratio

    def build(self, input_shape):
        channels = input_shape[-1]
        # the inner layers follow this layer's dtype policy (mixed precision included)
        self.squeeze = keras.layers.Dense(max(1, channels // self.ratio), activation="relu", dtype=self.dtype_policy)
        self.excite = keras.layers.Dense(channels, activation="sigmoid", dtype=self.dtype_policy)
        self.squeeze.build((input_shape[0], channels))
        self.excite.build((input_shape[0], max(1, channels // self.ratio)))

    def call(self, inputs):
        gate = keras.ops.mean(inputs, axis=(1, 2))
        gate = self.excite(self.squeeze(gate))
        return inputs * keras.ops.expand_dims(keras.ops.expand_dims(gate, 1), 1)

    def get_config(self):
        return {**super().get_config(), "ratio": self.ratio}
