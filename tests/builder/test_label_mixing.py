"""MixUp and CutMix mix labels with the pixels' weights, in the training pipeline only; the loss
follows; training metrics against mixed labels are left out; seeded runs repeat exactly."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest

from cnnbuild.builder.data.pipelines import build_pipelines, training_augmenter
from cnnbuild.builder.data.source import load_source
from cnnbuild.spec import load_spec, spec_from_dict

from ..conftest import SMALL_MODEL, make_images
from ..image_checks import assert_png


def mixing_spec(entry: dict, **data):
    return spec_from_dict({"seed": 3, "data": {"type": "digits", "image_size": [64, 64], "color_mode": "rgb", **data}, "augmentation": [entry], "model": {"layers": ["Flatten", {"type": "Dense", "units": "auto"}]}})


def coloured_batch(classes: list[int]) -> np.ndarray:
    """Image i is 255 in channel classes[i] and 0 elsewhere, so its pixels say which class they came from."""
    images = np.zeros((len(classes), 64, 64, 3), "float32")
    for i, label in enumerate(classes):
        images[i, ..., label] = 255
    return images


def mixed(entry: dict, images: np.ndarray, labels: np.ndarray, **data) -> tuple[np.ndarray, np.ndarray]:
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensors((images, labels)).map(training_augmenter(mixing_spec(entry, **data)))
    x, y = next(iter(dataset))
    return x.numpy(), y.numpy()


@pytest.mark.parametrize(("entry", "tolerance"), [({"type": "MixUp", "alpha": 1.0}, 1e-4), ({"type": "CutMix"}, 0.05)])
def test_mixed_labels_sum_to_one_and_match_the_pixels(entry, tolerance):
    """Each mixed label is the share of each class in the image's pixels (CutMix's box weight is
    computed on the continuous box, so it differs from the pixel grid by up to about 2/side)."""
    classes = [0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0]
    images, labels = mixed(entry, coloured_batch(classes), np.eye(3, dtype="float32")[classes])
    assert labels.shape == (16, 3) and labels.dtype == np.float32
    np.testing.assert_allclose(labels.sum(axis=1), 1, atol=1e-6)
    pixel_share = images.astype("float64").mean(axis=(1, 2)) / 255
    np.testing.assert_allclose(labels, pixel_share, atol=tolerance)
    assert ((labels > 0.01) & (labels < 0.99)).any(), "nothing was mixed"


@pytest.mark.parametrize("entry", [{"type": "MixUp", "alpha": 1.0}, {"type": "CutMix"}])
def test_binary_labels_mix_into_the_share_of_class_one(entry):
    classes = [0, 1] * 8
    images, labels = mixed(entry, coloured_batch(classes), np.asarray(classes, "float32").reshape(-1, 1))
    assert labels.shape == (16, 1)
    np.testing.assert_allclose(labels[:, 0], images[..., 1].astype("float64").mean(axis=(1, 2)) / 255, atol=0.05 if entry["type"] == "CutMix" else 1e-4)
    assert ((labels > 0.01) & (labels < 0.99)).any()


def folder_spec(write_spec, folder, augmentation: str, extra: str = ""):
    return write_spec(
        textwrap.dedent(
            f"""
            name: mixing
            seed: 4
            data: {{type: image_directory, path: {folder}, image_size: [16, 16], batch_size: 8, validation_split: 0.25}}
            augmentation: {augmentation}
            """
        )
        + SMALL_MODEL
        + textwrap.dedent(extra)
    )


def test_training_batches_are_mixed_and_validation_never(image_folder, write_spec):
    from cnnbuild.builder.model.compile import _metrics, make_loss

    spec = load_spec(folder_spec(write_spec, image_folder, "[{type: RandomFlip}, {type: MixUp, alpha: 1}]"))
    source = load_source(spec)
    prepared = build_pipelines(spec, source)
    assert prepared.labels.mode == "categorical"
    assert type(make_loss(spec, prepared.labels)).__name__ == "CategoricalCrossentropy"
    assert [type(m).__name__ for m in _metrics(spec, prepared.labels)] == ["CategoricalAccuracy"]
    train = np.concatenate([y for _, y in prepared.train.as_numpy_iterator()])
    np.testing.assert_allclose(train.sum(axis=1), 1, atol=1e-6)
    assert ((train > 0.01) & (train < 0.99)).any()
    plain = build_pipelines(spec, source, augment=False)
    for (images, labels), (plain_images, plain_labels) in zip(prepared.validation.as_numpy_iterator(), plain.validation.as_numpy_iterator()):
        assert set(np.unique(labels)) <= {0.0, 1.0} and np.array_equal(labels.sum(axis=1), np.ones(len(labels)))
        assert np.array_equal(images, plain_images) and np.array_equal(labels, plain_labels)


def test_binary_loss_with_mixing(tmp_path, write_spec):
    from cnnbuild.builder.model.compile import make_loss

    folder = make_images(tmp_path / "two", {"cats": 8, "dogs": 8})
    spec = load_spec(folder_spec(write_spec, folder, "[{type: CutMix}]"))  # two classes, units: auto: one binary output
    prepared = build_pipelines(spec, load_source(spec))
    assert prepared.labels.mode == "binary" and type(make_loss(spec, prepared.labels)).__name__ == "BinaryCrossentropy"
    _, labels = next(prepared.train.as_numpy_iterator())
    assert labels.shape[1:] == (1,) and labels.min() >= 0 and labels.max() <= 1


def test_seeded_runs_with_mixing_repeat_exactly_and_report_no_training_accuracy(image_folder, write_spec, tmp_path):
    import cnnbuild

    path = folder_spec(
        write_spec,
        image_folder,
        "[{type: RandomShear, x_factor: 0.2}, {type: AugMix, num_chains: 2, chain_depth: 1}, {type: RandomErasing, factor: 0.5, fill_value: 0}, {type: CutMix}]",
        "train: {epochs: 2, verbose: quiet}\n",
    )
    first = cnnbuild.run(path, output=tmp_path / "a")
    second = cnnbuild.run(path, output=tmp_path / "b")
    assert first.history == second.history  # bit for bit
    assert set(first.history) == {"loss", "val_loss", "val_accuracy"}  # no training accuracy against mixed labels
    metrics = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert sum(row["support"] for row in metrics["per_class"]) == 9  # the per-class table counts hard validation labels
    assert "accuracy" not in json.loads((tmp_path / "a" / "history.json").read_text())


def test_preview_shows_mixed_pairs_with_their_labels(image_folder, write_spec, tmp_path):
    from cnnbuild.builder.reports.preview import preview

    spec = load_spec(folder_spec(write_spec, image_folder, "[{type: RandomFlip}, {type: MixUp, alpha: 1}]"))
    result = preview(spec, tmp_path / "out")
    titles = result.titles["augmentation.png"]
    assert titles[0].startswith("nine training images through: RandomFlip, MixUp")
    weights = [[float(line.split()[0]) for line in title.splitlines()] for title in titles[1:] if "\n" in title]
    assert weights, titles  # some images were mixed, and their titles give the weights
    assert all(abs(sum(row) - 1) < 0.011 for row in weights) and all(row == sorted(row, reverse=True) for row in weights)
    assert_png(tmp_path / "out" / "augmentation.png")
