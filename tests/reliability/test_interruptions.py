"""Kills, Ctrl-C and full disks, on real ``python -m cnnbuild run`` processes: nothing finished
is lost, ``--resume`` completes the run with the right number of epochs, and a run that could
not be written is never reported as finished.

The probe plugin (processes.py) marks an exact batch so each signal lands where the test means
it to: mid-epoch, while the data cache is being written, or during validation.
"""

from __future__ import annotations

import json
import os
import re
import resource
import signal
from pathlib import Path

import pytest

from ..conftest import make_images
from .budget import scaled
from .processes import Run, cnnbuild, loaded, probe_env, process_tree, wait_for

pytestmark = pytest.mark.slow

EPOCHS = 5


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    return make_images(tmp_path_factory.mktemp("interrupt") / "images", {"circles": 20, "squares": 20, "stripes": 20}, size=(16, 16))


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    return probe_env(tmp_path / "plugins")


def write_spec(path: Path, images: Path, *, callbacks: list[str] = (), cache: str = "memory", big: bool = False, epochs: int = EPOCHS) -> Path:
    dense = "    - {type: Dense, units: 768, activation: relu}\n" if big else ""
    listed = "".join(f"\n    - {entry}" for entry in callbacks) if callbacks else " []"
    path.write_text(
        f"""name: interrupted
seed: 11
data: {{type: image_directory, path: {json.dumps(str(images))}, image_size: [16, 16], batch_size: 4, validation_split: 0.2, cache: {json.dumps(cache)}}}
model:
  layers:
    - {{type: Rescaling, scale: 1/255}}
    - {{type: Conv2D, filters: 8, kernel_size: 3, padding: same, activation: relu}}
    - MaxPooling2D
    - Flatten
{dense}    - {{type: Dense, units: auto}}
compile: {{optimizer: {{type: adam, learning_rate: 0.003}}}}
train:
  epochs: {epochs}
  steps_per_execution: 1  # HoldAt marks exact batches; grouped calls would skip them
  verbose: line
  callbacks:{listed}
""",
        encoding="utf-8",
    )
    return path


def hold(marker: Path, epoch: int, batch: int, phase: str = "train", seconds: float = 60) -> str:
    return f"{{type: HoldAt, marker: {json.dumps(str(marker))}, epoch: {epoch}, batch: {batch}, phase: {phase}, seconds: {seconds}}}"


def state(run_dir: Path) -> dict:
    path = run_dir / "checkpoints" / "state.json"
    return json.loads(path.read_text()) if path.exists() else {"completed_epochs": 0}


def status(run_dir: Path) -> str:
    return json.loads((run_dir / "status.json").read_text())["state"]


def assert_finished(run: Run, run_dir: Path, epochs: int = EPOCHS) -> dict:
    assert run.process.returncode == 0, run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    metrics = json.loads((run_dir / "metrics.json").read_text())
    history = json.loads((run_dir / "history.json").read_text())
    assert metrics["epochs_run"] == epochs and metrics["epochs"] == epochs
    assert {len(values) for values in history.values()} == {epochs}
    assert status(run_dir) == "completed"
    assert not list(run_dir.rglob(".partial-*"))
    return metrics


def test_sigkill_mid_epoch_twice_then_resume_matches_an_uninterrupted_run(images, env, tmp_path, tally):
    from cnnbuild.builder.training import run as train

    # the uninterrupted reference trains in this process: one TensorFlow start-up fewer, the same run
    baseline = train(write_spec(tmp_path / "baseline.yaml", images), output=tmp_path / "baseline")
    assert baseline.status == "completed" and len(baseline.history["loss"]) == EPOCHS
    expected = json.loads((baseline.run_dir / "metrics.json").read_text())

    run_dir, cache = tmp_path / "run", tmp_path / "cache" / "decoded"
    first, second = tmp_path / "first.marker", tmp_path / "second.marker"
    spec = write_spec(tmp_path / "spec.yaml", images, cache=str(cache), callbacks=[hold(first, epoch=0, batch=0, phase="validation"), hold(second, epoch=2, batch=2)])

    run = Run(["run", str(spec), "--output", str(run_dir)], tmp_path / "logs1", env)
    wait_for(first.exists, run)  # in epoch 1's validation, while the validation images' cache is being written
    assert list(cache.parent.glob("*validation*.lockfile")), "the kill should land while TensorFlow writes its cache"
    run.kill()
    assert state(run_dir)["completed_epochs"] == 0 and status(run_dir) == "running"

    run = Run(["run", "--resume", str(run_dir)], tmp_path / "logs2", env)
    wait_for(second.exists, run)  # inside epoch 3
    run.kill()
    assert state(run_dir)["completed_epochs"] == 2 and status(run_dir) == "running"

    resumed = cnnbuild(["run", "--resume", str(run_dir)], tmp_path / "logs3", env)
    assert "resuming" in resumed.stdout and "after epoch 2 of 5" in resumed.stdout
    metrics = assert_finished(resumed, run_dir)
    assert metrics["train_examples"] == expected["train_examples"] and metrics["validation_examples"] == expected["validation_examples"]
    assert abs(metrics["final"]["val_accuracy"] - expected["final"]["val_accuracy"]) <= 0.2, (metrics["final"], expected["final"])
    assert metrics["final"]["val_loss"] < 2 * expected["final"]["val_loss"] + 0.1, (metrics["final"], expected["final"])
    tally["SIGKILL mid-epoch, resumed to the full epoch count"] += 2


def test_ctrl_c_stops_at_a_safe_point_says_how_to_resume_and_keeps_finished_epochs(images, env, tmp_path, tally):
    run_dir = tmp_path / "run"
    during_training, during_validation = tmp_path / "training.marker", tmp_path / "validation.marker"
    spec = write_spec(
        tmp_path / "spec.yaml", images, callbacks=[hold(during_training, epoch=1, batch=2, seconds=3), hold(during_validation, epoch=3, batch=0, phase="validation", seconds=3)]
    )
    run = Run(["run", str(spec), "--output", str(run_dir)], tmp_path / "logs1", env)
    wait_for(during_training.exists, run)
    run.signal(signal.SIGINT)
    assert run.wait(120) == 130
    assert "interrupt received" in run.stderr and f"resume with: cnnbuild run --resume {run_dir}" in run.stderr
    assert "Traceback" not in run.stderr
    assert status(run_dir) == "interrupted" and state(run_dir)["completed_epochs"] == 1  # epoch 2 was cut short: it is redone

    run = Run(["run", "--resume", str(run_dir)], tmp_path / "logs2", env)
    wait_for(during_validation.exists, run)
    run.signal(signal.SIGINT)
    assert run.wait(120) == 130
    assert state(run_dir)["completed_epochs"] == 4  # asked during epoch 4's validation: its training was complete, so it is kept
    assert status(run_dir) == "interrupted"

    assert_finished(cnnbuild(["run", "--resume", str(run_dir)], tmp_path / "logs3", env), run_dir)
    tally["Ctrl-C during training, resumed"] += 1
    tally["Ctrl-C during validation, epoch kept, resumed"] += 1


def test_ctrl_c_before_training_starts_exits_130_without_a_traceback(images, env, tmp_path, tally):
    run = Run(["run", str(write_spec(tmp_path / "spec.yaml", images)), "--output", str(tmp_path / "run")], tmp_path / "logs", env)
    wait_for(lambda: loaded(run, "tensorflow"), run, poll=0.05)
    run.signal(signal.SIGINT)  # TensorFlow is loading: no epoch has started
    assert run.wait(120) == 130
    assert "Traceback" not in run.stderr
    assert "interrupted before training started; nothing new was trained" in run.stderr
    tally["Ctrl-C before training"] += 1


def test_ctrl_c_reaches_a_run_started_with_ctrl_c_ignored(images, env, tmp_path, tally):
    """A background job of a script (`cnnbuild run ... &`) starts with SIGINT ignored; the supervisor
    forwards SIGINT to its child all the same, so the child must not inherit the ignoring."""

    def ignoring_ctrl_c() -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    run = Run(["run", str(write_spec(tmp_path / "spec.yaml", images)), "--output", str(tmp_path / "run")], tmp_path / "logs", env, limits=ignoring_ctrl_c)
    wait_for(lambda: loaded(run, "tensorflow"), run, poll=0.05)
    run.signal(signal.SIGINT)
    assert run.wait(120) == 130
    assert "interrupted before training started" in run.stderr or "interrupted after" in run.stderr
    tally["Ctrl-C to a run started with Ctrl-C ignored"] += 1


@pytest.mark.parametrize("attempt", range(scaled(1, 5)))
def test_sigkill_while_a_checkpoint_is_written_leaves_a_resumable_run(images, env, tmp_path, tally, attempt):
    run_dir = tmp_path / "run"
    spec = write_spec(tmp_path / "spec.yaml", images, big=True, epochs=3)
    run = Run(["run", str(spec), "--output", str(run_dir)], tmp_path / "logs1", env)
    checkpoints = run_dir / "checkpoints"
    target_epoch = attempt % 3 + 1
    partial = f".partial-epoch-{target_epoch:04d}.keras"
    wait_for(lambda: checkpoints.is_dir() and any(path.name.startswith(partial) for path in checkpoints.iterdir()), run, poll=0.001)
    run.kill()
    left = [path.name for path in checkpoints.iterdir()]
    completed = state(run_dir)["completed_epochs"]
    assert completed in (target_epoch - 1, target_epoch), (left, completed)  # the write was cut off, or had just finished
    resumed = cnnbuild(["run", "--resume", str(run_dir)], tmp_path / "logs2", env)
    assert_finished(resumed, run_dir, epochs=3)
    tally["SIGKILL during a checkpoint write, resumed"] += 1


def test_a_full_disk_is_a_clear_error_and_never_a_finished_run(images, env, tmp_path, tally):
    run_dir = tmp_path / "run"
    spec = write_spec(tmp_path / "spec.yaml", images)
    limit = 40_000  # bytes per file: the run's small files fit, a model checkpoint does not

    def small_disk() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    run = Run(["run", str(spec), "--output", str(run_dir)], tmp_path / "logs1", env, limits=small_disk)
    assert run.wait(300) == 1
    assert "Traceback" not in run.stderr
    assert "File too large" in run.stderr and "free disk space or choose another output folder" in run.stderr, run.stderr[-2000:]
    assert status(run_dir) == "failed"  # never "completed"
    assert not (run_dir / "metrics.json").exists() and not (run_dir / "model.keras").exists()
    assert not list(run_dir.rglob(".partial-*"))
    assert_finished(cnnbuild(["run", "--resume", str(run_dir)], tmp_path / "logs2", env), run_dir)  # space freed: nothing was lost
    tally["full disk (RLIMIT_FSIZE): clear error, then resumed"] += 1


@pytest.mark.parametrize("where", ["/proc/cnnbuild-run", "{file}/run", "{file}/deeper/run"])
def test_an_unwritable_output_folder_is_refused_before_training(images, tmp_path, tally, where):
    from cnnbuild.builder.training import run
    from cnnbuild.errors import RunError

    blocker = tmp_path / "a-regular-file"
    blocker.write_text("x")
    output = where.format(file=blocker)
    with pytest.raises(RunError, match=f"cannot create the run directory {re.escape(output)}: .*set output.dir \\(or --output\\) to a writable folder"):
        run(write_spec(tmp_path / "spec.yaml", images), output=output)
    tally["unwritable output folders refused"] += 1


def test_a_training_process_killed_by_the_system_leaves_the_run_marked_failed(images, env, tmp_path, tally):
    """The out-of-memory killer sends SIGKILL to the process using the memory: the training child.
    The supervising `cnnbuild run` sees it and marks the run failed, with the reason."""
    run_dir, marker = tmp_path / "run", tmp_path / "held.marker"
    spec = write_spec(tmp_path / "spec.yaml", images, callbacks=[hold(marker, epoch=1, batch=1)])
    run = Run(["run", str(spec), "--output", str(run_dir)], tmp_path / "logs1", env)
    wait_for(marker.exists, run)
    trainer = json.loads((run_dir / "status.json").read_text())["pid"]
    assert trainer in process_tree(run.process.pid) and trainer != run.process.pid
    os.kill(trainer, signal.SIGKILL)
    assert run.wait(120) == 128 + signal.SIGKILL
    record = json.loads((run_dir / "status.json").read_text())
    assert record["state"] == "failed" and "killed (SIGKILL)" in record["error"] and "out-of-memory killer" in record["error"]
    assert f"cnnbuild run --resume {run_dir}" in record["error"] and "\n" not in record["error"]
    assert "killed (SIGKILL)" in run.stderr and "Traceback" not in run.stderr
    assert_finished(cnnbuild(["run", "--resume", str(run_dir)], tmp_path / "logs2", env), run_dir)  # epoch 1 was kept
    tally["training process SIGKILLed: run marked failed, then resumed"] += 1


def test_an_interrupted_run_keeps_the_history_of_its_complete_epochs_and_marks_the_cut_one(images, env, tmp_path, tally):
    run_dir, marker = tmp_path / "run", tmp_path / "held.marker"
    spec = write_spec(tmp_path / "spec.yaml", images, callbacks=[hold(marker, epoch=2, batch=2, seconds=3)])
    run = Run(["run", str(spec), "--output", str(run_dir)], tmp_path / "logs1", env)
    wait_for(marker.exists, run)
    run.signal(signal.SIGINT)
    assert run.wait(120) == 130
    assert "epoch 3/5 interrupted after 3 of" in run.stdout and "not kept" in run.stdout
    assert not re.search(r"^epoch 3/5 +[0-9.]+s", run.stdout, re.MULTILINE)  # no line of partial metrics passing as an epoch
    history = json.loads((run_dir / "history.json").read_text())
    assert {len(values) for values in history.values()} == {2}
    assert (run_dir / "history.csv").read_text().count("\n") == 3
    tally["Ctrl-C: partial epoch marked, complete epochs' history written"] += 1
