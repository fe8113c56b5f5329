"""Real ``python -m cnnbuild`` processes for the interruption tests, and a probe plugin that
marks (and holds) an exact point of training so a signal lands where the test wants it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

PROBE_MODULE = "cnnbuild_reliability_probe"

#: Installed as a real distribution (a dist-info folder on PYTHONPATH) with a ``cnnbuild`` entry point.
PROBE_SOURCE = '''
"""Test-only callback: at one batch of one epoch, write a marker file and hold still for a while,
once (a resumed run finds the marker and carries on)."""

import time
from pathlib import Path
from typing import Literal

import cnnbuild


class HoldParams(cnnbuild.Params):
    marker: str
    epoch: int
    batch: int = 0
    phase: Literal["train", "validation"] = "train"
    seconds: float = 60.0


def _hold(params, context):
    import keras

    class Hold(keras.callbacks.Callback):
        epoch = -1

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def _maybe(self, phase, batch):
            marker = Path(params.marker)
            if phase == params.phase and self.epoch == params.epoch and batch == params.batch and not marker.exists():
                marker.write_text(str(time.time()))
                time.sleep(params.seconds)

        def on_train_batch_end(self, batch, logs=None):
            self._maybe("train", batch)

        def on_test_batch_end(self, batch, logs=None):
            self._maybe("validation", batch)

    return Hold()


@cnnbuild.hookimpl
def register_callbacks(register):
    register("HoldAt", HoldParams, _hold)
'''


def install_plugin(folder: Path, module: str, source: str, distribution: str, entry_name: str) -> Path:
    """A module plus a dist-info declaring a ``cnnbuild`` entry point; put ``folder`` on PYTHONPATH."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    info = folder / f"{distribution.replace('-', '_')}-0.1.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: 0.1\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(f"[cnnbuild]\n{entry_name} = {module}\n", encoding="utf-8")
    return folder


def probe_env(folder: Path) -> dict[str, str]:
    install_plugin(folder, PROBE_MODULE, PROBE_SOURCE, "cnnbuild-reliability-probe", "probe")
    return {"PYTHONPATH": os.pathsep.join([str(folder), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}


class Run:
    """A ``cnnbuild`` process with its output in files (no pipe to fill up and block it)."""

    def __init__(self, args: list[str], logs: Path, env: dict[str, str] | None = None, limits: Callable[[], None] | None = None) -> None:
        logs.mkdir(parents=True, exist_ok=True)
        self.stdout_path, self.stderr_path = logs / "stdout.txt", logs / "stderr.txt"
        self._out, self._err = self.stdout_path.open("w"), self.stderr_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cnnbuild", *args], stdout=self._out, stderr=self._err, env={**os.environ, **(env or {})}, preexec_fn=limits
        )

    def wait(self, timeout: float = 600) -> int:
        try:
            return self.process.wait(timeout=timeout)
        finally:
            self._out.close()
            self._err.close()

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def kill(self) -> int:
        self.process.send_signal(signal.SIGKILL)
        return self.wait(60)

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (``cnnbuild run`` trains in a child process it supervises)."""
    found = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in children:
            found += process_tree(int(child))
    return found


def loaded(run: Run, library: str) -> bool:
    """Whether any process of ``run`` has mapped ``library`` (TensorFlow loads in the supervised child)."""
    for pid in process_tree(run.process.pid):
        try:
            if library in Path(f"/proc/{pid}/maps").read_text(errors="replace"):
                return True
        except OSError:
            continue
    return False


def wait_for(condition: Callable[[], bool], run: Run, timeout: float = 300, poll: float = 0.005) -> None:
    """Until ``condition()``; fails early, with the run's output, if the run ends first."""
    deadline = time.monotonic() + timeout
    while not condition():
        if run.process.poll() is not None:
            raise AssertionError(f"the run ended (exit {run.process.returncode}) before the awaited point:\n{run.stderr[-3000:]}")
        if time.monotonic() > deadline:
            run.kill()
            raise AssertionError(f"timed out waiting; stderr:\n{run.stderr[-3000:]}")
        time.sleep(poll)


def cnnbuild(args: list[str], logs: Path, env: dict[str, str] | None = None, timeout: float = 600) -> Run:
    """Run to the end."""
    run = Run(args, logs, env)
    run.wait(timeout)
    return run
