"""The examples written with block expressions and conditions build Keras models with exactly the
parameter counts of hand-written Keras: ResNet-20 (He et al., conv+BN projections) and
keras.applications.MobileNetV2, stage by stage. Built only, never trained."""

from __future__ import annotations

from pathlib import Path

from cnnbuild import build_model
from cnnbuild.plugins.manager import get_registry
from cnnbuild.spec import load_spec
from cnnbuild.spec.shapes import infer_spec

REPO = Path(__file__).resolve().parents[2]


def trainable(model) -> int:
    return sum(int(weight.numpy().size) for weight in model.trainable_weights)


def hand_written_resnet20():
    import keras
    from keras import layers

    def unit(x, filters, strides):
        y = layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False)(x)
        y = layers.BatchNormalization()(y)
        y = layers.Activation("relu")(y)
        y = layers.Conv2D(filters, 3, padding="same", use_bias=False)(y)
        y = layers.BatchNormalization()(y)
        if strides != 1 or x.shape[-1] != filters:
            x = layers.Conv2D(filters, 1, strides=strides, use_bias=False)(x)
            x = layers.BatchNormalization()(x)
        return layers.Activation("relu")(layers.Add()([y, x]))

    inputs = keras.Input((32, 32, 3))
    x = layers.Conv2D(16, 3, padding="same", use_bias=False)(inputs)
    x = layers.Activation("relu")(layers.BatchNormalization()(x))
    for filters, first in ((16, 1), (32, 2), (64, 2)):
        for repetition in range(3):
            x = unit(x, filters, first if repetition == 0 else 1)
    outputs = layers.Dense(10)(layers.GlobalAveragePooling2D()(x))
    return keras.Model(inputs, outputs)


def test_resnet20_example_has_the_trainable_parameters_of_hand_written_keras():
    reference = hand_written_resnet20()
    model = build_model(load_spec(REPO / "examples" / "resnet20_cifar.yaml", num_classes=10), num_classes=10)
    assert trainable(reference) == trainable(model) == 272_474
    assert reference.count_params() == model.count_params() == 274_042


def test_mobilenet_v2_example_has_keras_applications_counts_stage_by_stage():
    import keras

    spec = load_spec(REPO / "examples" / "mobilenet_v2.yaml", num_classes=5)
    rows = infer_spec(spec, get_registry(), 5)
    names = [row.name for row in rows]

    def up_to(node: str) -> int:
        return sum(row.params for row in rows[: names.index(node) + 1])

    reference = keras.applications.MobileNetV2(alpha=1.0, include_top=False, weights=None, input_shape=(160, 160, 3))
    # each stage's last layer in Keras, and the use of the block that ends the same stage here
    stages = {
        "expanded_conv_project_BN": "4_inverted_residual", "block_2_add": "5_inverted_residual", "block_5_add": "6_inverted_residual",
        "block_9_add": "7_inverted_residual", "block_12_add": "8_inverted_residual", "block_15_add": "9_inverted_residual",
        "block_16_project_BN": "10_inverted_residual", "out_relu": "13_re_lu",
    }  # fmt: skip
    for keras_name, node in stages.items():
        truncated = keras.Model(reference.input, reference.get_layer(keras_name).output)
        assert (keras_name, up_to(node)) == (keras_name, truncated.count_params())
    assert reference.count_params() == up_to("13_re_lu") == 2_257_984
    model = build_model(spec, num_classes=5)
    assert model.count_params() == sum(row.params for row in rows) == 2_257_984 + 1280 * 5 + 5
