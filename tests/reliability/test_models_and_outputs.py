"""Saved models are loaded in Keras safe mode, a run writes only inside its own directory, and the
Keras floor excludes the releases with model-loading and archive advisories."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from importlib import metadata
from pathlib import Path

import pytest

from cnnbuild.spec import SpecError, spec_from_text

from ..conftest import make_images, run_cli

REPO = Path(__file__).resolve().parents[2]

SPEC = """name: tiny
seed: 5
data: {{type: image_directory, path: images, image_size: [12, 12], batch_size: 4, validation_split: 0.25{cache}}}
model:
  layers:
    - {{type: Rescaling, scale: 1/255}}
    - {{type: Conv2D, filters: 4, kernel_size: 3, activation: relu}}
    - MaxPooling2D
    - Flatten
    - {{type: Dense, units: auto}}
train:
  epochs: {epochs}
  verbose: line
  callbacks:{callbacks}
"""


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("finished")
    make_images(folder / "images", {"cats": 8, "dogs": 8}, size=(12, 12))
    (folder / "spec.yaml").write_text(SPEC.format(cache="", epochs=1, callbacks=" []"), encoding="utf-8")
    result = run_cli("run", str(folder / "spec.yaml"), "--output", str(folder / "run"))
    assert result.returncode == 0, result.stderr[-2000:]
    return folder / "run"


def write_lambda_model(sentinel: Path, target: Path, units: int) -> None:
    """Save to ``target`` a model whose Lambda layer runs code (it creates ``sentinel``; building the
    model runs it once). Written in this process: only the processes that load it are under test."""
    import keras

    code = eval("lambda x: (__import__('pathlib').Path(%r).touch(), x)[1]" % str(sentinel))  # the path is in the code itself
    model = keras.Sequential([keras.Input((12, 12, 3)), keras.layers.Lambda(code), keras.layers.Flatten(), keras.layers.Dense(units)])
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    model.save(target)


def cli_in_process(*args: str):
    """``cnnbuild ARGS`` through click in this process (the model is already loaded here: no
    TensorFlow start-up); the Lambda test's other commands run in real processes."""
    from click.testing import CliRunner

    from cnnbuild.cli import cli

    return CliRunner().invoke(cli, list(args))


def test_a_model_holding_python_code_is_refused_unless_allowed(finished_run, tmp_path, tally):
    """model.keras replaced by one whose Lambda layer runs code (here: it creates a file)."""
    unsafe_run = tmp_path / "run"
    subprocess.run(["cp", "-r", str(finished_run), str(unsafe_run)], check=True)
    sentinel = tmp_path / "code-ran"
    write_lambda_model(sentinel, unsafe_run / "model.keras", 1)
    sentinel.unlink()  # building the model ran it once, here
    image = next((unsafe_run.parent.parent / "images").rglob("*.png"), None) or next(finished_run.parent.joinpath("images").rglob("*.*"))

    refused = run_cli("predict", str(unsafe_run), str(image), timeout=300)
    assert refused.returncode == 1, refused.stderr[-2000:]
    assert "refused to load: the model contains Python code (a Lambda layer)" in refused.stderr and "--allow-unsafe-model" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert not sentinel.exists(), "predict ran the model's code without --allow-unsafe-model"
    tally["Lambda models refused"] += 1

    refused_here = cli_in_process("evaluate", str(unsafe_run))
    assert refused_here.exit_code == 1 and isinstance(refused_here.exception, SystemExit), refused_here.output[-2000:]
    assert "refused to load: the model contains Python code (a Lambda layer)" in refused_here.stderr and "--allow-unsafe-model" in refused_here.stderr
    assert not sentinel.exists(), "evaluate ran the model's code without --allow-unsafe-model"
    tally["Lambda models refused"] += 1

    allowed = run_cli("predict", str(unsafe_run), str(image), "--allow-unsafe-model", "--json", timeout=300)
    assert allowed.returncode == 0, allowed.stderr[-2000:]
    assert json.loads(allowed.stdout)[0]["predictions"]
    assert sentinel.exists()  # the flag really is what stands between the file and code execution

    # a model file of another shape than the run's (two outputs for this binary run): a clear error, never answers for the wrong classes
    write_lambda_model(sentinel, unsafe_run / "model.keras", 2)
    mismatched = cli_in_process("predict", str(unsafe_run), str(image), "--allow-unsafe-model")
    assert mismatched.exit_code == 1 and isinstance(mismatched.exception, SystemExit), mismatched.output[-2000:]
    assert "the model gives outputs of shape (2,) per image where this run's 2 classes (binary labels) need (1,): its model file does not match the run" in mismatched.stderr


def test_a_damaged_model_file_is_a_clear_error(finished_run, tmp_path, tally):
    broken_run = tmp_path / "run"
    subprocess.run(["cp", "-r", str(finished_run), str(broken_run)], check=True)
    from cnnbuild.builder.evaluate import evaluate
    from cnnbuild.errors import RunError

    model = broken_run / "model.keras"
    model.write_bytes(model.read_bytes()[: model.stat().st_size // 3])
    with pytest.raises(RunError, match=f"{re.escape(str(model))}: the model file is damaged: not a complete .keras archive"):
        evaluate(broken_run)
    tally["damaged model files refused"] += 1


@pytest.mark.parametrize(
    "callback, expected",
    [
        ("{type: CSVLogger, filename: ../escape.csv}", "must be a relative path inside the run directory"),
        ("{type: CSVLogger, filename: /tmp/escape.csv}", "must be a relative path inside the run directory"),
        ("{type: CSVLogger, filename: 'C:/escape.csv'}", "must be a relative path inside the run directory"),
        ("{type: CSVLogger, filename: logs/../../escape.csv}", "must be a relative path inside the run directory"),
        ("{type: CSVLogger, filename: spec.yaml}", "cnnbuild's own run file"),
        ("{type: CSVLogger, filename: checkpoints/state.json}", "cnnbuild's own run file"),
        ("{type: ModelCheckpoint, filepath: model.keras}", "cnnbuild's own run file"),
        ("{type: ModelCheckpoint, filepath: 'checkpoints/epoch-{epoch:04d}.keras'}", "cnnbuild's own run file"),
        ("{type: TensorBoard, log_dir: metrics.json/tb}", "cnnbuild's own run file"),
        ("{type: BackupAndRestore, backup_dir: .}", "is the run directory itself"),
        ("{type: BackupAndRestore, backup_dir: ./}", "is the run directory itself"),
        ("{type: BackupAndRestore, backup_dir: checkpoints}", "cnnbuild's own run file or folder"),
    ],
)
def test_callback_paths_cannot_leave_or_clobber_the_run(tally, callback, expected):
    text = SPEC.format(cache="", epochs=1, callbacks=f"\n    - {callback}")
    with pytest.raises(SpecError) as caught:
        spec_from_text(text, "spec.yaml")
    assert expected in str(caught.value) and str(caught.value).startswith("spec.yaml:15:")
    tally["callback paths leaving or clobbering the run refused"] += 1


@pytest.mark.parametrize("name", ["../../etc", "/abs", "a/b", "..", ".hidden", "x" * 65, "ünï"])
def test_run_names_cannot_leave_the_output_folder(tally, name):
    text = f"name: {json.dumps(name)}\n" + SPEC.format(cache="", epochs=1, callbacks=" []").split("\n", 1)[1]
    with pytest.raises(SpecError, match=r"spec.yaml:1:7: name: must be letters, digits, '.', '_' and '-'"):
        spec_from_text(text, "spec.yaml")
    tally["run names with path traversal refused"] += 1


def _snapshot(root: Path) -> dict[str, int]:
    return {str(path.relative_to(root)): path.stat().st_size for path in root.rglob("*") if path.is_file()}


def test_a_run_writes_inside_its_run_directory_only(tmp_path, tally):
    """Every callback that writes files, a file cache and the figures: afterwards the only new
    files outside the run directory are the cache the spec asked for and the libraries' own
    configuration under $HOME."""
    project = tmp_path / "project"
    make_images(project / "images", {"cats": 8, "dogs": 8}, size=(12, 12))
    callbacks = "".join(
        f"\n    - {entry}"
        for entry in (
            "{type: CSVLogger, filename: logs/train.csv}",
            "{type: ModelCheckpoint, filepath: checkpoints/best.keras}",
            "{type: BackupAndRestore, backup_dir: backup}",
            "{type: EarlyStopping, patience: 5}",
        )
    )
    (project / "spec.yaml").write_text(SPEC.format(cache=", cache: cache/decoded", epochs=2, callbacks=callbacks), encoding="utf-8")
    home, cwd = tmp_path / "home", tmp_path / "cwd"
    home.mkdir()
    cwd.mkdir()
    before = _snapshot(tmp_path)
    result = run_cli("run", str(project / "spec.yaml"), "--output", str(tmp_path / "out" / "run"), cwd=cwd, env={"HOME": str(home), "MPLCONFIGDIR": str(home / ".config" / "matplotlib")})
    assert result.returncode == 0, result.stderr[-2000:]
    new = sorted(set(_snapshot(tmp_path)) - set(before))
    outside = [name for name in new if not name.startswith("out/run/")]
    allowed = ("project/cache/", "home/.keras/", "home/.config/matplotlib/", "home/.cache/")
    assert all(name.startswith(allowed) for name in outside), outside
    assert not any(name.startswith("cwd/") for name in new)
    inside = {name.removeprefix("out/run/") for name in new if name.startswith("out/run/")}
    assert {"logs/train.csv", "checkpoints/best.keras", "spec.yaml", "model.keras", "checkpoints/state.json"} <= inside
    umask = os.umask(0)
    os.umask(umask)
    modes = {name: oct((tmp_path / "out" / "run" / name).stat().st_mode & 0o777) for name in inside if (tmp_path / "out" / "run" / name).is_file()}
    assert set(modes.values()) == {oct(0o666 & ~umask)}, modes  # ordinary files, as the user's umask makes them (RELIABILITY.md)
    tally["full runs checked for writes outside the run directory"] += 1


def test_output_must_be_new_or_empty(finished_run, tmp_path, tally):
    result = run_cli("run", str(finished_run.parent / "spec.yaml"), "--output", str(finished_run), timeout=300)
    assert result.returncode == 1 and "output folder is not empty" in result.stderr and "Traceback" not in result.stderr
    tally["non-empty --output folders refused"] += 1


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def test_keras_floor_excludes_the_advisories_and_is_installed():
    pyproject = (REPO / "pyproject.toml").read_text()
    floor = re.search(r'"keras>=([\d.]+)"', pyproject).group(1)
    assert _version(floor) >= (3, 14, 1)  # see RELIABILITY.md: the first release fixing every advisory listed there
    assert _version(metadata.version("keras")) >= _version(floor)
    assert "3.14.1" in (REPO / "RELIABILITY.md").read_text()


def test_tensorboard_without_its_package_stops_before_training(tmp_path):
    import importlib.util

    if importlib.util.find_spec("tensorboard") is not None:
        pytest.skip("tensorboard is installed here")
    with pytest.raises(SpecError) as caught:  # found by the spec check, before anything trains (or a run folder exists)
        spec_from_text(SPEC.format(cache="", epochs=1, callbacks="\n    - {type: TensorBoard, log_dir: tb}"), "spec.yaml")
    assert "train.callbacks[0].type: TensorBoard needs the tensorboard package, which is not installed: pip install 'cnnbuild[tensorboard]'" in str(caught.value)
    from cnnbuild.builder.training.user_callbacks import user_callbacks
    from cnnbuild.errors import CnnbuildError
    from cnnbuild.runs.directory import RunDirectory
    from cnnbuild.spec import validate_source
    from cnnbuild.spec.yaml_source import parse_yaml

    spec = validate_source(parse_yaml(SPEC.format(cache="", epochs=1, callbacks="\n    - {type: TensorBoard, log_dir: tb}"), "spec.yaml"), check=False)
    with pytest.raises(CnnbuildError, match="needs the tensorboard package"):
        user_callbacks(spec, RunDirectory(tmp_path), None, {})  # built before the first epoch, not failing at its first batch


def test_run_files_follow_the_umask_so_a_private_umask_makes_them_private(tmp_path):
    """Run files are written to a temporary file (mkstemp: owner-only) and renamed; they end with
    the mode any file the user creates gets (0644 under umask 022, 0600 under 077)."""
    script = textwrap.dedent(
        """
        import os, sys
        os.umask(int(sys.argv[2], 8))
        from cnnbuild.runs.directory import RunDirectory
        run = RunDirectory(sys.argv[1])
        run.write_json("metrics.json", {})
        run.write_bytes_with("model.keras", lambda path: path.write_bytes(b"x"))
        """
    )
    for umask, expected in (("077", 0o600), ("022", 0o644)):
        folder = tmp_path / umask
        folder.mkdir()
        subprocess.run([sys.executable, "-c", script, str(folder), umask], check=True, timeout=60)
        assert {path.name: path.stat().st_mode & 0o777 for path in folder.iterdir()} == {"metrics.json": expected, "model.keras": expected}


def test_evaluate_on_data_with_classes_the_run_does_not_know_is_refused_before_tensorflow_loads(finished_run, tmp_path):
    from ..export import no_tensorflow

    other = make_images(tmp_path / "other", {"cats": 2, "birds": 2}, size=(12, 12))
    result = no_tensorflow.run("evaluate", str(finished_run), "--data", str(other))
    assert (result.returncode, result.stderr) == (1, "the data has classes the run's model does not know: ['birds']; the model's classes are ['cats', 'dogs']; leave those folders out\n")
