"""Backbones built by Keras: the table's shapes and parameter counts, weights from a local file
loaded exactly, the preprocessing each architecture expects, and imagenet failing clearly offline.
Nothing here downloads: imagenet's download is replaced by one that fails as it does offline."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from cnnbuild import build_model
from cnnbuild.errors import CnnbuildError
from cnnbuild.plugins.builtin.backbone_table import ARCHITECTURES
from cnnbuild.spec import spec_from_text
from cnnbuild.testing import assert_shape_matches_keras


@pytest.mark.parametrize(
    "params, shape",
    [
        ({"architecture": "MobileNetV3Small", "weights": "none"}, (32, 32, 3)),
        ({"architecture": "MobileNetV3Small", "weights": "none", "pooling": "none", "trainable": True}, (65, 33, 3)),
        ({"architecture": "MobileNetV3Small", "weights": "none", "pooling": "max"}, (40, 97, 1)),
    ],
)
def test_mobilenet_v3_small_matches_the_table_at_several_sizes(params, shape):
    assert_shape_matches_keras("Backbone", params, shape)


FAMILIES = ["ResNet50", "MobileNet", "MobileNetV2", "EfficientNetB0", "EfficientNetV2B0", "ConvNeXtTiny", "DenseNet121", "InceptionV3", "Xception", "NASNetMobile", "VGG16"]


@pytest.mark.slow
@pytest.mark.parametrize("architecture", FAMILIES)
def test_one_architecture_of_each_family_matches_the_table(architecture):
    size = ARCHITECTURES[architecture].min_size
    for shape in ((size, size + 13, 3), (size + 31, size, 1)):
        assert_shape_matches_keras("Backbone", {"architecture": architecture, "weights": "none", "pooling": "none"}, shape)


def _backbone_core(model):
    import keras

    backbone = model.get_layer("0_backbone")
    return next(layer for layer in backbone.layers if isinstance(layer, keras.Model))


def _spec(weights: str, extra: str = "") -> object:
    text = (
        "data: {type: digits, image_size: [32, 32], color_mode: rgb}\nmodel:\n  layers:\n"
        f"    - {{type: Backbone, architecture: MobileNetV3Small, weights: {weights}{extra}}}\n    - {{type: Dense, units: auto}}\n"
    )
    return spec_from_text(text, num_classes=3)


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory):
    """A MobileNetV3Small's weights, each tensor random, in a .weights.h5 file, with the tensors."""
    import keras

    core = keras.applications.MobileNetV3Small(include_top=False, weights=None, input_shape=(32, 32, 3), pooling="avg")
    rng = np.random.RandomState(7)
    for weight in core.weights:
        weight.assign(rng.uniform(-1, 1, weight.shape).astype("float32"))
    path = tmp_path_factory.mktemp("weights") / "mobilenet_v3_small.weights.h5"
    core.save_weights(path)
    return path, [weight.numpy() for weight in core.weights]


def test_a_backbone_from_a_local_weights_file_gets_exactly_those_weights(weights_file):
    path, expected = weights_file
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    model = build_model(_spec(str(path), f", sha256: {digest}"), num_classes=3)
    loaded = [weight.numpy() for weight in _backbone_core(model).weights]
    assert len(loaded) == len(expected) == 206
    assert all(np.array_equal(a, b) for a, b in zip(loaded, expected))
    assert not model.get_layer("0_backbone").trainable_weights  # frozen by default


def test_a_weights_file_with_another_checksum_or_for_another_network_fails_before_training(weights_file, tmp_path):
    path, _ = weights_file
    with pytest.raises(CnnbuildError, match=r"has SHA-256 [0-9a-f]{64}, not the a{64} the spec gives"):
        build_model(_spec(str(path), ", sha256: " + "a" * 64), num_classes=3)
    with pytest.raises(CnnbuildError, match="does not exist"):
        build_model(_spec(str(tmp_path / "missing.weights.h5")), num_classes=3)
    text = str(path.parent / "x.weights.h5")
    import keras

    keras.applications.MobileNetV3Large(include_top=False, weights=None, input_shape=(32, 32, 3)).save_weights(text)
    with pytest.raises(CnnbuildError, match=r"cannot load .*x\.weights\.h5.*the file must hold the weights of keras.applications.MobileNetV3Small\(include_top=False\)"):
        build_model(_spec(text), num_classes=3)


def test_imagenet_offline_names_the_file_the_cache_and_the_way_out(monkeypatch, tmp_path):
    from keras.src.utils import file_utils

    def offline(fname, origin, *args, **kwargs):
        raise Exception(f"URL fetch failure on {origin}: None -- [Errno -2] Name or service not known")

    monkeypatch.setattr(file_utils, "get_file", offline)
    with pytest.raises(CnnbuildError) as caught:
        build_model(_spec("imagenet"), num_classes=3)
    message = str(caught.value)
    assert "weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5" in message and "URL fetch failure" in message
    assert "/.keras/models" in message.replace("\\", "/") and "weights: PATH" in message


@pytest.mark.parametrize(
    "architecture, module",
    [("ResNet50", "resnet"), ("VGG16", "vgg16"), ("DenseNet121", "densenet"), ("MobileNetV2", "mobilenet_v2"), ("Xception", "xception")],
)
def test_the_preprocessing_in_the_model_is_the_architectures_preprocess_input(architecture, module):
    import keras

    from cnnbuild.plugins.builtin.backbones import _preprocessing

    images = np.random.RandomState(1).uniform(0, 255, (2, 5, 4, 3)).astype("float32")
    inputs = keras.Input(shape=(5, 4, 3))
    model = keras.Model(inputs, _preprocessing(architecture, inputs))
    expected = getattr(keras.applications, module).preprocess_input(images.copy())
    np.testing.assert_allclose(model.predict(images, verbose=0), expected, rtol=1e-5, atol=1e-4)


def test_summary_and_diagram_describe_an_imagenet_backbone_without_its_weights(monkeypatch):
    from keras.src.utils import file_utils

    from cnnbuild.builder.model.summary import model_summary

    def offline(fname, origin, *args, **kwargs):
        raise AssertionError(f"summary tried to download {fname}")

    monkeypatch.setattr(file_utils, "get_file", offline)
    summary = model_summary(_spec("imagenet"), num_classes=3)
    assert summary.total_params == ARCHITECTURES["MobileNetV3Small"].params + 576 * 3 + 3
    assert summary.notes == ["Backbone MobileNetV3Small (imagenet): built without its pretrained weights for this summary (the shapes and counts are the same); run loads them"]


def test_a_backbone_runs_as_at_inference_while_the_model_trains():
    """EfficientNet's stochastic depth (Dropout layers) must not drop anything: Keras 3 passes
    the outer training=True into a nested model even when it is called with training=False."""
    text = "data: {type: digits, image_size: [32, 32], color_mode: rgb}\nmodel:\n  layers:\n    - {type: Backbone, architecture: EfficientNetB0, weights: none}\n    - {type: Dense, units: auto}\n"
    model = build_model(spec_from_text(text, num_classes=3), 3)
    images = np.random.RandomState(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    training = [model(images, training=True).numpy() for _ in range(2)]
    np.testing.assert_array_equal(training[0], training[1])
    np.testing.assert_array_equal(training[0], model(images, training=False).numpy())
