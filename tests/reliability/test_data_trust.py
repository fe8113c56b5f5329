"""No silently wrong result from the data: every file used or listed, every class trained or refused,
photos the right way up, resumes that refuse other classes. Each test failed on cnnbuild before
these rules (commit 8ca31db and the architecture change after it)."""

from __future__ import annotations

import json
import os
import shutil
import unicodedata
from pathlib import Path

import numpy as np
import pytest

import cnnbuild
from cnnbuild.contracts import DataContext
from cnnbuild.data.decode import decode_files
from cnnbuild.data.files import scan
from cnnbuild.data.image_files import ImageFile, check_image
from cnnbuild.errors import DataError, RunError
from cnnbuild.plugins.builtin.image_directory import ImageDirectoryParams, load

from ..conftest import SMALL_MODEL, make_images, run_cli

def tiny_run(path: str, epochs: int = 1) -> str:
    return (
        f"seed: 5\ndata: {{type: image_directory, path: {path}, image_size: [16, 16], batch_size: 4, validation_split: 0.25}}\n"
        + SMALL_MODEL
        + f"train: {{epochs: {epochs}, verbose: line}}\n"
    )


def _tiny_spec(folder: Path, data: Path, epochs: int = 1, name: str = "tiny.yaml") -> Path:
    path = folder / name
    path.write_text(tiny_run(json.dumps(str(data)), epochs), encoding="utf-8")
    return path


# -- 1. phone photos the right way up ----------------------------------------------------------------
def _upright() -> object:
    from PIL import Image

    picture = Image.new("RGB", (40, 24), (200, 20, 20))  # red left two thirds, blue right third: not symmetric
    picture.paste((20, 20, 200), (28, 0, 40, 24))
    return picture


@pytest.mark.parametrize("orientation, stored", [(3, "ROTATE_180"), (6, "ROTATE_90"), (8, "ROTATE_270"), (2, "FLIP_LEFT_RIGHT")])
def test_a_phone_photo_with_an_exif_orientation_decodes_the_right_way_up(tmp_path, orientation, stored):
    from PIL import Image

    upright = _upright()
    upright.save(tmp_path / "upright.png")
    exif = Image.Exif()
    exif[0x0112] = orientation
    upright.transpose(getattr(Image.Transpose, stored)).save(tmp_path / "phone.jpg", quality=95, exif=exif.tobytes())
    params = ImageDirectoryParams(path=str(tmp_path), image_size=(12, 20))
    images = []
    for name in ("upright.png", "phone.jpg"):
        native, reason = check_image(tmp_path / name)
        assert reason == ""
        (image, _), = decode_files([ImageFile(str(tmp_path / name), 0, native, 1)], params).as_numpy_iterator()
        images.append(image)
    assert check_image(tmp_path / "phone.jpg")[0] is False  # oriented photos go through Pillow, which turns them
    assert np.abs(images[0] - images[1]).mean() < 6, "the phone photo decoded sideways or mirrored"


# -- 2. resume after the data changed --------------------------------------------------------------------
def _interrupted_run(tmp_path: Path) -> tuple[Path, Path]:
    """A run of three epochs stopped after its first (as Ctrl-C leaves it)."""
    data = make_images(tmp_path / "data", {"cats": 6, "dogs": 6, "owls": 6})
    run_dir = tmp_path / "run"
    cnnbuild.run(_tiny_spec(tmp_path, data), output=run_dir)
    spec = (run_dir / "spec.yaml").read_text().replace("epochs: 1\n", "epochs: 3\n")
    (run_dir / "spec.yaml").write_text(spec)
    (run_dir / "status.json").write_text(json.dumps({"state": "interrupted", "completed_epochs": 1, "epochs": 3}))
    return data, run_dir


def test_resume_refuses_renamed_added_or_removed_classes(tmp_path):
    data, run_dir = _interrupted_run(tmp_path)
    (data / "owls").rename(data / "birds")
    with pytest.raises(RunError, match=r"classes changed since this run started \(added \['birds'\]; removed or renamed \['owls'\]\)"):
        cnnbuild.run(resume=run_dir)
    make_images(data / "extra", {"fish": 3})
    shutil.move(str(data / "extra" / "fish"), data / "fish")
    (data / "extra").rmdir()
    (data / "birds").rename(data / "owls")
    with pytest.raises(RunError, match=r"added \['fish'\]"):
        cnnbuild.run(resume=run_dir)
    assert json.loads((run_dir / "class_names.json").read_text()) == ["cats", "dogs", "owls"]


def test_resume_refuses_changed_files_unless_allowed(tmp_path):
    data, run_dir = _interrupted_run(tmp_path)
    shutil.copy(next((data / "cats").glob("*.png")), data / "cats" / "one-more.png")
    with pytest.raises(RunError, match=r"files changed since this run started .*--allow-changed-data"):
        cnnbuild.run(resume=run_dir)
    result = cnnbuild.run(resume=run_dir, allow_changed_data=True)
    assert result.completed and len(result.history["loss"]) == 3
    assert any("files changed since this run started" in warning for warning in result.warnings)


# -- 3. a spec inside its own data folder ------------------------------------------------------------------
def test_a_spec_inside_its_data_folder_never_trains_its_previous_runs(tmp_path):
    data = make_images(tmp_path / "photos", {"cats": 6, "dogs": 6})
    spec = data / "spec.yaml"
    spec.write_text(tiny_run("."), encoding="utf-8")
    first = cnnbuild.run(spec)
    assert (data / "runs").is_dir() and any((data / "runs").rglob("curves.png"))
    second = cnnbuild.run(spec)
    assert second.class_names == ["cats", "dogs"]
    reasons = {item["path"]: item["reason"] for item in second.skipped}
    assert "run directories" in reasons[str(data / "runs")] and "spec.yaml" in {Path(p).name for p in reasons}
    assert first.class_names == ["cats", "dogs"]


# -- 4. every class has training images --------------------------------------------------------------------
def test_a_class_with_one_image_is_trained_and_the_missing_validation_is_said(tmp_path):
    data = make_images(tmp_path / "data", {"common": 8, "rare": 1})
    source = load(ImageDirectoryParams(path=str(data), image_size=(8, 8), validation_split=0.6), DataContext(base_dir=tmp_path, seed=1))
    assert sorted(set(source.train_labels)) == [0, 1]
    assert any("['rare'] have a single example" in warning for warning in source.warnings)


def test_a_source_leaving_a_class_out_of_training_is_refused(tmp_path):
    from cnnbuild.builder.training.data_checks import check_training_labels
    from cnnbuild.contracts import Datasets

    with pytest.raises(RunError, match=r"class\(es\) \['b'\] have no training examples"):
        check_training_labels(Datasets(train=object(), validation=None, class_names=["a", "b"], train_count=2, train_labels=[0, 0]))


# -- 5. files that vanish, thin images ---------------------------------------------------------------------
def test_a_very_thin_image_cropped_to_the_aspect_ratio_is_kept(tmp_path):
    from PIL import Image

    Image.new("RGB", (10, 100), (90, 10, 10)).save(tmp_path / "thin.png")
    params = ImageDirectoryParams(path=str(tmp_path), image_size=(4, 200), crop_to_aspect_ratio=True)
    decoded = list(decode_files([ImageFile(str(tmp_path / "thin.png"), 0, True, 1)], params).as_numpy_iterator())
    assert len(decoded) == 1 and decoded[0][0].shape == (4, 200, 3)


class DeleteOneValidationFile:
    """A callback plugin that deletes a file of the validation split when training begins."""

    victim: Path

    @cnnbuild.hookimpl
    def register_callbacks(self, register):
        def factory(params, context):
            import keras

            victim = self.victim

            class Delete(keras.callbacks.Callback):
                def on_train_begin(self, logs=None):
                    victim.unlink()

            return Delete()

        register("DeleteOne", cnnbuild.Params, factory)


def test_a_file_that_vanishes_during_training_is_listed_and_the_counts_add_up(tmp_path, plugin):
    data = make_images(tmp_path / "data", {"cats": 8, "dogs": 8})
    probe = DeleteOneValidationFile()
    plugin(probe, "delete-one")
    spec = _tiny_spec(tmp_path, data)
    text = spec.read_text().replace("train: {epochs: 1, verbose: line}", "train: {epochs: 1, verbose: line, callbacks: [DeleteOne]}")
    spec.write_text(text)
    source = load(ImageDirectoryParams(path=str(data), image_size=(16, 16), validation_split=0.25), DataContext(base_dir=tmp_path, seed=5))
    probe.victim = Path(next(path for path, _, split in source.files if split == "validation"))
    result = cnnbuild.run(spec, output=tmp_path / "run")
    skipped = json.loads((tmp_path / "run" / "skipped.json").read_text())
    assert any(item["path"] == str(probe.victim) and "removed or unreadable after the check" in item["reason"] for item in skipped)
    metrics = result.metrics
    assert metrics["validation_examples"] == source.validation_count - 1
    assert sum(row["support"] for row in metrics["per_class"]) == metrics["validation_examples"]
    predictions = (tmp_path / "run" / "predictions.csv").read_text().splitlines()
    assert len(predictions) == 1 + metrics["validation_examples"] and str(probe.victim) not in "\n".join(predictions)


# -- 6. every file used or listed -------------------------------------------------------------------------------
def test_every_file_under_the_folder_is_used_or_listed(tmp_path):
    from PIL import Image

    root = make_images(tmp_path / "data", {"a": 3, "b": 3})
    for name in ("photo.JFIF", "photo.jpe", "photo.JPG"):
        Image.new("RGB", (20, 20), (10, 200, 10)).save(root / "a" / name, format="JPEG")
    (root / "a" / "iphone.HEIC").write_bytes(b"\x00\x00\x00\x18ftypheic")
    (root / "a" / "logo.svg").write_text("<svg/>")
    (root / "a" / "notes.txt").write_text("hello")
    make_images(tmp_path / "elsewhere", {"more": 2})
    (root / "b" / "linked").symlink_to(tmp_path / "elsewhere" / "more")  # a linked sub-folder: followed
    (root / "b" / "twice").symlink_to(tmp_path / "elsewhere" / "more")  # the same folder again (sorted after "linked"): read once
    make_images(root / "a" / ".ipynb_checkpoints", {"x": 2})
    found = scan(root)
    used = {Path(item.path).name for item in found.files}
    assert {"photo.JFIF", "photo.jpe", "photo.JPG", "more_000.jpg", "more_001.png"} <= used
    reasons = {Path(item.path).name: item.reason for item in found.skipped}
    assert "HEIC" in reasons["iphone.HEIC"] and "convert it to JPEG" in reasons["iphone.HEIC"]
    assert "SVG" in reasons["logo.svg"] and "not an image file (suffix .txt)" in reasons["notes.txt"]
    assert "already read" in reasons["twice"]
    assert "hidden folder" in reasons[".ipynb_checkpoints"] and "holding 2 image file(s)" in reasons[".ipynb_checkpoints"]
    accounted = {Path(item.path) for item in found.files} | {Path(item.path) for item in found.skipped}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]  # a hidden folder is listed as a whole
        for name in files:
            assert Path(folder) / name in accounted, f"{Path(folder) / name} is neither used nor listed"


def test_predict_on_a_folder_follows_the_same_rules_as_training(tmp_path):
    data = make_images(tmp_path / "data", {"cats": 6, "dogs": 6})
    run_dir = tmp_path / "run"
    cnnbuild.run(_tiny_spec(tmp_path, data), output=run_dir)
    make_images(tmp_path / "new" / ".hidden", {"x": 2})
    make_images(tmp_path / "new", {"visible": 2})
    from cnnbuild.builder.inference import predict

    results = predict(run_dir, [tmp_path / "new"])
    predicted = [Path(r["path"]).name for r in results if "predictions" in r]
    assert sorted(predicted) == ["visible_000.jpg", "visible_001.png"]
    not_used = {Path(r["path"]).name: r["not_used"] for r in results if "not_used" in r}
    assert "holding 2 image file(s)" in not_used[".hidden"]


# -- 7. class names that are not plain words ---------------------------------------------------------------------
def test_class_names_with_math_characters_are_drawn_literally(tmp_path):
    data = make_images(tmp_path / "data", {"$x^2$": 6, "a^b": 6, "$^$": 6})
    run_dir = tmp_path / "run"
    result = cnnbuild.run(_tiny_spec(tmp_path, data), output=run_dir)
    assert result.completed and result.warnings == []
    for figure in ("confusion_matrix.png", "misclassified.png", "curves.png"):
        assert (run_dir / figure).stat().st_size > 1000, figure
    done = run_cli("preview", str(_tiny_spec(tmp_path, data)), "--out", str(tmp_path / "preview"))
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr[-2000:]


def test_class_names_match_whichever_unicode_form_the_folder_has(tmp_path):
    decomposed = unicodedata.normalize("NFD", "café")
    data = make_images(tmp_path / "data", {decomposed: 3, "thé": 3})
    names = scan(data, ["café", "thé"]).class_names  # typed in a spec: composed (NFC)
    assert names == ["café", "thé"]
    make_images(data, {"café": 2})  # the same name, composed, next to the decomposed folder
    if len({entry for entry in os.listdir(data)}) == 3:  # file systems that keep both forms apart
        with pytest.raises(DataError, match="the same name written two ways in Unicode"):
            scan(data)


# -- 8. resources and failures ----------------------------------------------------------------------------------------
def test_validate_warns_when_a_training_step_needs_more_memory_than_the_machine_has(tmp_path):
    spec = tmp_path / "huge.yaml"
    spec.write_text(
        "data: {type: digits, image_size: [2048, 2048], batch_size: 256}\nmodel:\n  layers:\n"
        "    - {type: Conv2D, filters: 256, kernel_size: 3, padding: same}\n    - GlobalAveragePooling2D\n    - {type: Dense, units: auto}\n"
    )
    done = run_cli("validate", str(spec))
    assert done.returncode == 0, done.stderr
    assert "data.batch_size: warning: this model needs about" in done.stderr and "GiB of memory can hold" in done.stderr


def test_validate_finds_data_mistakes_before_anything_loads(tmp_path):
    make_images(tmp_path / "one", {"only": 2})
    (tmp_path / "two").mkdir()
    make_images(tmp_path / "two", {"a": 2})
    (tmp_path / "two" / "empty").mkdir()
    cases = {
        "missing": ("does-not-exist", 0, "data.path: warning: ", "folder does not exist"),  # a spec may be checked where its data is not
        "single": ("one", 1, "data.path: ", "only one class"),
        "empty": ("two", 1, "data.path: ", "class folders ['empty'] hold no image files"),
    }
    for name, (folder, status, where, expected) in cases.items():
        spec = _tiny_spec(tmp_path, tmp_path / folder, name=f"{name}.yaml")
        done = run_cli("validate", str(spec))
        assert done.returncode == status and f"{name}.yaml:2:" in done.stderr and where in done.stderr and expected in done.stderr, (name, done.stderr)
    spec = _tiny_spec(tmp_path, tmp_path / "two", name="named.yaml")
    spec.write_text(spec.read_text().replace("validation_split: 0.25}", "validation_split: 0.25, class_names: [a, b]}"))
    done = run_cli("validate", str(spec))
    assert done.returncode == 1 and "class folders ['b'] not found" in done.stderr


def test_a_set_up_failure_marks_the_run_failed_and_the_folder_can_be_used_again(tmp_path, plugin):
    class BrokenLayer:
        @cnnbuild.hookimpl
        def register_layers(self, register):
            def factory(params):
                raise MemoryError("no room")

            register("Broken", cnnbuild.Params, factory, shape=lambda p, s: cnnbuild.LayerShape(s))

    plugin(BrokenLayer(), "broken-layer")
    data = make_images(tmp_path / "data", {"cats": 4, "dogs": 4})
    spec = _tiny_spec(tmp_path, data)
    spec.write_text(spec.read_text().replace("    - MaxPooling2D\n", "    - MaxPooling2D\n    - Broken\n"))
    with pytest.raises(cnnbuild.CnnbuildError):
        cnnbuild.run(spec, output=tmp_path / "run")
    status = json.loads((tmp_path / "run" / "status.json").read_text())
    assert status["state"] == "failed" and "no room" in status["error"] and "\n" not in status["error"]
    spec.write_text(spec.read_text().replace("    - Broken\n", ""))
    assert cnnbuild.run(spec, output=tmp_path / "run").completed  # the failed run's folder does not block a rerun


def test_summary_keeps_the_param_column_when_written_to_a_file(tmp_path):
    done = run_cli("summary", str(Path(__file__).resolve().parents[2] / "examples" / "digits.yaml"))
    assert done.returncode == 0 and "Param #" in done.stdout and "Memory: about" in done.stdout


def test_libjpeg_warnings_never_reach_the_terminal(tmp_path):
    """TensorFlow decodes a JPEG with damaged entropy data, printing "Corrupt JPEG data" straight to
    standard error; the check hands such files to Pillow, so neither the check nor training prints it."""
    import io

    from PIL import Image

    data = make_images(tmp_path / "data", {"a": 6, "b": 6})
    noise = Image.fromarray(np.random.RandomState(0).randint(0, 255, (64, 64, 3), dtype=np.uint8))
    out = io.BytesIO()
    noise.save(out, format="JPEG", quality=90)
    damaged = bytearray(out.getvalue())
    damaged[len(damaged) // 2 : len(damaged) // 2 + 20] = b"\xff\x00" * 10
    (data / "a" / "damaged.jpg").write_bytes(bytes(damaged))
    assert check_image(data / "a" / "damaged.jpg") == (False, "")  # usable, decoded by Pillow
    done = run_cli("run", str(_tiny_spec(tmp_path, data)), "--output", str(tmp_path / "run"))
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Corrupt JPEG" not in done.stderr and "Premature end" not in done.stderr
    assert done.stdout.splitlines()[:2] == ["loading TensorFlow", "checking image files (13)"]  # start-up progress, one line a step where output is not a terminal


def test_validate_names_a_missing_package_a_type_requires(tmp_path, plugin):
    class NeedsAPackage:
        @cnnbuild.hookimpl
        def register_callbacks(self, register):
            register("Fancy", cnnbuild.Params, lambda p, c: None, requires=("no_such_module_for_cnnbuild:cnnbuild-fancy>=2",))

    plugin(NeedsAPackage(), "needs-a-package")
    with pytest.raises(cnnbuild.SpecError) as caught:
        cnnbuild.spec.spec_from_text("data: {type: digits}\nmodel: {layers: [Flatten, {type: Dense, units: auto}]}\ntrain: {callbacks: [Fancy]}\n")
    assert "train.callbacks[0].type: Fancy needs the no_such_module_for_cnnbuild package, which is not installed: pip install 'cnnbuild-fancy>=2'" in str(caught.value)
