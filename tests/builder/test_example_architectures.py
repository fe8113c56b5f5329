"""The U-Net and ConvNeXt examples against the same networks written by hand in Keras: equal
parameter counts, from cnnbuild's inference without TensorFlow and from the model it builds."""

from __future__ import annotations

from pathlib import Path

from cnnbuild import build_model, load_spec
from cnnbuild.plugins.manager import get_registry
from cnnbuild.spec.shapes import infer_spec

REPO = Path(__file__).resolve().parents[2]
CLASSES = 10


def hand_written_unet(keras):
    layers = keras.layers

    def double_conv(x, filters):
        for _ in range(2):
            x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
            x = layers.BatchNormalization()(x)
            x = layers.ReLU()(x)
        return x

    inputs = keras.Input((32, 32, 1))
    x = layers.Rescaling(1 / 255)(inputs)
    enc1 = double_conv(x, 16)
    enc2 = double_conv(layers.MaxPooling2D()(enc1), 32)
    bottom = double_conv(layers.MaxPooling2D()(enc2), 64)
    up1 = layers.Conv2DTranspose(32, 2, strides=2)(bottom)
    x = double_conv(layers.Concatenate()([up1, enc2]), 32)
    up2 = layers.Conv2D(16, 1)(layers.UpSampling2D(2, interpolation="bilinear")(x))
    x = double_conv(layers.Concatenate()([up2, enc1]), 16)
    outputs = layers.Dense(CLASSES)(layers.GlobalAveragePooling2D()(x))
    return keras.Model(inputs, outputs)


def hand_written_convnext(keras):
    layers = keras.layers

    def block(x, width):
        y = layers.DepthwiseConv2D(7, padding="same")(x)
        y = layers.LayerNormalization(epsilon=1e-6)(y)
        y = layers.Dense(4 * width)(y)
        y = layers.Activation("gelu")(y)
        y = layers.Dense(width)(y)
        return layers.Add()([x, y])

    inputs = keras.Input((32, 32, 1))
    x = layers.Rescaling(1 / 255)(inputs)
    x = layers.LayerNormalization(epsilon=1e-6)(layers.Conv2D(32, 4, strides=4)(x))
    x = block(block(x, 32), 32)
    x = layers.Conv2D(64, 2, strides=2)(layers.LayerNormalization(epsilon=1e-6)(x))
    x = block(block(x, 64), 64)
    x = layers.LayerNormalization(epsilon=1e-6)(layers.GlobalAveragePooling2D()(x))
    return keras.Model(inputs, layers.Dense(CLASSES)(x))


def check(example: str, hand_written) -> int:
    import keras

    spec = load_spec(REPO / "examples" / example)
    reference = hand_written(keras)
    rows = infer_spec(spec, get_registry(), CLASSES)
    model = build_model(spec, num_classes=CLASSES)
    assert sum(row.params for row in rows) == model.count_params() == reference.count_params()
    assert sum(row.non_trainable for row in rows) == sum(int(keras.ops.size(w)) for w in reference.non_trainable_weights)
    assert rows[-1].output_shape == tuple(model.output.shape[1:]) == tuple(reference.output.shape[1:]) == (CLASSES,)
    return reference.count_params()


def test_the_unet_example_has_the_hand_written_unets_parameters():
    # the count the example's comment gives
    assert check("unet_digits.yaml", hand_written_unet) == 116_330


def test_the_convnext_example_has_the_hand_written_convnexts_parameters():
    assert check("convnext_digits.yaml", hand_written_convnext) == 102_570
