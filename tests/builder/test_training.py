"""`cnnbuild run` end to end on generated image folders, digits and real photos, in real subprocesses
(evaluate and predict on the runs go through click in this process: their own processes are tested
in tests/compat and tests/reliability)."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from ..conftest import FLOWERS, SMALL_MODEL, TINY_DIGITS, beside_a_checkout, make_images, run_cli

REPO = Path(__file__).resolve().parents[2]


def cli_in_process(*args: str):
    """``cnnbuild ARGS`` through click in this process, without a TensorFlow start-up of its own."""
    from click.testing import CliRunner

    from cnnbuild.cli import cli

    return CliRunner().invoke(cli, list(args))


def folder_spec(write_spec, data_path: Path, extra: str = "", epochs: int = 2) -> Path:
    return write_spec(
        f"""
        name: tiny
        seed: 3
        data:
          type: image_directory
          path: {data_path}
          image_size: [16, 16]
          batch_size: 8
          validation_split: 0.25
        augmentation:
          - {{type: RandomFlip, mode: horizontal}}
        {SMALL_MODEL.strip().replace(chr(10), chr(10) + '        ')}
        train:
          epochs: {epochs}
        {extra}
        """
    )


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def add_bad_files(folder: Path) -> dict[str, str]:
    """A truncated JPEG, a zero-byte .jpg, a text file named .png and files that are not images."""
    first = sorted((folder / "circles").glob("*.jpg"))[0]
    truncated = folder / "circles" / "truncated.jpg"
    truncated.write_bytes(first.read_bytes()[:200])
    (folder / "squares" / "empty.jpg").write_bytes(b"")
    (folder / "stripes" / "notes.png").write_text("this is not a png")
    (folder / "stripes" / "Thumbs.db").write_bytes(b"\0" * 64)
    (folder / "squares" / ".DS_Store").write_bytes(b"\0" * 64)
    (folder / "README.txt").write_text("about these images")
    return {
        "truncated.jpg": "truncated", "empty.jpg": "empty file", "notes.png": "not an image",
        "Thumbs.db": "operating system's own file", ".DS_Store": "hidden file", "README.txt": "next to the class folders",
    }  # fmt: skip


def test_run_writes_every_artifact_and_skips_bad_files(image_folder, write_spec, tmp_path):
    bad = add_bad_files(image_folder)
    from PIL import Image

    Image.new("L", (30, 20), 128).save(image_folder / "circles" / "gray.png")
    Image.new("RGBA", (20, 30), (10, 200, 10, 128)).save(image_folder / "squares" / "alpha.png")
    spec = folder_spec(write_spec, image_folder)
    run_dir = tmp_path / "run"
    result = run_cli("run", str(spec), "--output", str(run_dir))
    assert result.returncode == 0, result.stderr

    for name in ("spec.yaml", "model.keras", "history.csv", "history.json", "metrics.json", "summary.txt", "class_names.json", "environment.json", "skipped.json", "status.json"):
        assert (run_dir / name).is_file(), name
    assert not list(run_dir.rglob(".*.tmp")) and not [p for p in run_dir.rglob(".*") if p.is_file()]

    skipped = {Path(item["path"]).name: item["reason"] for item in json.loads((run_dir / "skipped.json").read_text())}
    assert set(skipped) == set(bad)
    for name, reason in bad.items():
        assert reason in skipped[name]
        assert name in result.stderr
    assert "6 file(s) or folder(s) not used" in result.stderr

    resolved = yaml.safe_load((run_dir / "spec.yaml").read_text())
    assert resolved["data"]["shuffle_buffer"] == 1000 and resolved["model"]["layers"][1]["strides"] == [1, 1]
    assert resolved["train"]["callbacks"] == []
    assert resolved["data"]["path"] == str(image_folder)
    assert resolved["format_version"] == 2 and json.loads((run_dir / "run.json").read_text())["format_version"] == 3  # the spec and run folder formats
    assert oct((run_dir / "metrics.json").stat().st_mode & 0o777) == oct(0o666 & ~_umask())
    rerun = run_cli("validate", str(run_dir / "spec.yaml"))  # the resolved spec runs from anywhere
    assert rerun.returncode == 0, rerun.stderr
    assert json.loads((run_dir / "class_names.json").read_text()) == ["circles", "squares", "stripes"]

    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["epochs_run"] == 2 and metrics["epochs"] == 2
    # 13 + 13 + 12 usable images after skipping; 25% of each class held out (3, 3, 3)
    assert metrics["train_examples"] == 29 and metrics["validation_examples"] == 9
    assert set(metrics["final"]) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert metrics["train_images_per_second"] > 0 and metrics["wall_seconds"] > 0
    assert metrics["best"]["val_loss"]["value"] == min(json.loads((run_dir / "history.json").read_text())["val_loss"])

    with (run_dir / "history.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [row["epoch"] for row in rows] == ["1", "2"]

    environment = json.loads((run_dir / "environment.json").read_text())
    assert environment["versions"]["tensorflow"].startswith("2.")
    assert environment["versions"]["keras"].startswith("3.")
    assert len(environment["data"]["fingerprint"]) == 64
    assert json.loads((run_dir / "status.json").read_text())["state"] == "completed"
    assert "epoch 2/2" in result.stdout and "run complete" in result.stdout

    evaluated = cli_in_process("evaluate", str(run_dir), "--json")
    assert evaluated.exit_code == 0, evaluated.output
    assert json.loads(evaluated.stdout)["examples"] == 9


def test_same_seed_same_split_and_fingerprint(image_folder, write_spec, tmp_path):
    from cnnbuild.builder.data.source import load_source
    from cnnbuild.spec import load_spec

    spec = load_spec(folder_spec(write_spec, image_folder))

    first, again, other = (load_source(spec.model_copy(update={"seed": s})) for s in (3, 3, 4))
    labels = lambda source: [int(label) for _, label in source.validation.as_numpy_iterator()]  # noqa: E731
    images = lambda source: [image.sum().round(2) for image, _ in source.validation.as_numpy_iterator()]  # noqa: E731
    assert images(first) == images(again)
    assert images(first) != images(other)
    assert sorted(labels(first)) == [0, 0, 0, 1, 1, 1, 2, 2, 2]  # stratified
    assert first.fingerprint == other.fingerprint
    train = {image.sum().round(2) for image, _ in first.train.as_numpy_iterator()}
    assert train.isdisjoint(images(first))


@pytest.mark.parametrize(
    "layout, fragment",
    [
        ({"a": 0, "b": 3}, "class folders ['a'] hold no image files"),  # found by the spec check, before TensorFlow loads
        ({"only": 3}, "only one class ('only')"),
        ({}, "no class sub-folders found"),
    ],
)
def test_unusable_folders_stop_before_training(tmp_path, write_spec, layout, fragment):
    data = tmp_path / "data"
    data.mkdir()
    for name, count in layout.items():
        (data / name).mkdir()
        make_images(data, {name: count}) if count else None
    spec = folder_spec(write_spec, data)
    result = run_cli("run", str(spec), "--output", str(tmp_path / "run"))
    assert result.returncode == 1
    assert fragment in result.stderr and str(data) in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "run").exists()


def test_python_api_on_digits(tmp_path):
    import cnnbuild

    result = cnnbuild.run(REPO / "examples" / "digits.yaml", overrides=["train.epochs=2", "data.image_size=[8,8]", "train.verbose=quiet"], output=tmp_path / "run")
    assert result.completed and result.run_dir == tmp_path / "run"
    assert len(result.history["val_accuracy"]) == 2
    assert result.metrics["validation_examples"] == 359 and result.metrics["train_examples"] == 1438
    assert result.class_names == [str(i) for i in range(10)]
    assert result.metrics["best"]["val_accuracy"]["value"] > 0.5


def test_seeded_runs_repeat_exactly(tmp_path):
    import cnnbuild

    overrides = ["train.epochs=2", "data.image_size=[8,8]", "train.verbose=quiet", "train.callbacks=[]"]
    first, second = (cnnbuild.run(REPO / "examples" / "digits.yaml", overrides=overrides, output=tmp_path / name) for name in ("a", "b"))
    assert first.history == second.history


def _wait_for_epochs(run_dir: Path, count: int, process: subprocess.Popen, timeout: float = 240) -> None:
    state = run_dir / "checkpoints" / "state.json"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if state.exists() and json.loads(state.read_text())["completed_epochs"] >= count:
            return
        if process.poll() is not None:
            raise AssertionError(f"run ended early: {process.stderr.read()}")
        time.sleep(0.05)
    raise AssertionError("no checkpoint in time")


def _start(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "cnnbuild", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ})


def test_killed_run_resumes_to_the_full_epoch_count(tmp_path):
    run_dir = tmp_path / "run"
    args = ["run", str(REPO / "examples" / "digits.yaml"), "--output", str(run_dir), "--set", "train.epochs=6", "--set", "train.callbacks=[]"]
    process = _start(args)
    _wait_for_epochs(run_dir, 2, process)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    done_before = json.loads((run_dir / "checkpoints" / "state.json").read_text())["completed_epochs"]
    assert 2 <= done_before < 6
    assert not (run_dir / "model.keras").exists()

    resumed = run_cli("run", "--resume", str(run_dir))
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming {run_dir} after epoch {done_before} of 6" in resumed.stdout
    history = json.loads((run_dir / "history.json").read_text())
    assert all(len(values) == 6 for values in history.values())
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["epochs_run"] == 6
    assert metrics["final"]["val_accuracy"] > 0.8
    again = run_cli("run", "--resume", str(run_dir))
    assert again.returncode == 0 and "already complete" in again.stderr


def test_ctrl_c_stops_cleanly_and_says_how_to_resume(tmp_path):
    run_dir = tmp_path / "run"
    process = _start(["run", str(REPO / "examples" / "digits.yaml"), "--output", str(run_dir), "--set", "train.epochs=200", "--set", "train.callbacks=[]"])
    _wait_for_epochs(run_dir, 1, process)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130
    assert f"cnnbuild run --resume {run_dir}" in stderr
    assert "Traceback" not in stderr
    status = json.loads((run_dir / "status.json").read_text())
    assert status["state"] == "interrupted" and status["completed_epochs"] >= 1


@pytest.mark.slow
@pytest.mark.skipif(not FLOWERS.is_dir(), reason="../shared/data/flowers is not present")
def test_real_flower_photos(tmp_path):
    run_dir = tmp_path / "run"
    result = run_cli(
        "run", str(REPO / "examples" / "flowers.yaml"), "--output", str(run_dir),
        "--set", f"data.path={FLOWERS}", "--set", "data.image_size=[48,48]", "--set", "train.epochs=2",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert json.loads((run_dir / "class_names.json").read_text()) == ["daisy", "dandelion", "roses", "sunflowers", "tulips"]
    assert metrics["train_examples"] + metrics["validation_examples"] == 600
    assert metrics["validation_examples"] == 120
    skipped = json.loads((run_dir / "skipped.json").read_text())
    assert metrics["skipped_files"] == len(skipped) and all("next to the class folders" in item["reason"] for item in skipped)  # LICENSE.txt and the like
    assert metrics["final"]["val_accuracy"] > 0.2  # above chance after two epochs at 48x48
    predicted = cli_in_process("predict", str(run_dir), str(FLOWERS / "roses"), "--json")
    assert predicted.exit_code == 0, predicted.output
    assert len(json.loads(predicted.stdout)) == 120


def test_a_run_started_from_the_folder_holding_a_checkout_trains_with_the_installed_package(tmp_path):
    """`cd parent && cnnbuild run cnnbuild/examples/x.yaml` right after `git clone`: the supervised
    training child must not import the checkout's cnnbuild/ folder from the current directory."""
    parent = beside_a_checkout(tmp_path / "parent")
    (parent / "cnnbuild" / "examples").mkdir()
    (parent / "cnnbuild" / "examples" / "tiny.yaml").write_text(TINY_DIGITS.replace("    - {type: SqueezeExcitation2D, ratio: 4}\n", ""))
    result = run_cli("run", "cnnbuild/examples/tiny.yaml", "--set", "train.epochs=1", "--output", str(tmp_path / "run"), cwd=parent, console=True)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert json.loads((tmp_path / "run" / "status.json").read_text())["state"] == "completed"
