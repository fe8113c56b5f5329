"""The built Keras models match the tutorial and the pure-Python shape inference, layer by layer."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cnnbuild import build_model, load_spec
from cnnbuild.plugins.manager import get_registry
from cnnbuild.spec import spec_from_text
from cnnbuild.spec.shapes import infer_spec

REPO = Path(__file__).resolve().parents[2]


def keras_rows(model):
    return [(tuple(layer.output.shape[1:]), layer.count_params()) for layer in model.layers]


def python_rows(spec, num_classes):
    return [(row.output_shape, row.params) for row in infer_spec(spec, get_registry(), num_classes)]


def test_flowers_matches_the_tutorial():
    spec = load_spec(REPO / "examples" / "flowers.yaml")
    model = build_model(spec, num_classes=5)
    assert model.count_params() == 3_989_285
    assert model.input_shape == (None, 180, 180, 3)
    assert keras_rows(model) == python_rows(spec, 5)
    assert keras_rows(model)[-1] == ((5,), 645)
    # augmentation runs in the input pipeline by default, so it is not part of the model
    assert not any(type(layer).__name__.startswith("Random") for layer in model.layers)


def test_malaria_matches_the_tutorial():
    spec = load_spec(REPO / "examples" / "malaria.yaml")
    model = build_model(spec, num_classes=2)
    shapes = [tuple(layer.output.shape[1:]) for layer in model.layers]
    assert shapes[1:4] == [(30, 30, 16), (29, 29, 16), (29, 29, 16)]
    assert shapes[8:10] == [(27, 27, 16), (11664,)]
    assert shapes[-1] == (1,)
    assert model.count_params() == 758_401
    assert keras_rows(model) == python_rows(spec, 2)


LAYER_CASES = [
    "{type: Conv2D, filters: 5, kernel_size: [3, 2], strides: 2, padding: valid}",
    "{type: Conv2D, filters: 5, kernel_size: 3, strides: [2, 3], padding: same, use_bias: false}",
    "{type: Conv2D, filters: 4, kernel_size: 3, dilation_rate: 2}",
    "{type: SeparableConv2D, filters: 6, kernel_size: 3, depth_multiplier: 2, padding: same}",
    "{type: DepthwiseConv2D, kernel_size: 3, depth_multiplier: 3, strides: 2}",
    "{type: MaxPooling2D, pool_size: 3, strides: 2}",
    "{type: MaxPooling2D, pool_size: 2, strides: 1}",
    "{type: AveragePooling2D, pool_size: 3, padding: same}",
    "{type: GlobalAveragePooling2D}",
    "{type: GlobalMaxPooling2D, keepdims: true}",
    "{type: BatchNormalization}",
    "{type: SpatialDropout2D, rate: 0.1}",
    "{type: Activation, activation: gelu}",
    "{type: Resizing, height: 7, width: 9}",
    "{type: CenterCrop, height: 5, width: 6}",
    "{type: Rescaling, scale: 1/127.5, offset: -1}",
    "{type: Dense, units: 10, use_bias: false}",
]


@pytest.mark.parametrize("layer", LAYER_CASES)
def test_shape_inference_agrees_with_keras(layer):
    spec = spec_from_text(f"data: {{type: digits, image_size: [15, 17], color_mode: rgb}}\nmodel:\n  layers:\n    - {layer}\n")
    model = build_model(spec, num_classes=10)
    assert keras_rows(model) == python_rows(spec, 10)


def test_augmentation_inside_the_model_when_asked():
    spec = load_spec(REPO / "examples" / "flowers.yaml", ["augmentation_placement=model"])
    model = build_model(spec, num_classes=5)
    assert [type(layer).__name__ for layer in model.layers[:3]] == ["RandomFlip", "RandomRotation", "RandomZoom"]
    assert model.count_params() == 3_989_285


def test_units_auto_without_a_class_count_is_a_clear_error():
    from cnnbuild.errors import CnnbuildError

    spec = load_spec(REPO / "examples" / "flowers.yaml", ["data.path=/nonexistent/flowers"])
    with pytest.raises(CnnbuildError, match=r"model.layers\[10\].units: 'auto' means the number of classes, and they cannot be counted: .*; pass --num-classes N"):
        build_model(spec)


@pytest.mark.parametrize(
    ("layers", "output"),
    [
        ("[Flatten, {type: Dense, units: 8, activation: relu}, {type: Dense, units: auto}]", "model.layers[2]"),  # a chain: keras.Sequential
        ("[{type: Dense, units: 8, name: a}, {type: Dense, units: 8, inputs: input, name: b}, {type: Add, inputs: [a, b]}, Flatten, {type: Dense, units: auto}]", "model.layers[4]"),  # a graph
    ],
)
def test_both_builders_fill_units_auto_and_keep_the_output_layer_in_float32_under_mixed_precision(layers, output):
    import keras

    from cnnbuild.errors import CnnbuildError

    model_section = f"model:\n  layers: {layers}\n"
    spec = spec_from_text("data: {type: digits, image_size: [6, 6], color_mode: grayscale}\n" + model_section)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        model = build_model(spec, num_classes=4)
        outputs = model(keras.ops.zeros((1, 6, 6, 1)))
    finally:
        keras.config.set_dtype_policy(previous)
    assert [layer.dtype_policy.name for layer in model.layers[-2:]] == ["mixed_float16", "float32"]
    assert tuple(outputs.shape) == (1, 4) and keras.backend.standardize_dtype(outputs.dtype) == "float32"
    # the one rule both builders call: units: auto without a class count is an error at the entry
    from cnnbuild.builder.model.build import model_layer

    with pytest.raises(CnnbuildError, match=rf"^{re.escape(output)}\.units is 'auto' but the number of classes is unknown.*--num-classes"):
        model_layer(get_registry(), spec.model.layers[-1], output, (None, False), spec, output=True)
