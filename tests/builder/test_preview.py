"""`cnnbuild preview`: sample and augmentation grids, and the dataset report with its warnings."""

from __future__ import annotations

import shutil

from click.testing import CliRunner
from PIL import Image

from cnnbuild.builder.data.report import dataset_report
from cnnbuild.builder.data.source import load_source
from cnnbuild.builder.reports.preview import preview
from cnnbuild.builder.training.data_checks import data_warnings
from cnnbuild.cli import cli
from cnnbuild.contracts.data import Datasets
from cnnbuild.spec import load_spec

from ..conftest import make_images
from ..image_checks import assert_png


def folder_spec(write_spec, folder, augmentation: bool = True):
    extra = "augmentation:\n  - {type: RandomFlip, mode: horizontal}\n  - {type: RandomRotation, factor: 0.2}\n" if augmentation else ""
    return write_spec(
        f"""
name: peek
seed: 1
data: {{type: image_directory, path: {folder}, image_size: [24, 24], validation_split: 0.25}}
{extra}model:
  layers:
    - Flatten
    - {{type: Dense, units: auto}}
""".lstrip()
    )


def test_report_counts_sizes_modes_and_warns_about_imbalance_and_cross_class_copies(tmp_path, write_spec):
    folder = make_images(tmp_path / "images", {"common": 12, "rare": 3})
    copied = sorted((folder / "common").glob("*.png"))[0]
    shutil.copy(copied, folder / "rare" / "copy_of_common.png")  # the same bytes in two classes
    shutil.copy(copied, folder / "common" / "again.png")  # a copy within one class
    Image.new("L", (40, 30), 90).save(folder / "rare" / "grey.png")
    (folder / "rare" / "broken.jpg").write_bytes(b"not a jpeg")
    spec = load_spec(folder_spec(write_spec, folder))
    report = dataset_report(spec, load_source(spec))
    assert report.counts == {"common": 13, "rare": 5}
    assert sorted(report.widths) == [24] * 17 + [40] and sorted(report.heights) == [24] * 17 + [30]
    assert report.modes == {"RGB": 17, "L": 1}
    assert [s.path.rsplit("/", 1)[-1] for s in report.skipped] == ["broken.jpg"]
    assert len(report.cross_class_duplicates) == 1
    assert sorted(report.cross_class_duplicates[0]) == sorted([f"common/{copied.name}", "common/again.png", "rare/copy_of_common.png"])
    assert report.within_class_duplicates == 0  # a group spanning classes is reported once, as such
    text = report.text()
    assert "18 images in 2 classes" in text
    assert "image sizes seen: width min 24, median 24, max 40; height min 24, median 24, max 30" in text
    assert "colour modes: RGB 17, L 1" in text
    warnings = [line for line in text.splitlines() if line.startswith("warning:")]
    assert not any("imbalance" in w for w in warnings)  # 13 against 5 is 2.6x, below the 3x threshold
    assert any("identical image(s) filed under more than one class" in w and "rare/copy_of_common.png" in w for w in warnings)
    assert any("1 file(s) not used" in w for w in warnings)


def test_strong_imbalance_is_a_warning(tmp_path, write_spec):
    folder = make_images(tmp_path / "images", {"many": 12, "few": 3})
    spec = load_spec(folder_spec(write_spec, folder))
    report = dataset_report(spec, load_source(spec))
    assert report.counts == {"few": 3, "many": 12}
    assert report.warnings == ["strong class imbalance: 'many' has 12 images, 'few' has 3 (4.0x); consider train.class_weight: auto, or collecting more images of the small classes"]
    assert report.cross_class_duplicates == [] and report.within_class_duplicates == 0


def test_a_run_with_class_weights_is_not_told_to_turn_them_on():
    source = Datasets(train=None, validation=None, class_names=["many", "few"], train_count=15, train_labels=[0] * 12 + [1] * 3)
    assert data_warnings(source) == ["strong class imbalance: 'many' has 12 images, 'few' has 3 (4.0x); consider train.class_weight: auto, or collecting more images of the small classes"]
    assert data_warnings(source, weighted=True) == [
        "strong class imbalance: 'many' has 12 images, 'few' has 3 (4.0x); train.class_weight weighs the classes in the loss; more images of the small classes would help more"
    ]


def test_report_on_array_data_counts_the_decoded_examples(write_spec):
    spec = load_spec(write_spec("data: {type: digits, image_size: [8, 8]}\nmodel:\n  layers: [Flatten, {type: Dense, units: auto}]\n"))
    report = dataset_report(spec, load_source(spec))
    assert report.total == 1797 and report.counts["0"] == 178 and len(report.counts) == 10
    assert set(report.widths) == {8} and report.modes == {"grayscale": 1797}
    assert "decoded examples" in report.origin


def test_preview_writes_titled_samples_and_nine_augmentation_draws(tmp_path, write_spec):
    folder = make_images(tmp_path / "images", {"circles": 8, "squares": 8, "stripes": 8})
    spec = load_spec(folder_spec(write_spec, folder))
    result = preview(spec, tmp_path / "out")
    samples = result.titles["samples.png"]
    assert samples[0] == "peek: training images"
    assert len(samples) == 10 and set(samples[1:]) <= {"circles", "squares", "stripes"}
    assert len(set(samples[1:])) >= 2  # the training split is shuffled, not one class after another
    draws = result.titles["augmentation.png"]
    assert draws[1:] == [f"draw {i}" for i in range(1, 10)]
    assert "RandomFlip, RandomRotation" in draws[0] and draws[0].split("'")[1] in {"circles", "squares", "stripes"}
    assert_png(tmp_path / "out" / "samples.png")
    assert_png(tmp_path / "out" / "augmentation.png")


def test_preview_cli_without_augmentation(tmp_path, write_spec):
    folder = make_images(tmp_path / "images", {"a": 5, "b": 5})
    spec = folder_spec(write_spec, folder, augmentation=False)
    result = CliRunner().invoke(cli, ["preview", str(spec), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "10 images in 2 classes" in result.output
    assert "note: the spec has no augmentation, so augmentation.png was not written" in result.output
    assert f"wrote {tmp_path / 'out' / 'samples.png'}" in result.output
    assert (tmp_path / "out" / "samples.png").exists() and not (tmp_path / "out" / "augmentation.png").exists()
