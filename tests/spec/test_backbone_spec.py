"""Backbone entries and train.fine_tune without TensorFlow: shapes and parameter counts from the
table, what is refused, and the warnings (double rescaling, a pretrained backbone trained whole)."""

from __future__ import annotations

import pytest

from cnnbuild.plugins.builtin.backbone_table import ARCHITECTURES, output_size, weights_file
from cnnbuild.plugins.manager import get_registry
from cnnbuild.spec import SpecError, spec_from_text
from cnnbuild.spec.shapes import infer_spec

HEAD = "    - {type: Dense, units: auto}\n"


def spec_text(backbone: str, *, size: int = 32, color: str = "rgb", before: str = "", train: str = "") -> str:
    return (
        f"data: {{type: digits, image_size: [{size}, {size}], color_mode: {color}}}\nmodel:\n  layers:\n{before}    - {backbone}\n{HEAD}"
        + (f"train:\n{train}" if train else "")
    )


def issues(text: str) -> list[str]:
    try:
        spec = spec_from_text(text, "spec.yaml", num_classes=5)
    except SpecError as exc:
        return [issue.render() for issue in exc.issues]
    return [issue.render() for issue in spec.warnings]


def coded(text: str) -> list[tuple[str, str, str, str]]:
    """``(LINE:COL, path, code, severity)`` of every issue, errors or (for a valid spec) warnings."""
    try:
        found = spec_from_text(text, "spec.yaml", num_classes=5).warnings
    except SpecError as exc:
        found = exc.issues
    return [(f"{issue.line}:{issue.column}", issue.path, str(issue.code), issue.severity) for issue in found]


@pytest.mark.parametrize(
    "architecture, size, pooling, output",
    [
        ("MobileNetV3Small", 32, "avg", (576,)),
        ("MobileNetV3Small", 97, "none", (4, 4, 576)),
        ("ResNet50", 180, "none", (6, 6, 2048)),
        ("ConvNeXtTiny", 180, "none", (5, 5, 768)),
        ("InceptionV3", 75, "none", (1, 1, 2048)),
        ("EfficientNetV2B0", 224, "max", (1280,)),
    ],
)
def test_shapes_and_parameters_come_from_the_table(architecture, size, pooling, output):
    spec = spec_from_text(spec_text(f"{{type: Backbone, architecture: {architecture}, pooling: {pooling}}}", size=size), num_classes=5)
    row = infer_spec(spec, get_registry(), 5)[0]
    table = ARCHITECTURES[architecture]
    assert (row.output_shape, row.params, row.non_trainable) == (output, table.params, table.params)  # frozen: nothing trains


def test_a_trainable_backbone_trains_all_but_its_statistics_and_grayscale_is_repeated():
    spec = spec_from_text(spec_text("{type: Backbone, architecture: MobileNetV3Small, trainable: true, weights: none}", color="grayscale"), num_classes=5)
    row = infer_spec(spec, get_registry(), 5)[0]
    assert (row.input_shape, row.params, row.non_trainable) == ((32, 32, 1), 939_120, 12_112)


def test_the_formulas_and_the_imagenet_file_names():
    assert output_size("DenseNet121", 224, 225) == (7, 7) and output_size("Xception", 71, 299) == (3, 10) and output_size("NASNetMobile", 331, 224) == (11, 7)
    assert weights_file("MobileNetV2", 160, 160) == "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_160_no_top.h5"
    assert weights_file("MobileNetV2", 180, 180) == "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5"
    assert weights_file("MobileNetV3Small", 96, 96) == "weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5"


@pytest.mark.parametrize(
    "backbone, size, color, expected",
    [
        ("{type: Backbone, architecture: MobileNetV3Small}", 31, "rgb",
         "spec.yaml:4:7: model.layers[0]: Backbone cannot take input shape (31, 31, 3): MobileNetV3Small needs images of at least 32x32, got 31x31; use data.image_size of at least [32, 32]"),
        ("{type: Backbone, architecture: Xception}", 70, "rgb",
         "spec.yaml:4:7: model.layers[0]: Backbone cannot take input shape (70, 70, 3): Xception needs images of at least 71x71, got 70x70; use data.image_size of at least [71, 71]"),
        ("{type: Backbone, architecture: ResNet50}", 64, "rgba",
         "spec.yaml:4:7: model.layers[0]: Backbone cannot take input shape (64, 64, 4): ResNet50 takes RGB images (grayscale is repeated to 3 channels), got 4 channels; use color_mode: rgb"),
        ("{type: Backbone, architecture: MobileNetV3Smal}", 64, "rgb",
         "spec.yaml:4:38: model.layers[0].architecture: 'MobileNetV3Smal' is not one of the 40 allowed values; did you mean 'MobileNetV3Small'? (allowed: ResNet50, ResNet101, ResNet152, ResNet50V2, ResNet101V2, ResNet152V2, MobileNet, MobileNetV2, ...)"),
        ("{type: Backbone, architecture: EfficientNetB0, weights: b0.weights.h5}", 64, "rgb",
         "spec.yaml:4:7: model.layers[0]: EfficientNetB0 builds another network for imagenet weights than for any other (Keras adds a Rescaling layer), "
         "so a weights file would load into the wrong preprocessing; use weights: imagenet, or EfficientNetV2B0"),
        ("{type: Backbone, architecture: ResNet50, weights: resnet.npz}", 64, "rgb",
         "spec.yaml:4:7: model.layers[0]: weights is imagenet, none, or a Keras weights file ending in .weights.h5 (or a legacy .h5), got 'resnet.npz'"),
        ("{type: Backbone, architecture: ResNet50, sha256: " + "a" * 64 + "}", 64, "rgb",
         "spec.yaml:4:7: model.layers[0]: sha256 checks a weights file; it applies only when weights is a path"),
    ],
)
def test_what_a_backbone_refuses_is_said_at_its_line(backbone, size, color, expected):
    assert issues(spec_text(backbone, size=size, color=color)) == [expected]


def test_a_rescaling_before_a_backbone_is_a_warning():
    text = spec_text("{type: Backbone, architecture: MobileNetV3Small}", before="    - {type: Rescaling, scale: 1/255}\n")
    assert coded(text) == [("4:7", "model.layers[0]", "double-rescaling", "warning")]
    assert issues(text) == [
        "spec.yaml:4:7: model.layers[0]: warning: this Rescaling changes the pixels before MobileNetV3Small (model.layers[1]), which applies its own "
        "preprocessing to the 0..255 images: they would be rescaled twice; remove the Rescaling"
    ]


def test_fine_tune_needs_a_frozen_backbone():
    plain = "data: {type: digits, image_size: [8, 8]}\nmodel:\n  layers: [Flatten, {type: Dense, units: auto}]\ntrain:\n  fine_tune: {epochs: 2}\n"
    assert coded(plain) == [("5:14", "train.fine_tune", "fine-tune", "error")]
    trained = spec_text("{type: Backbone, architecture: MobileNetV3Small, trainable: true}", train="  fine_tune: {epochs: 2}\n")
    assert coded(trained) == [("4:67", "model.layers[0].trainable", "fine-tune", "error")]
    both = spec_text("{type: Backbone, architecture: MobileNetV3Small}", train="  fine_tune: {epochs: 2, last_layers: 3, from_layer: conv}\n")
    assert coded(both) == [("7:14", "train.fine_tune", "invalid-value", "error")]


def test_a_pretrained_backbone_trained_whole_is_a_warning():
    text = spec_text("{type: Backbone, architecture: MobileNetV3Small, trainable: true}")
    assert coded(text) == [("4:67", "model.layers[0].trainable", "backbone-trainable", "warning")]


def test_a_random_backbone_left_frozen_is_a_warning_at_its_weights():
    text = spec_text("{type: Backbone, architecture: MobileNetV3Small, weights: none}")
    assert coded(text) == [("4:65", "model.layers[0].weights", "backbone-random-frozen", "warning")]
    assert issues(text) == [
        "spec.yaml:4:65: model.layers[0].weights: warning: MobileNetV3Small has random weights (weights: none) and stays frozen "
        "(trainable: false, no train.fine_tune), so the layers after it learn from random features that never improve; "
        "use weights: imagenet, or trainable: true to train it from scratch"
    ]
    assert issues(spec_text("{type: Backbone, architecture: MobileNetV3Small, weights: none, trainable: true}")) == []  # trained from scratch
    assert issues(spec_text("{type: Backbone, architecture: MobileNetV3Small, weights: none}", train="  fine_tune: {epochs: 2}\n")) == []


def test_the_memory_estimate_counts_the_backbone_fine_tuning_will_train():
    from cnnbuild.spec.resources import estimate_memory

    def estimate(train: str):
        spec = spec_from_text(spec_text("{type: Backbone, architecture: MobileNetV3Small, weights: none}", train=train), "spec.yaml", num_classes=5)
        return estimate_memory(spec, infer_spec(spec, get_registry(), 5))

    head = 576 * 5 + 5
    frozen, fine_tuned = estimate(""), estimate("  fine_tune: {epochs: 1}\n")
    assert frozen.gradients == 4 * head and frozen.not_counted == ()
    assert fine_tuned.gradients == 4 * (head + ARCHITECTURES["MobileNetV3Small"].params)
    assert fine_tuned.not_counted == ("the Backbone at model.layers[0]",)
    assert "not counted: the activations inside the Backbone at model.layers[0]" in fine_tuned.text()
