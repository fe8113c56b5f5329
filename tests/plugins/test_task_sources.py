"""Plugin data sources that declare the tasks they supply: a tiny plugin supplying each task passes
``cnnbuild.testing.assert_data_source_supplies`` on data from the task writers; a source that
delivers the wrong labels, masks or dtypes, or is asked for a task it does not declare, is named
with what is wrong, by the check and by a run (a message, never a traceback)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pytest

import cnnbuild
from cnnbuild.testing import assert_data_source_supplies, write_image_masks, write_multi_label_csv, write_regression_csv
from tests.plugins import tiny_task_sources

CLASSES = {0: "background", 1: "circle", 2: "square"}


def test_the_tiny_plugin_supplies_each_task(tmp_path, cnnbuild_plugin):
    cnnbuild_plugin(tiny_task_sources, "tiny-task-sources")
    tags = write_multi_label_csv(tmp_path / "tags", ("circle", "square", "triangle"), count=12)
    counts = write_regression_csv(tmp_path / "counts", ("count", "brightness"), count=12)
    masks = write_image_masks(tmp_path / "masks", list(CLASSES.values()), count=6)

    multi = assert_data_source_supplies("multi_label", {"type": "tiny_table", "path": str(tags), "image_size": [16, 16], "batch_size": 4})
    assert multi.class_names == ["circle", "square", "triangle"] and multi.task == "multi_label"
    assert multi.train_count + multi.validation_count == 12 and len(multi.train_targets) == multi.train_count

    values = assert_data_source_supplies("regression", {"type": "tiny_table", "path": str(counts), "target_columns": ["count", "brightness"], "image_size": [16, 16]})
    assert values.class_names == ["count", "brightness"] and {row[0] for row in values.train_targets} <= {0.0, 1.0, 2.0, 3.0}

    pixels = assert_data_source_supplies("segmentation", {"type": "tiny_masks", "folder": str(masks), "image_size": [16, 16]}, task_options={"classes": CLASSES})
    assert (pixels.train_count, pixels.validation_count) == (5, 1)
    assert tuple(pixels.train.element_spec[1].shape) == (16, 16)


def test_the_task_writers_make_data_cnnbuilds_own_sources_read(tmp_path):
    tags = write_multi_label_csv(tmp_path / "tags", ("cat", "dog"), count=8, separator=";")
    flags = write_multi_label_csv(tmp_path / "flags", ("cat", "dog"), count=8, separator=None)
    counts = write_regression_csv(tmp_path / "counts", ("count",), count=8, max_shapes=2)
    masks = write_image_masks(tmp_path / "masks", ("background", "cell"), count=4, palette=True)
    assert tags.read_text().splitlines()[:3] == ["filename,labels", "images/image_000.png,cat", "images/image_001.png,dog"]
    assert flags.read_text().splitlines()[:3] == ["filename,cat,dog", "images/image_000.png,1,0", "images/image_001.png,0,1"]
    assert [line.split(",")[1] for line in counts.read_text().splitlines()[1:4]] == ["0", "1", "2"]
    import numpy as np
    from PIL import Image

    with Image.open(masks / "masks" / "image_000.png") as mask:
        assert mask.mode == "P" and mask.size == (16, 16) and set(np.unique(np.asarray(mask)).tolist()) == {0, 1}

    small = {"image_size": [16, 16], "batch_size": 4}
    multi = assert_data_source_supplies("multi_label", {"type": "csv", "path": str(tags), "label_column": "labels", "label_separator": ";", **small})
    assert multi.class_names == ["cat", "dog"] and multi.skipped == []
    assert assert_data_source_supplies("multi_label", {"type": "csv", "path": str(flags), "label_columns": ["cat", "dog"], **small}).class_names == ["cat", "dog"]
    assert assert_data_source_supplies("regression", {"type": "csv", "path": str(counts), "target_columns": ["count"], **small}).class_names == ["count"]
    segmented = assert_data_source_supplies(
        "segmentation", {"type": "image_masks", "images": str(masks / "images"), "masks": str(masks / "masks"), **small}, task_options={"classes": {0: "background", 1: "cell"}}
    )
    assert segmented.train_count + segmented.validation_count == 4 and segmented.skipped == []


@pytest.mark.parametrize(
    ("task", "data", "options"),
    [
        ("single_label", {"type": "shapes", "count": 16}, None),
        ("multi_label", {"type": "shapes", "count": 16}, None),
        ("regression", {"type": "shapes", "count": 16}, None),
        ("segmentation", {"type": "shape_masks", "count": 16}, {"classes": {0: "background", 1: "circle", 2: "square"}, "ignore_index": 255}),
    ],
)
def test_the_builtin_synthetic_sources_meet_the_strict_contract(task, data, options):
    datasets = assert_data_source_supplies(task, {**data, "image_size": [12, 12]}, task_options=options)
    assert datasets.task == task and datasets.train_count + datasets.validation_count == 16


Fault = Literal["none", "int_labels", "small_masks", "float64_targets", "out_of_range_mask", "ignores_task", "few_targets"]


class FaultyParams(cnnbuild.DataParams):
    fault: Fault = "none"


def load_faulty(params: FaultyParams, context: cnnbuild.DataContext) -> cnnbuild.Datasets:
    """Eight generated 8x8 images whose labels are wrong in the way ``fault`` says."""
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (8, 8, 8, 3)).astype("float32")
    names = ["a", "b", "c"]
    task = context.task
    if task == "segmentation":
        masks = rng.integers(0, 3, (8, 4, 4) if params.fault == "small_masks" else (8, 8, 8)).astype("int32")
        if params.fault == "out_of_range_mask":
            masks[0, 0, 0] = 7
        labels = masks
    elif params.fault == "int_labels":
        labels = rng.integers(0, 3, 8).astype("int32")
    else:
        labels = rng.integers(0, 2, (8, 3)).astype("float64" if params.fault == "float64_targets" else "float32")
    targets = None if task == "segmentation" else [list(map(float, row)) for row in np.reshape(labels, (8, -1))][: 5 if params.fault == "few_targets" else 6]
    return cnnbuild.Datasets(
        train=tf.data.Dataset.from_tensor_slices((images[:6], labels[:6])),
        validation=tf.data.Dataset.from_tensor_slices((images[6:], labels[6:])),
        class_names=names,
        train_count=6,
        validation_count=2,
        fingerprint="faulty",
        task="single_label" if params.fault == "ignores_task" else task,
        train_targets=targets,
    )


class Faulty:
    @cnnbuild.hookimpl
    def register_data_sources(self, register):
        register("faulty", FaultyParams, load_faulty, class_names=lambda params, context: ["a", "b", "c"], tasks=("multi_label", "regression", "segmentation"))


SEGMENTATION = {"classes": {0: "a", 1: "b", 2: "c"}}


@pytest.mark.parametrize(
    ("task", "fault", "said"),
    [
        ("multi_label", "int_labels", "train: labels have shape (); task multi_label needs a float32 vector of shape (3,), one entry per name of class_names"),
        ("segmentation", "small_masks", "train: labels have shape (4, 4); task segmentation needs an int32 mask of shape (8, 8): the image's height and width, class indices"),
        ("regression", "float64_targets", "train: labels are float64; task regression needs a float32 vector of shape (3,), one entry per name of class_names"),
        ("segmentation", "out_of_range_mask", "train example 0: mask holds index [7], outside the classes 0..2"),
        ("multi_label", "ignores_task", "Datasets.task is 'single_label' for a multi_label spec (set it, and deliver the labels context.task asks for)"),
        ("regression", "few_targets", "train_targets holds 5 vectors but train_count is 6"),
    ],
)
def test_the_check_names_what_a_faulty_source_delivers(cnnbuild_plugin, task, fault, said):
    cnnbuild_plugin(Faulty(), "faulty-source")
    data = {"type": "faulty", "fault": fault, "image_size": [8, 8]}
    with pytest.raises(AssertionError) as raised:
        assert_data_source_supplies(task, data, task_options=SEGMENTATION if task == "segmentation" else None)
    lines = str(raised.value).splitlines()
    assert lines[0] == f"data source 'faulty' (plugin 'faulty-source' (not installed -)), task {task}: what the factory returned does not fit the task (docs/plugins.md, 'What a source returns for each task'):"
    assert f"  {said}" in lines[1:]


def test_the_check_passes_the_same_source_without_a_fault(cnnbuild_plugin):
    cnnbuild_plugin(Faulty(), "faulty-source")
    for task in ("multi_label", "regression"):
        assert assert_data_source_supplies(task, {"type": "faulty", "image_size": [8, 8]}).train_count == 6
    assert assert_data_source_supplies("segmentation", {"type": "faulty", "image_size": [8, 8]}, task_options=SEGMENTATION).task == "segmentation"


def test_a_task_the_source_does_not_declare_is_named_by_the_check(tmp_path, cnnbuild_plugin):
    cnnbuild_plugin(tiny_task_sources, "tiny-task-sources")
    with pytest.raises(AssertionError) as raised:
        assert_data_source_supplies("segmentation", {"type": "tiny_table", "path": str(tmp_path / "x.csv")}, task_options=SEGMENTATION)
    assert str(raised.value).splitlines() == [
        "data source 'tiny_table', task segmentation: a spec using it does not validate:",
        "  <dict>:1:1: task: data source 'tiny_table' supplies multi_label, regression labels, not segmentation; "
        "use a data source that does (image_masks, shape_masks, tiny_masks)",
    ]


def _invoke(*args: str) -> tuple[int, str]:
    from click.testing import CliRunner

    from cnnbuild.cli import cli

    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_a_run_of_a_misdeclared_source_is_a_message_not_a_traceback(tmp_path, cnnbuild_plugin):
    cnnbuild_plugin(Faulty(), "faulty-source")
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "task: multi_label\ndata: {type: faulty, fault: int_labels, image_size: [8, 8]}\n"
        "model: {layers: [Flatten, {type: Dense, units: auto, activation: sigmoid}]}\ntrain: {epochs: 1}\n",
        encoding="utf-8",
    )
    code, output = _invoke("run", str(spec), "--output", str(tmp_path / "run"))
    assert code == 1 and "Traceback" not in output
    said = (
        "data source 'faulty' (plugin 'faulty-source' (not installed -)) does not deliver what task multi_label needs: "
        "train_targets[0] has 1 values but class_names names 3; "
        "train: labels have shape (); task multi_label needs a float32 vector of shape (3,), one entry per name of class_names; "
        "validation: labels have shape (); task multi_label needs a float32 vector of shape (3,), one entry per name of class_names; "
        "docs/plugins.md says what a source returns for each task"
    )
    assert said in output, output
    assert not (tmp_path / "run").exists()  # refused before a run directory was made



def test_a_task_the_source_does_not_declare_is_a_validate_error(tmp_path, cnnbuild_plugin):
    cnnbuild_plugin(tiny_task_sources, "tiny-task-sources")
    undeclared = tmp_path / "undeclared.yaml"
    undeclared.write_text("task: regression\ndata: {type: tiny_masks, folder: .}\nmodel: {layers: [Flatten, {type: Dense, units: auto}]}\n", encoding="utf-8")
    code, output = _invoke("validate", str(undeclared))
    assert code == 1 and "Traceback" not in output
    assert f"{undeclared}:1:7: task: data source 'tiny_masks' supplies segmentation labels, not regression; use a data source that does (csv, shapes, tiny_table)" in output


def test_the_writers_refuse_what_cannot_make_a_dataset(tmp_path):
    with pytest.raises(ValueError, match="at least two labels"):
        write_multi_label_csv(tmp_path, ["only"])
    with pytest.raises(ValueError, match="at least two classes"):
        write_image_masks(tmp_path, ["background"])
    assert isinstance(Path(write_regression_csv(tmp_path / "r", count=2)), Path)
