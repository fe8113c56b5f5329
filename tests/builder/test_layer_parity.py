"""Each layer added for issue 24 against hand-written Keras: the output shape and parameter count
that cnnbuild infers without TensorFlow are those of the Keras layer built directly (not through
cnnbuild's factory), and of the model cnnbuild builds; a model with attention saves and loads."""

from __future__ import annotations

import numpy as np
import pytest

from cnnbuild import build_model
from cnnbuild.builder.model.build import load_saved_model
from cnnbuild.plugins.manager import get_registry
from cnnbuild.spec import spec_from_text
from cnnbuild.spec.shapes import infer_spec

SIZE = (12, 10)  # height, width; 3 channels


#: (entry as written in a spec, the same layer written by hand in Keras on the image input x)
CASES = [
    ("{type: Conv2DTranspose, filters: 4, kernel_size: 3, strides: 2}", lambda k, x: k.layers.Conv2DTranspose(4, 3, strides=2)(x)),
    ("{type: Conv2DTranspose, filters: 4, kernel_size: [3, 2], strides: [2, 3], padding: same, output_padding: [1, 0], use_bias: false}",
     lambda k, x: k.layers.Conv2DTranspose(4, (3, 2), strides=(2, 3), padding="same", output_padding=(1, 0), use_bias=False)(x)),
    ("{type: Conv2DTranspose, filters: 2, kernel_size: 4, strides: 2, padding: valid, output_padding: 1}", lambda k, x: k.layers.Conv2DTranspose(2, 4, strides=2, output_padding=1)(x)),
    ("{type: Conv2DTranspose, filters: 2, kernel_size: 3, dilation_rate: 2, padding: same}", lambda k, x: k.layers.Conv2DTranspose(2, 3, dilation_rate=2, padding="same")(x)),
    ("{type: Conv2D, filters: 6, kernel_size: 3, groups: 3}", lambda k, x: k.layers.Conv2D(6, 3, groups=3)(x)),
    ("{type: UpSampling2D}", lambda k, x: k.layers.UpSampling2D()(x)),
    ("{type: UpSampling2D, size: [3, 1], interpolation: bilinear}", lambda k, x: k.layers.UpSampling2D((3, 1), interpolation="bilinear")(x)),
    ("{type: ZeroPadding2D}", lambda k, x: k.layers.ZeroPadding2D()(x)),
    ("{type: ZeroPadding2D, padding: [[1, 2], [0, 3]]}", lambda k, x: k.layers.ZeroPadding2D(((1, 2), (0, 3)))(x)),
    ("{type: Cropping2D, cropping: [2, 1]}", lambda k, x: k.layers.Cropping2D((2, 1))(x)),
    ("{type: Cropping2D, cropping: [[0, 3], [4, 1]]}", lambda k, x: k.layers.Cropping2D(((0, 3), (4, 1)))(x)),
    ("{type: LayerNormalization}", lambda k, x: k.layers.LayerNormalization()(x)),
    ("{type: LayerNormalization, axis: [1, 2, 3], scale: false}", lambda k, x: k.layers.LayerNormalization(axis=[1, 2, 3], scale=False)(x)),
    ("{type: RMSNormalization}", lambda k, x: k.layers.RMSNormalization()(x)),
    ("{type: RMSNormalization, axis: [1, 2], epsilon: 1e-5}", lambda k, x: k.layers.RMSNormalization(axis=[1, 2], epsilon=1e-5)(x)),
    ("{type: AdaptiveAveragePooling2D, output_size: [4, 3]}", lambda k, x: k.layers.AdaptiveAveragePooling2D((4, 3))(x)),
    ("{type: AdaptiveMaxPooling2D, output_size: 2}", lambda k, x: k.layers.AdaptiveMaxPooling2D(2)(x)),
    ("{type: GroupNormalization, groups: 3}", lambda k, x: k.layers.GroupNormalization(groups=3)(x)),
    ("{type: UnitNormalization, axis: [1, 2]}", lambda k, x: k.layers.UnitNormalization(axis=[1, 2])(x)),
    ("{type: ReLU, max_value: 6}", lambda k, x: k.layers.ReLU(max_value=6.0)(x)),
    ("{type: ReLU, negative_slope: 0.1, threshold: 0.5}", lambda k, x: k.layers.ReLU(negative_slope=0.1, threshold=0.5)(x)),
    ("{type: LeakyReLU, negative_slope: 0.2}", lambda k, x: k.layers.LeakyReLU(negative_slope=0.2)(x)),
    ("{type: PReLU}", lambda k, x: k.layers.PReLU()(x)),
    ("{type: PReLU, shared_axes: [1, 2]}", lambda k, x: k.layers.PReLU(shared_axes=[1, 2])(x)),
    ("{type: ELU, alpha: 0.5}", lambda k, x: k.layers.ELU(alpha=0.5)(x)),
    ("{type: Softmax, axis: -2}", lambda k, x: k.layers.Softmax(axis=-2)(x)),
    ("{type: Reshape, target_shape: [-1, 3]}", lambda k, x: k.layers.Reshape((-1, 3))(x)),
    ("{type: Reshape, target_shape: [30, 12, 1]}", lambda k, x: k.layers.Reshape((30, 12, 1))(x)),
    ("{type: Permute, dims: [2, 1, 3]}", lambda k, x: k.layers.Permute((2, 1, 3))(x)),
    ("{type: Identity}", lambda k, x: k.layers.Identity()(x)),
    ("{type: GaussianDropout, rate: 0.3}", lambda k, x: k.layers.GaussianDropout(0.3)(x)),
    ("{type: MultiHeadAttention, num_heads: 2, key_dim: 4}", lambda k, x: k.layers.MultiHeadAttention(2, 4)(x, x)),
    ("{type: MultiHeadAttention, num_heads: 3, key_dim: 2, value_dim: 5, output_shape: 7, use_bias: false, attention_axes: [2]}",
     lambda k, x: k.layers.MultiHeadAttention(3, 2, value_dim=5, output_shape=7, use_bias=False, attention_axes=[2])(x, x)),
]  # fmt: skip


def spec_of(*layers: str):
    body = "".join(f"    - {layer}\n" for layer in layers)
    return spec_from_text(f"data: {{type: digits, image_size: [{SIZE[0]}, {SIZE[1]}], color_mode: rgb}}\nmodel:\n  layers:\n{body}")


def inferred(spec) -> list[tuple[tuple, int]]:
    return [(row.output_shape, row.params) for row in infer_spec(spec, get_registry(), 10)]


def built(model) -> list[tuple[tuple, int]]:
    return [(tuple(layer.output.shape[1:]), layer.count_params()) for layer in model.layers if type(layer).__name__ != "InputLayer"]


@pytest.mark.parametrize(("entry", "by_hand"), CASES, ids=[entry.split(",")[0].split("}")[0].removeprefix("{type: ") + f"-{index}" for index, (entry, _) in enumerate(CASES)])
def test_inference_matches_hand_written_keras(entry, by_hand):
    import keras

    inputs = keras.Input((*SIZE, 3))
    reference = keras.Model(inputs, by_hand(keras, inputs))
    spec = spec_of(entry)
    assert inferred(spec) == [(tuple(reference.output.shape[1:]), reference.count_params())]
    assert built(build_model(spec, num_classes=10)) == inferred(spec)


def test_minimum_and_cross_attention_match_hand_written_keras():
    import keras

    spec = spec_of(
        "{type: Conv2D, filters: 8, kernel_size: 3, padding: same, name: a}",
        "{type: Conv2D, filters: 8, kernel_size: 1, name: b, inputs: [input]}",
        "{type: Minimum, inputs: [a, b], name: low}",
        "{type: MaxPooling2D, pool_size: 2, name: context}",
        "{type: MultiHeadAttention, num_heads: 2, key_dim: 4, value_dim: 6, inputs: [low, context]}",
    )
    x = keras.Input((*SIZE, 3))
    a = keras.layers.Conv2D(8, 3, padding="same")(x)
    b = keras.layers.Conv2D(8, 1)(x)
    low = keras.layers.Minimum()([a, b])
    context = keras.layers.MaxPooling2D(2)(low)
    out = keras.layers.MultiHeadAttention(2, 4, value_dim=6)(low, context)
    reference = keras.Model(x, out)
    model = build_model(spec, num_classes=10)
    assert model.count_params() == reference.count_params() == sum(params for _, params in inferred(spec))
    assert model.output.shape[1:] == reference.output.shape[1:] == inferred(spec)[-1][0]


def test_a_model_with_attention_saves_loads_and_predicts_the_same(tmp_path):
    spec = spec_of(
        "{type: Conv2D, filters: 4, kernel_size: 3, strides: 2, padding: same, name: query}",
        "{type: MultiHeadAttention, num_heads: 2, key_dim: 4, name: self_attention}",
        "{type: MultiHeadAttention, num_heads: 1, key_dim: 2, inputs: [query, self_attention]}",
        "{type: Conv2DTranspose, filters: 2, kernel_size: 2, strides: 2}",
        "Flatten",
        "{type: Dense, units: auto}",
    )
    model = build_model(spec, num_classes=10)
    images = np.random.default_rng(0).uniform(0, 255, (2, *SIZE, 3)).astype("float32")
    model.save(tmp_path / "model.keras")
    loaded = load_saved_model(tmp_path / "model.keras")
    assert [type(layer).__name__ for layer in loaded.layers].count("MultiHeadAttention") == 2
    np.testing.assert_allclose(loaded.predict(images, verbose=0), model.predict(images, verbose=0), rtol=1e-5, atol=1e-5)
