"""``cnnbuild init``: a starter spec from a folder or CSV that validates and trains, each choice explained,
the classes and counts a run will see, a clear message for data that cannot make a classifier."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from PIL import Image

from cnnbuild.cli.spec_commands import init as init_command
from cnnbuild.errors import CnnbuildError, DataError, DataNotFound
from cnnbuild.spec import load_spec
from cnnbuild.spec.format_history import CURRENT as CURRENT_FORMAT
from cnnbuild.starter import MODELS, write_starter

from ..conftest import FLOWERS, REPO, make_images, run_cli


def plain(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def prose(path: Path) -> str:
    """The spec's text with its comments unwrapped (each comment paragraph on one line)."""
    return re.sub(r"\n *# ", " ", path.read_text(encoding="utf-8"))


def grey_images(folder: Path, classes: dict[str, int], mode: str = "L", size: tuple[int, int] = (28, 28)) -> Path:
    for label, (name, count) in enumerate(classes.items()):
        (folder / name).mkdir(parents=True, exist_ok=True)
        for index in range(count):
            level = 40 * label + index
            Image.new(mode, size, (level, level, level, 255) if mode == "RGBA" else level).save(folder / name / f"{index}.png")
    return folder


def test_init_then_run_trains_on_the_classes_counts_and_skipped_files_init_reported(tmp_path):
    photos = make_images(tmp_path / "photos", {"cats": 10, "dogs": 10}, size=(40, 30))
    (photos / "cats" / "notes.txt").write_text("not an image")
    (photos / "cats" / ".hidden.png").write_bytes((photos / "cats" / "cats_000.jpg").read_bytes())
    (photos / "dogs" / "broken.jpg").write_bytes(b"this is no JPEG" * 10)
    spec = tmp_path / "photos.yaml"
    made = run_cli("init", str(photos), "--out", str(spec))
    assert made.returncode == 0, made.stderr
    assert made.stdout.splitlines()[-1] == f"next: cnnbuild run {spec}"
    assert re.search(r"^  cats +10$", made.stdout, re.M) and re.search(r"^  dogs +10$", made.stdout, re.M)
    text = prose(spec)
    train, validation = map(int, re.search(r"\((\d+) training, (\d+) validation images\)", text).groups())
    import cnnbuild  # the run in this process: what is under test is the spec init wrote, not run's process

    assert cnnbuild.run(spec, ["train.epochs=1", "train.verbose=quiet"], output=tmp_path / "run").completed
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert json.loads((tmp_path / "run" / "class_names.json").read_text()) == ["cats", "dogs"]
    assert (metrics["train_examples"], metrics["validation_examples"]) == (train, validation) == (14, 6)  # 0.3 of each class of 10: 3 for validation
    run_skipped = {item["path"]: item["reason"] for item in json.loads((tmp_path / "run" / "skipped.json").read_text())}
    assert set(run_skipped) == {str(photos / "cats" / name) for name in ("notes.txt", ".hidden.png")} | {str(photos / "dogs" / "broken.jpg")}
    for path, reason in run_skipped.items():  # init lists every file the run leaves out, with the run's reason
        assert f"  {path}: {reason}" in made.stdout


def test_init_imports_no_tensorflow(tmp_path):
    photos = make_images(tmp_path / "photos", {"a": 4, "b": 4})
    script = "import sys; sys.modules['tensorflow'] = None; sys.modules['keras'] = None\nfrom cnnbuild.cli import main\n"
    script += f"main(['init', {str(photos)!r}, '--out', {str(tmp_path / 's.yaml')!r}])"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert load_spec(tmp_path / "s.yaml").data.type == "image_directory"


def test_imbalanced_classes_get_class_weights_and_the_smallest_class_validation_images(tmp_path):
    photos = make_images(tmp_path / "photos", {"many": 40, "few": 10})
    starter = write_starter(photos, tmp_path / "spec.yaml")
    spec = load_spec(starter.path)
    assert spec.train.class_weight == "auto"
    text = prose(starter.path)
    assert "the largest class, 'many', has 40 images and the smallest, 'few', 10: 4.0x, at or over 3x" in text
    # 0.2 and 0.25 leave 'few' 2 validation images; 0.3 leaves it 3
    assert spec.data.validation_split == 0.3 and "'few' (10 images), keeps 3 for validation" in text
    balanced = write_starter(make_images(tmp_path / "even", {"a": 12, "b": 6}), tmp_path / "even.yaml")
    assert load_spec(balanced.path).train.class_weight == "none"
    assert "2.0x, under the 3x" in prose(balanced.path)


def test_grayscale_images_give_grayscale_without_flips(tmp_path):
    starter = write_starter(grey_images(tmp_path / "digits", {"zero": 6, "one": 6}), tmp_path / "digits.yaml")
    spec = load_spec(starter.path)
    assert spec.data.color_mode == "grayscale" and spec.data.image_size == (32, 32)
    assert [entry.type for entry in spec.augmentation] == ["RandomRotation", "RandomTranslation"]
    assert "a mirrored 2 is not a 2" in prose(starter.path)
    mixed = grey_images(tmp_path / "mixed", {"zero": 6, "one": 6})
    Image.new("RGB", (28, 28), (200, 10, 10)).save(mixed / "one" / "colour.png")
    spec = load_spec(write_starter(mixed, tmp_path / "mixed.yaml").path)
    assert spec.data.color_mode == "rgb" and spec.augmentation[0].type == "RandomFlip"


def test_rgba_only_when_a_pixel_is_transparent(tmp_path):
    opaque = grey_images(tmp_path / "icons", {"a": 4, "b": 4}, mode="RGBA")  # alpha channel, every pixel opaque
    starter = write_starter(opaque, tmp_path / "opaque.yaml")
    assert load_spec(starter.path).data.color_mode == "rgb"
    assert "8 image(s) with an alpha channel were decoded and none has a transparent pixel" in prose(starter.path)
    Image.new("RGBA", (28, 28), (0, 0, 0, 0)).save(opaque / "b" / "clear.png")
    assert load_spec(write_starter(opaque, tmp_path / "clear.yaml").path).data.color_mode == "rgba"
    transfer = write_starter(opaque, tmp_path / "transfer.yaml", "transfer")
    assert load_spec(transfer.path).data.color_mode == "rgb"  # the pretrained network takes 3 channels
    assert "clear.png has transparent pixels, but the pretrained network takes 3 channels" in prose(transfer.path)


def test_a_csv_of_file_names_and_labels(tmp_path):
    flat = make_images(tmp_path / "images", {"cat": 6, "dog": 6})
    rows = [f"{path.relative_to(tmp_path).as_posix()},{path.parent.name}" for path in sorted(flat.rglob("*.*"))]
    table = tmp_path / "labels.csv"
    table.write_text("file,kind\n" + "\n".join(rows) + "\nimages/cat/gone.jpg,cat\nimages/cat/cat_000.jpg,\n")
    with pytest.raises(DataError, match=r"no column \['filename', 'label'\].*--filename-column and --label-column"):
        write_starter(table, tmp_path / "nope.yaml")
    starter = write_starter(table, tmp_path / "csv.yaml", filename_column="file", label_column="kind")
    spec = load_spec(starter.path)
    assert (spec.data.type, spec.data.filename_column, spec.data.label_column) == ("csv", "file", "kind")
    assert starter.survey.class_names == ["cat", "dog"] and starter.survey.counts == {"cat": 6, "dog": 6}
    reasons = {item.path: item.reason for item in starter.survey.skipped}
    assert reasons == {str(tmp_path / "images/cat/gone.jpg"): "cannot read: No such file or directory", f"{table}:15": "row without a label; not used"}


def test_every_model_validates_and_the_named_ones_are_the_examples(tmp_path):
    photos = make_images(tmp_path / "photos", {"a": 6, "b": 6}, size=(400, 300))
    sizes = {}
    for model in ("small", "resnet_small", "tutorial", "transfer"):
        sizes[model] = load_spec(write_starter(photos, tmp_path / f"{model}.yaml", model).path).data.image_size
    assert sizes == {"small": (128, 160), "resnet_small": (128, 160), "tutorial": (128, 160), "transfer": (224, 224)}
    for model, example, keys in (("tutorial", "flowers.yaml", ("model",)), ("resnet_small", "resnet_small.yaml", ("blocks", "model"))):
        written, shipped = plain(tmp_path / f"{model}.yaml"), plain(REPO / "examples" / example)
        assert {key: written[key] for key in keys} == {key: shipped[key] for key in keys}
    transfer = plain(tmp_path / "transfer.yaml")
    assert transfer["format_version"] == CURRENT_FORMAT  # written in the current spec format
    assert transfer["model"]["layers"][0] == {"type": "Backbone", "architecture": "MobileNetV3Small", "weights": "imagenet", "pooling": "avg"}
    assert transfer["train"]["fine_tune"] == {"epochs": 5, "learning_rate_multiplier": 0.1}
    assert "put weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5 there" in prose(tmp_path / "transfer.yaml")


def test_a_large_folder_is_sampled_and_says_so(tmp_path):
    photos = make_images(tmp_path / "photos", {"a": 30, "b": 30}, formats=("PNG",))
    starter = write_starter(photos, tmp_path / "spec.yaml", sample=10)
    assert (starter.survey.read, starter.survey.listed) == (40, 60)  # at least 20 of each class
    assert starter.survey.counts == {"a": 30, "b": 30}
    assert "headers of a sample of 40 of the 60 image files" in prose(starter.path)


def test_refuses_to_overwrite_a_file(tmp_path):
    photos = make_images(tmp_path / "photos", {"a": 4, "b": 4})
    mine = tmp_path / "mine.yaml"
    mine.write_text("my own spec\n")
    result = run_cli("init", str(photos), "--out", str(mine))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"{mine}: already exists; cnnbuild init never overwrites a file" in result.stderr
    assert mine.read_text() == "my own spec\n"


def test_data_that_cannot_make_a_classifier_is_named_with_what_to_do(tmp_path):
    with pytest.raises(DataNotFound, match="does not exist; give a folder with one sub-folder of images per class"):
        write_starter(tmp_path / "nowhere", tmp_path / "s.yaml")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no class sub-folders found"):
        write_starter(tmp_path / "empty", tmp_path / "s.yaml")
    with pytest.raises(DataError, match=r"only one class \('a'\)"):
        write_starter(make_images(tmp_path / "one", {"a": 3}), tmp_path / "s.yaml")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DataError, match="is a file, not a folder of class sub-folders or a .csv file"):
        write_starter(tmp_path / "notes.txt", tmp_path / "s.yaml")
    unreadable = make_images(tmp_path / "unreadable", {"a": 3, "b": 1})
    (unreadable / "b" / "b_000.jpg").write_bytes(b"garbage")
    with pytest.raises(DataError, match=r"classes \['b'\] have no image that can be read; 1 file\(s\) not an image Pillow can read"):
        write_starter(unreadable, tmp_path / "s.yaml")
    assert not (tmp_path / "s.yaml").exists()
    no_images = make_images(tmp_path / "no_images", {"a": 3})
    (no_images / "b").mkdir()
    (no_images / "b" / "readme.txt").write_text("to do")
    result = run_cli("init", str(no_images), "--out", str(tmp_path / "s.yaml"))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"{no_images}: class folders ['b'] hold no image files" in result.stderr
    assert f"{no_images / 'b' / 'readme.txt'}: not an image file (suffix .txt); not used" in result.stderr
    assert not (tmp_path / "s.yaml").exists()


@pytest.mark.skipif(not FLOWERS.is_dir(), reason="../shared/data/flowers is not present")
def test_a_subset_of_the_flower_photos_validates(tmp_path):
    for kind in ("daisy", "roses", "tulips"):
        (tmp_path / "flowers" / kind).mkdir(parents=True)
        for photo in sorted((FLOWERS / kind).glob("*.jpg"))[:8]:
            shutil.copy(photo, tmp_path / "flowers" / kind)
    made = run_cli("init", "flowers", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert made.stdout.splitlines()[-2:] == ["wrote flowers.yaml", "next: cnnbuild run flowers.yaml"]
    checked = run_cli("validate", "flowers.yaml", cwd=tmp_path)
    assert checked.returncode == 0 and checked.stdout.strip() == "flowers.yaml: ok", checked.stderr
    spec = load_spec(tmp_path / "flowers.yaml")
    assert (spec.data.path, spec.data.color_mode, spec.train.class_weight) == ("flowers", "rgb", "none")


def test_an_unknown_model_is_refused_and_the_command_offers_every_model(tmp_path):
    with pytest.raises(CnnbuildError, match="model 'huge': choose one of small, resnet_small, tutorial, transfer"):
        write_starter(make_images(tmp_path / "p", {"a": 2, "b": 2}), tmp_path / "s.yaml", "huge")
    option = next(param for param in init_command.params if param.name == "model")
    assert list(option.type.choices) == list(MODELS) and option.default == next(iter(MODELS))
