"""``task: segmentation``: the class mapping, and the checks before TensorFlow (resolution kept to
the output, a per-pixel softmax, a loss, metrics and augmentation that fit masks), each at its line."""

from __future__ import annotations

import pytest

from cnnbuild.spec import SpecError, spec_from_text
from cnnbuild.spec.format_history import ADDED_KEYS

from .issues import issue_codes

HEAD = """\
seed: 1
task: {type: segmentation, classes: {0: background, 1: circle, 2: square}}
data: {type: shape_masks, count: 16, image_size: [16, 16]}
"""
UNET = """\
model:
  layers:
    - {name: enc, type: Conv2D, filters: 4, kernel_size: 3, padding: same}
    - MaxPooling2D
    - {name: up, type: UpSampling2D, size: 2}
    - {type: Concatenate, inputs: [up, enc]}
    - {type: Dense, units: auto, activation: softmax}
"""


def test_a_u_net_is_valid_with_the_task_s_metrics_and_loss():
    spec = spec_from_text(HEAD + UNET)
    assert spec.task.class_names == ["background", "circle", "square"]
    assert spec.compile.metrics == ["mean_iou", "per_class_iou", "dice", "pixel_accuracy"]
    canonical = spec.canonical()
    assert canonical["task"] == {"type": "segmentation", "classes": {"0": "background", "1": "circle", "2": "square"}, "ignore_index": None, "dice_weight": 1.0}
    assert spec_from_text(__import__("yaml").safe_dump(canonical)).canonical() == canonical
    assert {"task.classes", "task.ignore_index", "task.dice_weight"} <= set(ADDED_KEYS)


def test_lost_resolution_names_the_layer_that_lost_it():
    text = HEAD + "model:\n  layers:\n    - {type: Conv2D, filters: 4, kernel_size: 3, padding: same}\n    - MaxPooling2D\n    - {type: Conv2D, filters: 4, kernel_size: 3, padding: same}\n    - {type: Dense, units: auto, activation: softmax}\n"
    assert issue_codes(text) == [("9:7", "model.layers[3]", "segmentation-resolution")]
    with pytest.raises(SpecError) as caught:
        spec_from_text(text)
    assert "MaxPooling2D at model.layers.1 turns 16x16 into 8x8" in str(caught.value)


def test_a_flattened_output_names_flatten():
    text = HEAD + "model:\n  layers:\n    - {type: Conv2D, filters: 4, kernel_size: 3, padding: same}\n    - Flatten\n    - {type: Dense, units: auto, activation: softmax}\n"
    with pytest.raises(SpecError) as caught:
        spec_from_text(text)
    assert "Flatten at model.layers.1" in str(caught.value)


def test_sigmoid_for_three_classes_accuracy_mixup_and_label_mode_are_refused():
    text = (
        HEAD.replace("image_size: [16, 16]}", "image_size: [16, 16], label_mode: int}")
        + "augmentation: [{type: MixUp}]\n"
        + UNET.replace("activation: softmax", "activation: sigmoid")
        + "compile: {metrics: [mean_iou, accuracy]}\ntrain: {class_weight: auto}\n"
    )
    assert issue_codes(text) == [
        ("3:72", "data.label_mode", "task-mismatch"),
        ("3:72", "data.label_mode", "label-mixing"),  # MixUp's own rule, as for any spec
        ("4:16", "augmentation[0]", "task-mismatch"),
        ("11:46", "model.layers[4].activation", "task-mismatch"),
        ("12:31", "compile.metrics[1]", "task-mismatch"),
    ]


def test_classes_must_be_indices_from_zero_and_the_ignore_index_no_class():
    bad = HEAD.replace("{0: background, 1: circle, 2: square}", "{0: background, 2: square}") + UNET
    assert issue_codes(bad) == [("2:37", "task.classes", "invalid-value")]
    clash = HEAD.replace("2: square}}", "2: square}, ignore_index: 2}") + UNET
    assert [code for *_, code in issue_codes(clash)] == ["invalid-value"]


def test_dice_loss_is_for_segmentation_only_and_sources_declare_the_task():
    single = "seed: 1\ndata: {type: shapes, count: 16, image_size: [12, 12]}\nmodel: {layers: [Flatten, {type: Dense, units: auto}]}\ncompile: {loss: dice_crossentropy}\n"
    assert issue_codes(single) == [("4:17", "compile.loss.type", "task-mismatch")]
    wrong_source = HEAD.replace("type: shape_masks, count: 16,", "type: shapes, count: 16,") + UNET
    assert issue_codes(wrong_source) == [("2:7", "task", "task-unsupported")]


def test_a_sweep_maximises_the_validation_mean_iou():
    spec = spec_from_text(HEAD + UNET + "sweep:\n  metric: val_mean_iou\n  trials: 2\n  space: {compile.optimizer.learning_rate: {choice: [0.001, 0.01]}}\n")
    assert spec.sweep.goal == "maximize"


def test_pixel_class_weights_name_class_indices():
    assert issue_codes(HEAD + UNET + "train: {class_weight: auto}\n") == []
    assert issue_codes(HEAD + UNET + "train: {class_weight: {0: 0.5, 5: 2}}\n") == [("11:32", "train.class_weight[5]", "task-mismatch")]


def test_image_masks_folders_not_there_yet_are_a_data_missing_warning(tmp_path):
    from .issues import located

    text = HEAD.replace("{type: shape_masks, count: 16, image_size: [16, 16]}", "{type: image_masks, images: imgs, masks: msk, image_size: [16, 16]}") + UNET
    spec = spec_from_text(text, str(tmp_path / "spec.yaml"))
    assert located(spec.warnings, severity="warning") == [("3:14", "data.type", "data-missing")]
