"""Callbacks every run gets: epoch timing and log lines, resumable checkpoints, clean interruption."""

from __future__ import annotations

import signal
import statistics
import sys
import time
from typing import Any

from cnnbuild.builder.run_directory import RunDirectory

CHECKPOINT_STATE = "checkpoints/state.json"


def keras_callback_base() -> type:
    import keras

    return keras.callbacks.Callback


def make_epoch_clock(images_per_epoch: int) -> Any:
    """A callback timing each epoch's training part (validation excluded) and the first batch."""

    class EpochClock(keras_callback_base()):
        def __init__(self) -> None:
            super().__init__()
            self.started = time.perf_counter()
            self.first_batch_seconds: float | None = None
            self.first_batch_at: float | None = None  # Unix time, to compare with when the process started
            self.train_seconds: list[float] = []
            self.train_cpu_seconds: list[float] = []  # CPU time of the whole process (all threads) over the same span
            self.epoch_seconds: list[float] = []
            self._epoch_start = 0.0
            self._epoch_cpu_start = 0.0
            self._train_end: float | None = None
            self._train_cpu_end: float | None = None

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self._epoch_start = time.perf_counter()
            self._epoch_cpu_start = time.process_time()
            self._train_end = None
            self._train_cpu_end = None

        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            if self.first_batch_seconds is None:
                self.first_batch_seconds = time.perf_counter() - self.started
                self.first_batch_at = time.time()

        def on_test_begin(self, logs: Any = None) -> None:
            if self._train_end is None:
                self._train_end = time.perf_counter()
                self._train_cpu_end = time.process_time()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            now = time.perf_counter()
            self.train_seconds.append((self._train_end or now) - self._epoch_start)
            self.train_cpu_seconds.append((self._train_cpu_end or time.process_time()) - self._epoch_cpu_start)
            self.epoch_seconds.append(now - self._epoch_start)

        def images_per_second(self) -> float | None:
            """Steady state: the median over epochs after the first (which decodes and traces)."""
            timed = self.train_seconds[1:] or self.train_seconds
            if not timed:
                return None
            return images_per_epoch / statistics.median(timed)

    return EpochClock()


def make_epoch_lines(total_epochs: int, clock: Any, images_per_epoch: int, stream: Any = None) -> Any:
    """One readable line per epoch, for logs and non-interactive output."""

    class EpochLines(keras_callback_base()):
        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            parts = [f"epoch {epoch + 1}/{total_epochs}", f"{clock.epoch_seconds[-1]:.1f}s"]
            if clock.train_seconds[-1] > 0:
                parts.append(f"{images_per_epoch / clock.train_seconds[-1]:.0f} img/s")
            parts += [f"{key} {value:.4f}" for key, value in (logs or {}).items() if key != "learning_rate"]
            print("  ".join(parts), file=stream or sys.stdout, flush=True)

    return EpochLines()


class Interruption:
    """First Ctrl-C (or SIGTERM) asks training to stop after the current batch (the current call of
    ``train.steps_per_execution`` batches); a second one stops at once."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            signal.signal(signum, signal.SIG_DFL)
            raise KeyboardInterrupt
        self.requested = True
        print(
            "\ninterrupt received: stopping after the current batch (or call of batches), or after this epoch's validation if its training is done "
            "(press Ctrl-C again to stop at once)",
            file=sys.stderr,
            flush=True,
        )

    def __enter__(self) -> Interruption:
        try:
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._handle)
        except ValueError:  # not the main thread (a notebook worker, a test thread): leave signals alone
            self._previous.clear()
        return self

    def __exit__(self, *exc: Any) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def callback(self) -> Any:
        interruption = self

        class StopOnInterrupt(keras_callback_base()):
            cut_short = False

            def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
                self.cut_short = False

            def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
                if interruption.requested:
                    self.model.stop_training = True
                    # Asked during the epoch's last call, training still ran to the end: the epoch is
                    # kept (EpochCheckpoint), so its validation must run whole.
                    steps = (self.params or {}).get("steps")
                    self.cut_short = steps is None or batch + 1 < steps

            def on_test_batch_end(self, batch: int, logs: Any = None) -> None:
                if interruption.requested and self.cut_short:
                    self.model.stop_evaluating = True  # this epoch is repeated on resume: its validation is moot

            def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
                if interruption.requested:
                    self.model.stop_training = True  # asked during validation: this epoch is kept, the next not started

        return StopOnInterrupt()


def make_checkpointer(run: RunDirectory, interruption: Interruption, history: dict[str, list[float]], keep: int) -> Any:
    """After every complete epoch: the model (weights and optimizer) and the history so far, atomically.

    ``state.json`` is replaced only after its checkpoint file is complete, and older files are
    removed only after that, so a kill at any moment leaves a resumable run.
    """

    class EpochCheckpoint(keras_callback_base()):
        # An epoch counts when its training part ran to the end; an interruption that arrives
        # during training cuts it short (resume repeats it), one during validation does not.
        requested_while_training = False
        last_batch = -1

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self.requested_while_training = interruption.requested
            self.last_batch = -1

        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            self.last_batch = batch
            self.requested_while_training = self.requested_while_training or interruption.requested

        def _cut_short(self) -> bool:
            steps = (self.params or {}).get("steps")
            ran_all = steps is not None and self.last_batch + 1 >= steps
            return self.requested_while_training and not ran_all

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            if self._cut_short():
                return  # the epoch was cut short; resume repeats it
            for key, value in (logs or {}).items():
                history.setdefault(key, []).append(float(value))
            name = f"checkpoints/epoch-{epoch + 1:04d}.keras"
            run.write_bytes_with(name, lambda path: self.model.save(path))
            previous = run.read_json(CHECKPOINT_STATE) if run.file(CHECKPOINT_STATE).exists() else {"files": []}
            files = list(dict.fromkeys([*previous.get("files", []), name]))[-keep:]
            run.write_json(CHECKPOINT_STATE, {"completed_epochs": epoch + 1, "checkpoint": name, "files": files, "history": history})
            _remove_unlisted(run, files)  # only now is an older checkpoint unneeded

        def on_train_begin(self, logs: Any = None) -> None:
            # A kill between writing state.json and deleting the checkpoint it replaced leaves that file behind.
            if run.file(CHECKPOINT_STATE).exists():
                _remove_unlisted(run, run.read_json(CHECKPOINT_STATE).get("files", []))

    return EpochCheckpoint()


def _remove_unlisted(run: RunDirectory, files: list[str]) -> None:
    for stale in sorted(run.file("checkpoints").glob("epoch-*.keras")):
        if f"checkpoints/{stale.name}" not in files:
            stale.unlink(missing_ok=True)
