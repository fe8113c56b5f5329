"""The run_ended hook: called once the run directory holds everything, with the run's state; a
plugin failing in it never changes the run's outcome."""

from __future__ import annotations

from typing import Any

from pydantic import Field

import cnnbuild
from cnnbuild import hookimpl

from ..conftest import SMALL_MODEL

SPEC = "name: ended\nseed: 1\ndata: {type: digits, image_size: [8, 8], color_mode: grayscale, batch_size: 64}\n" + SMALL_MODEL + "train: {epochs: 1, verbose: quiet}\n"


class FailAfterParams(cnnbuild.Params):
    epochs: int = Field(1, ge=1)


class Watcher:
    def __init__(self) -> None:
        self.seen: list[tuple[Any, ...]] = []

    @hookimpl
    def run_ended(self, run_dir, state):
        self.seen.append((run_dir, state, (run_dir / "model.keras").exists(), (run_dir / "metrics.json").exists(), cnnbuild.load_run(run_dir).state))

    @hookimpl
    def register_callbacks(self, register):
        def fail(params: FailAfterParams, context: cnnbuild.CallbackContext) -> Any:
            import keras

            class Fail(keras.callbacks.Callback):
                def on_epoch_end(self, epoch, logs=None):
                    raise RuntimeError("disk on fire")

            return Fail()

        register("FailAfter", FailAfterParams, fail)


class Broken:
    @hookimpl
    def run_ended(self, run_dir, state):
        raise RuntimeError("tracking server down")


def test_run_ended_sees_the_finished_run_and_a_failing_plugin_only_warns(tmp_path, plugin):
    watcher = Watcher()
    plugin(watcher, "watcher")
    plugin(Broken(), "broken")
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    result = cnnbuild.run(spec, output=tmp_path / "done")
    assert result.completed
    assert watcher.seen == [(result.run_dir, "completed", True, True, "completed")]
    assert any("broken" in warning and "failed in run_ended: RuntimeError: tracking server down" in warning for warning in result.warnings)

    try:
        cnnbuild.run(spec, ["train.callbacks=[{type: FailAfter}]"], output=tmp_path / "failed")
    except cnnbuild.PluginError as exc:
        assert "disk on fire" in str(exc)
    else:
        raise AssertionError("the failing callback did not fail the run")
    assert watcher.seen[-1] == (tmp_path / "failed", "failed", False, False, "failed")
