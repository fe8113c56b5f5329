"""A kill at every single file-system step of checkpointing (mid-save, before or after each
fsync, rename and deletion) leaves a run that resumes: ``state.json`` always names a complete,
loadable checkpoint, leftovers are cleared, and the resumed run ends like an unbroken one.

A real SIGKILL during a checkpoint write is in test_interruptions.py; this test reaches every
point of the sequence deterministically, in-process."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from cnnbuild.contracts import atomic as run_directory
from cnnbuild.builder.model.build import load_saved_model
from cnnbuild.builder.training.callbacks import EpochCheckpoint, Interruption
from cnnbuild.contracts.run_layout import CHECKPOINT_STATE, PARTIAL_PREFIX
from cnnbuild.runs.directory import RunDirectory

EPOCHS, KEEP = 3, 2
pytestmark = pytest.mark.filterwarnings("ignore:Skipping variable loading:UserWarning")  # the toy model's optimizer never stepped


class SimulatedKill(BaseException):
    """Like SIGKILL: nothing catches it, and after it nothing more is done."""


class Reaper:
    """Counts file-system steps and 'kills' the process at step ``kill_at``; once dead, every
    further step (a ``finally`` cleaning up, say) dies too, as it would in a killed process."""

    def __init__(self, kill_at: int | None) -> None:
        self.kill_at, self.steps, self.dead = kill_at, [], False

    def step(self, what: str) -> None:
        if self.dead:
            raise SimulatedKill(what)
        self.steps.append(what)
        if len(self.steps) == self.kill_at:
            self.dead = True
            raise SimulatedKill(what)


@pytest.fixture
def reaper(monkeypatch) -> Reaper:
    reaper = Reaper(None)

    def watched(name: str, function):
        def call(*args, **kwargs):
            reaper.step(name)
            return function(*args, **kwargs)

        return call

    fake_os = SimpleNamespace(**{name: getattr(os, name) for name in dir(os) if not name.startswith("__")})
    for name in ("replace", "fsync", "unlink", "close"):
        setattr(fake_os, name, watched(f"os.{name}", getattr(os, name)))
    fake_os.path = os.path
    monkeypatch.setattr(run_directory, "os", fake_os)
    monkeypatch.setattr(run_directory, "tempfile", SimpleNamespace(mkstemp=watched("mkstemp", tempfile.mkstemp)))
    real_unlink = Path.unlink
    monkeypatch.setattr(Path, "unlink", lambda self, *a, **k: (reaper.step(f"unlink {self.name}"), real_unlink(self, *a, **k))[1])
    return reaper


@pytest.fixture(scope="module")
def model():
    from cnnbuild.builder.runtime import import_tensorflow

    import_tensorflow()
    import keras

    network = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    network.compile(optimizer="adam", loss="mse")
    return network


def _train(run: RunDirectory, model, history: dict, start: int, reaper: Reaper) -> None:
    """Epochs ``start``..EPOCHS through the real checkpointer; the save itself can be cut in half."""
    checkpointer = EpochCheckpoint(run, Interruption(), history, KEEP)
    real_save = type(model).save

    def save(path, *args, **kwargs):
        real_save(model, path, *args, **kwargs)
        try:
            reaper.step("model.save")
        except SimulatedKill:
            data = Path(path).read_bytes()
            Path(path).write_bytes(data[: len(data) // 2])  # killed while writing: half a file
            raise

    model.save = save
    checkpointer.set_model(model)
    checkpointer.set_params({"steps": 1, "epochs": EPOCHS})
    try:
        checkpointer.on_train_begin()
        for epoch in range(start, EPOCHS):
            checkpointer.on_epoch_begin(epoch)
            checkpointer.on_train_batch_end(0)
            checkpointer.on_epoch_end(epoch, {"loss": 1.0 / (epoch + 1)})
    finally:
        del model.save


def _check_resumable(run: RunDirectory) -> int:
    """What a resume reads is complete and consistent; returns the epochs it would skip."""
    state_file = run.file(CHECKPOINT_STATE)
    if not state_file.exists():
        return 0
    state = json.loads(state_file.read_text())
    checkpoint = run.file(state["checkpoint"])
    assert checkpoint.exists() and int(checkpoint.stem.split("-")[1]) == state["completed_epochs"]
    assert all(run.file(name).exists() for name in state["files"])
    assert {len(values) for values in state["history"].values()} == {state["completed_epochs"]}
    load_saved_model(checkpoint)  # loads: the file is whole
    return state["completed_epochs"]


def test_a_kill_at_any_step_of_checkpointing_leaves_a_resumable_run(tmp_path, model, reaper, tally):
    _train(RunDirectory(tmp_path / "unbroken"), model, {}, 0, reaper)
    total = len(reaper.steps)
    assert total >= EPOCHS * 8  # save, temp files, fsyncs, renames and deletions, for checkpoint and state
    for kill_at in range(1, total + 1):
        run = RunDirectory(tmp_path / f"killed-at-{kill_at:03d}")
        reaper.kill_at, reaper.steps, reaper.dead = kill_at, [], False
        with pytest.raises(SimulatedKill):
            _train(run, model, {}, 0, reaper)
        killed_during = reaper.steps[-1]
        reaper.kill_at, reaper.dead = None, False  # the machine comes back

        completed = _check_resumable(run)
        run.remove_partial_files()
        assert not list(run.path.rglob(f"{PARTIAL_PREFIX}*")), killed_during
        history = json.loads(run.file(CHECKPOINT_STATE).read_text())["history"] if completed else {}
        _train(run, model, history, completed, reaper)
        assert _check_resumable(run) == EPOCHS, killed_during
        left = sorted(path.name for path in (run.path / "checkpoints").iterdir())
        assert left == ["epoch-0002.keras", "epoch-0003.keras", "state.json"], (killed_during, left)
        tally["simulated kills at each checkpoint step, resumed"] += 1
