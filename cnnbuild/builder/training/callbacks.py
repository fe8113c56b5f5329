"""Callbacks every run gets: epoch timing and log lines, resumable checkpoints, clean interruption."""

from __future__ import annotations

import logging
import signal
import statistics
import time
from typing import Any

from cnnbuild.builder.runtime import import_keras
from cnnbuild.contracts import run_layout as layout
from cnnbuild.runs.checkpoint_state import PHASE_KEY, Phase
from cnnbuild.runs.directory import RunDirectory

keras = import_keras()
log = logging.getLogger(__name__)


class EpochClock(keras.callbacks.Callback):
    """Times each epoch's training part (validation excluded) and the first batch."""

    def __init__(self, images_per_epoch: int) -> None:
        super().__init__()
        self.images_per_epoch = images_per_epoch
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
        return self.images_per_epoch / statistics.median(timed)


class FinalWeights(keras.callbacks.Callback):
    """What training already did with the weights it ends with, so that the run's report does not do
    it again: the latest validation pass (its metrics) and the latest epoch checkpoint (its file),
    each kept with a checksum of the weights it measured or saved.

    :meth:`metrics_of` gives the metrics when the model still has exactly those weights and the
    dataset is the one ``fit`` validated on, and :meth:`checkpoint_of` the checkpoint when it holds
    exactly the model's weights; anything else (EarlyStopping's ``restore_best_weights``, an
    optimizer's moving average swapped in, a callback that changed the weights, other data) is
    evaluated or saved again. Put first among ``fit``'s callbacks: it copies the logs before another
    changes them. The checksums cost two passes over the weights an epoch (15 ms each for the
    flowers model's 16 MB; about 0.4 s each for 400 MB, against epochs of minutes for such models).
    """

    def __init__(self) -> None:
        super().__init__()
        self.dataset: Any = None  # the validation data the coming fit uses (set by the trainer)
        self.metrics: dict[str, float] | None = None
        self.checksum: tuple[int, ...] | None = None
        self.checkpoint: str | None = None  # the run folder's file of the latest epoch checkpoint
        self.checkpointed: tuple[int, ...] | None = None
        self._measured: Any = None
        self._checksum_before: tuple[int, ...] | None = None

    def on_test_begin(self, logs: Any = None) -> None:
        self._checksum_before = weights_checksum(self.model)

    def on_test_end(self, logs: Any = None) -> None:
        whole = not getattr(self.model, "stop_evaluating", False)  # an interrupted pass measured part of the data
        self.metrics = {key: float(value) for key, value in (logs or {}).items()} if whole and logs else None
        self.checksum, self._measured = self._checksum_before, self.dataset

    def metrics_of(self, model: Any, dataset: Any) -> dict[str, float]:
        """``model.evaluate(dataset)``'s metrics, from the last validation pass when it measured these weights on this data."""
        if self.metrics is not None and dataset is not None and dataset is self._measured and model is self.model and weights_checksum(model) == self.checksum:
            return dict(self.metrics)
        from cnnbuild.builder.reports.visuals import evaluate_split

        return evaluate_split(model, dataset)

    def saved(self, name: str, model: Any) -> None:
        """The epoch checkpoint ``name`` was just written from ``model``."""
        self.checkpoint, self.checkpointed = name, weights_checksum(model)

    def checkpoint_of(self, model: Any) -> str | None:
        """The latest epoch checkpoint when it holds exactly ``model``'s weights (and the optimizer's, untouched since), else None."""
        return self.checkpoint if self.checkpoint is not None and weights_checksum(model) == self.checkpointed else None


def weights_checksum(model: Any) -> tuple[int, ...]:
    """A CRC-32 of each of the model's weights (trainable and not): 15 ms for 16 MB of float32."""
    import zlib

    import numpy as np

    return tuple(zlib.crc32(np.ascontiguousarray(keras.ops.convert_to_numpy(weight.value)).view(np.uint8)) for weight in model.weights)


class TrainingMetricsLeftOut(keras.callbacks.Callback):
    """Removes the named training metrics from the logs that every later callback, the history and
    the progress bar see (validation's ``val_`` metrics stay). With MixUp or CutMix the training
    labels are mixed, and accuracy against a mixed label means nothing."""

    def __init__(self, names: list[str]) -> None:
        super().__init__()
        self.names = list(names)

    def _drop(self, logs: Any) -> None:
        for name in self.names:
            if logs is not None:
                logs.pop(name, None)

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        self._drop(logs)

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        self._drop(logs)

    def on_train_end(self, logs: Any = None) -> None:
        self._drop(logs)


class EpochLines(keras.callbacks.Callback):
    """One readable line per epoch, logged at INFO (``cnnbuild run`` prints them); an epoch that an
    interruption cut short says so instead of showing its partial metrics as if it were complete."""

    def __init__(self, total_epochs: int, clock: EpochClock, interruption: Interruption | None = None) -> None:
        super().__init__()
        self.total_epochs, self.clock, self.interruption = total_epochs, clock, interruption
        self.last_batch = -1

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self.last_batch = -1

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        self.last_batch = batch

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        clock = self.clock
        steps = (self.params or {}).get("steps")
        if self.interruption is not None and self.interruption.requested and steps is not None and self.last_batch + 1 < steps:
            log.info(
                "epoch %d/%d interrupted after %d of %d batches: not kept (a resumed run repeats it)", epoch + 1, self.total_epochs, self.last_batch + 1, steps
            )
            return
        parts = [f"epoch {epoch + 1}/{self.total_epochs}", f"{clock.epoch_seconds[-1]:.1f}s"]
        if clock.train_seconds[-1] > 0:
            parts.append(f"{clock.images_per_epoch / clock.train_seconds[-1]:.0f} img/s")
        parts += [f"{key} {value:.4f}" for key, value in (logs or {}).items() if key != "learning_rate"]
        log.info("  ".join(parts))


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
        log.warning(
            "\ninterrupt received: stopping after the current batch (or call of batches), or after this epoch's validation if its training is done "
            "(press Ctrl-C again to stop at once)"
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

    def callback(self) -> StopOnInterrupt:
        return StopOnInterrupt(self)


class StopOnInterrupt(keras.callbacks.Callback):
    """Stops ``fit`` when an :class:`Interruption` was requested, keeping complete epochs whole."""

    def __init__(self, interruption: Interruption) -> None:
        super().__init__()
        self.interruption = interruption
        self.cut_short = False

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self.cut_short = False

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        if self.interruption.requested:
            self.model.stop_training = True
            # Asked during the epoch's last call, training still ran to the end: the epoch is
            # kept (EpochCheckpoint), so its validation must run whole.
            steps = (self.params or {}).get("steps")
            self.cut_short = steps is None or batch + 1 < steps

    def on_test_batch_end(self, batch: int, logs: Any = None) -> None:
        if self.interruption.requested and self.cut_short:
            self.model.stop_evaluating = True  # this epoch is repeated on resume: its validation is moot

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        if self.interruption.requested:
            self.model.stop_training = True  # asked during validation: this epoch is kept, the next not started


class EpochCheckpoint(keras.callbacks.Callback):
    """After every complete epoch: the model (weights and optimizer) and the history so far, atomically.

    ``state.json`` is replaced only after its checkpoint file is complete, and older files are
    removed only after that, so a kill at any moment leaves a resumable run. An epoch counts when
    its training part ran to the end; an interruption during training cuts it short (resume
    repeats it), one during validation does not.
    """

    def __init__(self, run: RunDirectory, interruption: Interruption, history: dict[str, list[float]], keep: int, phase: Phase | None = None, final: FinalWeights | None = None) -> None:
        super().__init__()
        self.run, self.interruption, self.history, self.keep = run, interruption, history, keep
        self.final = final  # told of each checkpoint, so the finished run's model file can be that file
        self.phase = phase  # recorded in the history as "phase" (runs with train.fine_tune)
        self.requested_while_training = False
        self.last_batch = -1

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self.requested_while_training = self.interruption.requested
        self.last_batch = -1

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        self.last_batch = batch
        self.requested_while_training = self.requested_while_training or self.interruption.requested

    def _cut_short(self) -> bool:
        steps = (self.params or {}).get("steps")
        ran_all = steps is not None and self.last_batch + 1 >= steps
        return self.requested_while_training and not ran_all

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        if self._cut_short():
            return  # the epoch was cut short; resume repeats it
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        if self.phase is not None:
            self.history.setdefault(PHASE_KEY, []).append(int(self.phase))
        name = layout.checkpoint(epoch + 1)
        self.run.write_bytes_with(name, lambda path: self.model.save(path))
        if self.final is not None:
            self.final.saved(name, self.model)
        state = self.run.record.resume_state.after_epoch(epoch + 1, name, self.history, self.keep)
        self.run.save_resume_state(state)
        remove_unlisted(self.run, state.files)  # only now is an older checkpoint unneeded

    def on_train_begin(self, logs: Any = None) -> None:
        # A kill between writing state.json and deleting the checkpoint it replaced leaves that file behind.
        state = self.run.record.resume_state
        if state.saved:
            remove_unlisted(self.run, state.files)


def remove_unlisted(run: RunDirectory, files: tuple[str, ...]) -> None:
    """Delete the epoch checkpoints that ``state.json`` no longer lists."""
    for stale in sorted(run.file(layout.CHECKPOINTS).glob("epoch-*.keras")):
        if f"{layout.CHECKPOINTS}/{stale.name}" not in files:
            stale.unlink(missing_ok=True)
