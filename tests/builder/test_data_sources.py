"""Builtin data sources, label encodings, class weights and schedules."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cnnbuild.builder.data.pipelines import build_pipelines, class_weights
from cnnbuild.builder.data.source import load_source
from cnnbuild.errors import CnnbuildError, DataError
from cnnbuild.spec import spec_from_text

HEAD = "model:\n  layers:\n    - Flatten\n    - {type: Dense, units: auto}\n"


def spec(data: str, tmp_path: Path | None = None, extra: str = ""):
    return spec_from_text(f"data: {data}\n{HEAD}{extra}", base_dir=tmp_path)


def test_digits_resized_and_split():
    source = load_source(spec("{type: digits, image_size: [12, 10]}"))
    image, label = next(source.train.as_numpy_iterator())
    assert image.shape == (12, 10, 1) and image.dtype == np.float32
    assert 0 <= image.min() and image.max() <= 255
    assert source.train_count == 1438 and source.validation_count == 359
    assert source.class_names == [str(i) for i in range(10)]


def test_npz_with_explicit_validation_and_rgb_conversion(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "arrays.npz", x_train=rng.random((20, 6, 6)), y_train=np.arange(20) % 2, x_val=rng.random((4, 6, 6)), y_val=np.array([0, 1, 0, 1]))
    source = load_source(spec("{type: npz, path: arrays.npz, image_size: [6, 6], class_names: [neg, pos]}", tmp_path))
    image, _ = next(source.train.as_numpy_iterator())
    assert image.shape == (6, 6, 3)
    assert image.max() > 1.0  # 0..1 arrays are scaled to 0..255 like every source
    assert source.train_count == 20 and source.validation_count == 4
    assert source.class_names == ["neg", "pos"]


def test_npz_errors_name_the_file(tmp_path):
    np.savez(tmp_path / "arrays.npz", x=np.zeros((2, 4, 4)))
    with pytest.raises(DataError, match=r"arrays.npz: missing arrays \['x_train', 'y_train'\]"):
        load_source(spec("{type: npz, path: arrays.npz, image_size: [4, 4]}", tmp_path))


def test_keras_dataset_without_network_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(DataError, match="keras dataset 'fashion_mnist': download failed .* it needs network access on first use"):
        load_source(spec("{type: keras_dataset, name: fashion_mnist}"))


def test_keras_dataset_defaults_follow_the_dataset():
    cifar = spec("{type: keras_dataset, name: cifar10}")
    assert cifar.data.input_shape == (32, 32, 3)
    assert spec("{type: keras_dataset, name: mnist}").data.input_shape == (28, 28, 1)


def test_keras_dataset_class_names_are_the_datasets_own():
    from cnnbuild.plugins.manager import get_registry
    from cnnbuild.spec.labels import known_class_names

    names = known_class_names(spec("{type: keras_dataset, name: cifar100}"), get_registry())
    # CIFAR-100's fine labels are numbered in the alphabetical order of their names
    assert len(names) == len(set(names)) == 100 and names == sorted(names)
    assert (names[0], names[1], names[48], names[99]) == ("apple", "aquarium_fish", "motorcycle", "worm")
    assert known_class_names(spec("{type: keras_dataset, name: cifar10}"), get_registry())[:3] == ["airplane", "automobile", "bird"]


@pytest.mark.parametrize("color_mode, channels", [("grayscale", 1), ("rgb", 3), ("rgba", 4)])
def test_image_directory_color_modes(image_folder, color_mode, channels):
    source = load_source(spec(f"{{type: image_directory, path: {image_folder}, image_size: [10, 14], color_mode: {color_mode}}}"))
    image, _ = next(source.train.as_numpy_iterator())
    assert image.shape == (10, 14, channels)


def test_class_names_choose_order_and_subset(image_folder):
    source = load_source(spec(f"{{type: image_directory, path: {image_folder}, image_size: [8, 8], class_names: [stripes, circles]}}"))
    assert source.class_names == ["stripes", "circles"]
    assert source.train_count + source.validation_count == 24
    with pytest.raises(CnnbuildError, match=r"class folders \['nope'\] not found"):  # found by the spec check, before loading
        load_source(spec(f"{{type: image_directory, path: {image_folder}, image_size: [8, 8], class_names: [nope, circles]}}"))


@pytest.mark.parametrize(
    "label_mode, last, expected_shape, expected_dtype",
    [("int", "{type: Dense, units: auto}", (4,), "int32"), ("categorical", "{type: Dense, units: auto}", (4, 3), "float32")],
)
def test_label_encodings(image_folder, label_mode, last, expected_shape, expected_dtype):
    s = spec_from_text(f"data: {{type: image_directory, path: {image_folder}, image_size: [8, 8], batch_size: 4, label_mode: {label_mode}}}\nmodel: {{layers: [Flatten, {last}]}}\n")
    prepared = build_pipelines(s, load_source(s))
    _, labels = next(iter(prepared.train))
    assert tuple(labels.shape) == expected_shape and labels.dtype.name == expected_dtype


def test_binary_labels_for_two_classes_and_one_unit(tmp_path):
    from tests.conftest import make_images

    folder = make_images(tmp_path / "two", {"a": 6, "b": 6})
    s = spec_from_text(f"data: {{type: image_directory, path: {folder}, image_size: [8, 8], batch_size: 4}}\nmodel: {{layers: [Flatten, {{type: Dense, units: auto}}]}}\n")
    prepared = build_pipelines(s, load_source(s))
    assert prepared.labels.mode == "binary" and prepared.labels.from_logits
    _, labels = next(iter(prepared.train))
    assert tuple(labels.shape) == (4, 1) and labels.dtype.name == "float32"


def test_class_weight_auto_balances_by_frequency():
    weights = class_weights("auto", [0, 0, 0, 1], 2)
    assert weights == {0: pytest.approx(4 / 6), 1: pytest.approx(2.0)}
    assert class_weights({1: 3}, [0], 2) == {1: 3.0}
    assert class_weights("none", [0], 2) is None


def test_learning_rate_schedules():
    from cnnbuild.plugins.builtin.callbacks import LearningRateSchedulerParams, schedule_function

    cosine = schedule_function(LearningRateSchedulerParams(schedule="cosine"), 0.1, 10)
    assert cosine(0) == pytest.approx(0.1) and cosine(5) == pytest.approx(0.05) and cosine(10) == pytest.approx(0.0)
    step = schedule_function(LearningRateSchedulerParams(schedule="step", decay_epochs=3, decay_rate=0.5), 0.1, 10)
    assert [round(step(e), 4) for e in (0, 2, 3, 6)] == [0.1, 0.1, 0.05, 0.025]
    warm = schedule_function(LearningRateSchedulerParams(schedule="exponential", warmup_epochs=1, decay_epochs=1, decay_rate=0.5), 0.1, 10)
    assert warm(0) == pytest.approx(0.05) and warm(1) == pytest.approx(0.1) and warm(2) == pytest.approx(0.05)


def test_precision_auto_follows_the_hardware(monkeypatch):
    from cnnbuild.builder import runtime

    monkeypatch.setattr(runtime, "cpu_has_native_bfloat16", lambda: True)
    assert runtime.resolve_precision("auto") == "mixed_bfloat16"
    monkeypatch.setattr(runtime, "cpu_has_native_bfloat16", lambda: False)
    assert runtime.resolve_precision("auto") == "float32"
    assert runtime.resolve_precision("mixed_float16") == "mixed_float16"


def test_a_48_megapixel_phone_photo_is_kept_and_resized_like_a_small_one(tmp_path):
    """8000x6000 is what 48 MP phone cameras write; it decodes (as uint8, resized before any
    float copy) to the same pixels as the same picture saved small, give or take JPEG and resampling."""
    from PIL import Image

    from tests.conftest import make_images

    folder = make_images(tmp_path / "photos", {"a": 4, "b": 4})
    gradient = np.linspace(0, 255, 80, dtype=np.float32)
    picture = np.stack([np.tile(gradient, (60, 1)), np.tile(gradient[:60, None], (1, 80)), np.full((60, 80), 128.0)], axis=-1).astype(np.uint8)
    Image.fromarray(picture).resize((8000, 6000), Image.BILINEAR).save(folder / "a" / "phone.jpg", quality=92)
    s = spec_from_text(f"seed: 1\ndata: {{type: image_directory, path: {folder}, image_size: [30, 40], validation_split: 0.5, batch_size: 9}}\n{HEAD}")
    source = load_source(s)
    assert source.skipped == [] and source.train_count + source.validation_count == 9
    expected = np.asarray(Image.fromarray(picture).resize((40, 30), Image.BILINEAR), dtype=np.float32)
    differences = sorted(float(np.abs(image.numpy() - expected).mean()) for image, _ in source.train.concatenate(source.validation))
    assert differences[0] < 3 and differences[1] > 30  # the phone photo, then the generated images, nothing like it


def test_csv_source_reads_labels_from_a_file_and_lists_what_it_cannot_use(image_folder, tmp_path):
    import csv as csv_module

    rows = [("circles/" + path.name, "round") for path in sorted((image_folder / "circles").iterdir())]
    rows += [("squares/" + path.name, "square") for path in sorted((image_folder / "squares").iterdir())]
    rows += [("squares/gone.png", "square"), ("", "square"), ("circles/x.png", "")]
    table = image_folder / "labels.csv"
    with table.open("w", newline="") as handle:
        writer = csv_module.writer(handle)
        writer.writerow(["filename", "label"])
        writer.writerows(rows)
    source = load_source(spec(f"{{type: csv, path: {table}, image_size: [8, 8]}}"))
    assert source.class_names == ["round", "square"]
    assert source.train_count + source.validation_count == 24
    reasons = {item.path: item.reason for item in source.skipped}
    assert "cannot read" in reasons[str(image_folder / "squares" / "gone.png")]
    assert "row without a file name" in reasons[f"{table}:27"] and "row without a label" in reasons[f"{table}:28"]
    (tmp_path / "no-labels.csv").write_text("filename,kind\ncircles/a.png,round\n")
    with pytest.raises(CnnbuildError, match=r"no column \['label'\]; the header has \['filename', 'kind'\]"):
        spec(f"{{type: csv, path: {tmp_path / 'no-labels.csv'}, image_size: [8, 8]}}")


@pytest.mark.parametrize("threads, training_autotuned", [(2, False), (16, False), (32, True)])
def test_pipelines_without_the_autotuning_thread(image_folder, monkeypatch, threads, training_autotuned):
    """Under continuous_pipeline the evaluation pipelines never autotune; the training pipeline does
    only where more CPU threads than tf.data's default 16 could run its maps. Off, everything autotunes."""
    from cnnbuild.builder.data import pipelines

    monkeypatch.setattr(pipelines, "_cpu_threads", lambda: threads)
    for switch in ("true", "false"):
        s = spec_from_text(
            f"data: {{type: image_directory, path: {image_folder}, image_size: [8, 8], batch_size: 4}}\n"
            f"model: {{layers: [Flatten, {{type: Dense, units: auto}}]}}\ntrain: {{continuous_pipeline: {switch}}}\n"
        )
        prepared = build_pipelines(s, load_source(s))
        train_on, validation_on = prepared.train.options().autotune.enabled, prepared.validation.options().autotune.enabled
        if switch == "true":
            assert (train_on is not False, validation_on is not False) == (training_autotuned, False)
        else:
            assert train_on is not False and validation_on is not False
