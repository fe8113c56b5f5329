"""train.fine_tune and --resume: a run resumed at the change of phase, or inside the first
fine-tuning epoch, has the history of an uninterrupted one."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

import cnnbuild

from .fine_tune_spec import fine_tune_images, saved_backbone, spec

#: Five runs train here, and tracing the step that trains the whole unfrozen backbone is most of
#: their time: MobileNet's graph (87 layers) traces in about half the time of MobileNetV3Small's (158).
#: Both have the BatchNormalization layers fine-tuning must keep frozen across the resume.
ARCHITECTURE = "MobileNet"


class StopAfterEpochParams(cnnbuild.Params):
    epoch: int


class StopAfterEpoch:
    """A test plugin: a callback that presses Ctrl-C at the end of one epoch (0-based)."""

    @cnnbuild.hookimpl
    def register_callbacks(self, register):
        import keras

        class Stop(keras.callbacks.Callback):
            def __init__(self, epoch: int) -> None:
                super().__init__()
                self.epoch = epoch

            def on_epoch_end(self, epoch, logs=None):
                if epoch == self.epoch:
                    os.kill(os.getpid(), signal.SIGINT)

        register("StopAfterEpoch", StopAfterEpochParams, lambda params, context: Stop(params.epoch))


class StopInEpochParams(cnnbuild.Params):
    epoch: int
    once: str  # a file made when it fires: it fires in one run only, not again in the resumed one


class StopInEpoch:
    """A test plugin: a callback that presses Ctrl-C after the first batch of one epoch (0-based), once."""

    @cnnbuild.hookimpl
    def register_callbacks(self, register):
        import keras

        class Stop(keras.callbacks.Callback):
            def __init__(self, epoch: int, once: str) -> None:
                super().__init__()
                self.epoch, self.once, self.current = epoch, Path(once), -1

            def on_epoch_begin(self, epoch, logs=None):
                self.current = epoch

            def on_train_batch_end(self, batch, logs=None):
                if self.current == self.epoch and not self.once.exists():
                    self.once.touch()
                    os.kill(os.getpid(), signal.SIGINT)

        register("StopInEpoch", StopInEpochParams, lambda params, context: Stop(params.epoch, params.once))


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    return fine_tune_images(tmp_path_factory.mktemp("fine-tune-resume"))


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    return saved_backbone(ARCHITECTURE, tmp_path_factory.mktemp("weights"))[0]


def test_a_run_resumed_at_the_change_of_phase_or_in_the_first_fine_tuning_epoch_has_the_history_of_an_uninterrupted_run(cnnbuild_run_spec, plugin, images, weights, tmp_path):
    """Two interruptions against one uninterrupted run: Ctrl-C at the end of the frozen phase (with the
    state as the first release wrote it), and Ctrl-C inside the first fine-tuning epoch. EarlyStopping
    ends the 3-epoch frozen phase after its second epoch (no later epoch can improve by min_delta), and
    the first Ctrl-C lands in that very epoch: the phase is over, as in the uninterrupted run, so the
    resume fine-tunes. Its restore_best_weights puts the first epoch's weights back at the end of the
    frozen phase; fine-tuning starts from those, and so must a resume whose last checkpoint is the
    frozen phase's last epoch."""
    plugin(StopAfterEpoch(), "stop-after-epoch")
    plugin(StopInEpoch(), "stop-in-epoch")
    early = "{type: EarlyStopping, monitor: val_loss, min_delta: 1000000, patience: 1, restore_best_weights: true}"
    one_batch_a_call = "  verbose: quiet\n  steps_per_execution: 1"  # so that Ctrl-C can land inside an epoch

    def two_phases(after_epoch: int, in_epoch: int, once: str) -> str:
        callbacks = f"[{early}, {{type: StopAfterEpoch, epoch: {after_epoch}}}, {{type: StopInEpoch, epoch: {in_epoch}, once: {tmp_path / once}}}]"
        return spec(images, weights, architecture=ARCHITECTURE, epochs=3, fine_tune="{epochs: 2}", callbacks=callbacks).replace("  verbose: quiet", one_batch_a_call)

    whole = cnnbuild_run_spec(two_phases(99, 99, "never"))
    assert whole.status == "completed" and whole.history["phase"] == [1, 1, 2, 2]

    at_change = cnnbuild_run_spec(two_phases(1, 99, "never"))
    assert at_change.status == "interrupted" and len(at_change.history["loss"]) == 2
    # The state as the first release wrote it (phases 1.0): a run it interrupted resumes here.
    state_file = at_change.run_dir / "checkpoints" / "state.json"
    state = json.loads(state_file.read_text(encoding="utf-8"))
    state_file.write_text(json.dumps({**state, "history": {**state["history"], "phase": [1.0, 1.0]}}), encoding="utf-8")
    resumed = cnnbuild.run(resume=at_change.run_dir)
    assert resumed.status == "completed"
    assert resumed.history == whole.history
    assert json.loads((resumed.run_dir / "history.json").read_text(encoding="utf-8"))["phase"] == [1, 1, 2, 2]
    assert [type(value) for value in resumed.history["phase"]] == [int] * 4

    in_fine_tuning = cnnbuild_run_spec(two_phases(99, 2, "fired"))
    assert in_fine_tuning.status == "interrupted" and len(in_fine_tuning.history["loss"]) == 2
    resumed = cnnbuild.run(resume=in_fine_tuning.run_dir)
    assert resumed.status == "completed"
    assert resumed.history == whole.history
