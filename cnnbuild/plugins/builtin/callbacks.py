"""The Keras callbacks a spec can list in ``train.callbacks``; file paths stay inside the run directory."""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from cnnbuild.contracts import run_layout
from cnnbuild.contracts.atomic import write_atomically
from cnnbuild.contracts.callbacks import CallbackContext
from cnnbuild.contracts.values import Fraction01, NonNegativeInt, NonNegativeNumber, Number, Params, PositiveInt, PositiveNumber, RunPath
from cnnbuild.errors import CnnbuildError
from cnnbuild.plugins.hookspecs import hookimpl

Mode = Literal["auto", "min", "max"]


class EarlyStoppingParams(Params):
    monitor: str = "val_loss"
    min_delta: NonNegativeNumber = 0.0
    patience: NonNegativeInt = 0
    mode: Mode = "auto"
    baseline: Number | None = None
    restore_best_weights: bool = False
    start_from_epoch: NonNegativeInt = 0


class ModelCheckpointParams(Params):
    filepath: RunPath = Field("best.keras", description="inside the run directory; may use {epoch} and metric names")
    monitor: str = "val_loss"
    save_best_only: bool = True
    save_weights_only: bool = False
    mode: Mode = "auto"


class ReduceLROnPlateauParams(Params):
    monitor: str = "val_loss"
    factor: Fraction01 = 0.1
    patience: NonNegativeInt = 10
    mode: Mode = "auto"
    min_delta: NonNegativeNumber = 0.0001
    cooldown: NonNegativeInt = 0
    min_lr: NonNegativeNumber = 0.0


class CSVLoggerParams(Params):
    filename: RunPath = "training_log.csv"
    separator: str = ","


class TensorBoardParams(Params):
    log_dir: RunPath = "tensorboard"
    histogram_freq: NonNegativeInt = 0
    write_graph: bool = True
    update_freq: Literal["epoch", "batch"] = "epoch"


class BackupAndRestoreParams(Params):
    backup_dir: RunPath = "backup"
    save_freq: Literal["epoch"] = "epoch"
    delete_checkpoint: bool = True


class NoParams(Params):
    pass


class LearningRateSchedulerParams(Params):
    schedule: Literal["cosine", "exponential", "step"]
    warmup_epochs: NonNegativeInt = Field(0, description="epochs of linear warm-up from 0 to the optimizer's learning rate")
    min_learning_rate: NonNegativeNumber = 0.0
    decay_rate: PositiveNumber = Field(0.5, description="exponential: factor per decay_epochs; step: factor per step")
    decay_epochs: PositiveInt = Field(10, description="exponential and step: epochs per decay_rate")


def schedule_function(params: LearningRateSchedulerParams, base: float, epochs: int) -> Any:
    """``epoch -> learning rate`` for the named schedule."""

    def rate(epoch: int) -> float:
        if epoch < params.warmup_epochs:
            return base * (epoch + 1) / (params.warmup_epochs + 1)
        progress = epoch - params.warmup_epochs
        if params.schedule == "cosine":
            span = max(1, epochs - params.warmup_epochs)
            value = params.min_learning_rate + 0.5 * (base - params.min_learning_rate) * (1 + math.cos(math.pi * min(progress, span) / span))
        elif params.schedule == "exponential":
            value = base * params.decay_rate ** (progress / params.decay_epochs)
        else:
            value = base * params.decay_rate ** (progress // params.decay_epochs)
        return float(max(value, params.min_learning_rate))

    return rate


def _path(context: CallbackContext, relative: str) -> str:
    return str(context.run_dir / relative)


@functools.cache
def _resumable_early_stopping() -> type:
    import keras

    class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
        """Keras's EarlyStopping that carries on across ``--resume`` as if the run had not stopped.

        The earlier epochs' monitor values are replayed at the first epoch's end (when Keras can
        tell the metric's direction), so patience and the best value continue. With
        restore_best_weights, each new best's weights are kept in ``checkpoints/`` (this file
        and the previous best's, so a kill before the epoch's checkpoint loses neither), and the
        resumed run picks up the file of the best epoch it replayed.
        """

        def __init__(self, context: CallbackContext, **options: Any) -> None:
            super().__init__(**options)
            self.context = context
            self.replayed = not context.history

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            if not self.replayed:
                self.replayed = True
                restore, self.restore_best_weights = self.restore_best_weights, False
                try:
                    for earlier, value in enumerate(self.context.history.get(self.monitor, []), self.context.first_epoch):
                        super().on_epoch_end(earlier, {self.monitor: value})
                finally:
                    self.restore_best_weights = restore
                if restore and self.best is not None:
                    self.best_weights = self._saved_weights(self.best_epoch)
            best = self.best
            super().on_epoch_end(epoch, logs)
            if self.restore_best_weights and self.best is not best:  # a new best this epoch
                self._save_weights(epoch)

        def _file(self, epoch: int | None = None) -> Path:
            return self.context.run_dir / run_layout.early_stopping_weights(self.monitor, epoch)

        def _save_weights(self, epoch: int) -> None:
            import numpy as np

            write_atomically(self._file(epoch + 1), lambda path: np.savez(path, *self.best_weights))
            stem = self._file()
            saved = [path for path in stem.parent.glob(f"{stem.name}*.npz") if path.stem.rsplit("-", 1)[1].isdigit()]
            kept = sorted(saved, key=lambda path: int(path.stem.rsplit("-", 1)[1]))
            for stale in kept[:-2]:  # by epoch number: names grow past 4 digits after epoch 9999
                stale.unlink(missing_ok=True)

        def _saved_weights(self, epoch: int) -> list[Any] | None:
            import numpy as np

            saved = self._file(epoch + 1)
            if not saved.exists():
                return None  # Keras then takes the first resumed epoch's weights as the best so far
            with np.load(saved) as arrays:
                return [arrays[f"arr_{index}"] for index in range(len(arrays.files))]

    return ResumableEarlyStopping


def _early_stopping(p: EarlyStoppingParams, context: CallbackContext) -> Any:
    return _resumable_early_stopping()(context, **p.model_dump(exclude={"type"}))


def _checkpoint(p: ModelCheckpointParams, context: CallbackContext) -> Any:
    import keras

    target = context.run_dir / p.filepath
    target.parent.mkdir(parents=True, exist_ok=True)
    return keras.callbacks.ModelCheckpoint(str(target), monitor=p.monitor, save_best_only=p.save_best_only, save_weights_only=p.save_weights_only, mode=p.mode)


def _reduce_lr(p: ReduceLROnPlateauParams, context: CallbackContext) -> Any:
    import keras

    return keras.callbacks.ReduceLROnPlateau(**p.model_dump(exclude={"type"}))


def _csv_logger(p: CSVLoggerParams, context: CallbackContext) -> Any:
    import keras

    (context.run_dir / p.filename).parent.mkdir(parents=True, exist_ok=True)  # filename may name a sub-folder
    return keras.callbacks.CSVLogger(_path(context, p.filename), separator=p.separator, append=True)


def _tensorboard(p: TensorBoardParams, context: CallbackContext) -> Any:
    import importlib.util

    import keras

    if importlib.util.find_spec("tensorboard") is None:  # validate says so first; Keras would fail only at the first batch
        raise CnnbuildError("the TensorBoard callback needs the tensorboard package: pip install 'cnnbuild[tensorboard]' (or remove the callback)")

    return keras.callbacks.TensorBoard(log_dir=_path(context, p.log_dir), histogram_freq=p.histogram_freq, write_graph=p.write_graph, update_freq=p.update_freq)


def _backup(p: BackupAndRestoreParams, context: CallbackContext) -> Any:
    import keras

    return keras.callbacks.BackupAndRestore(backup_dir=_path(context, p.backup_dir), save_freq=p.save_freq, delete_checkpoint=p.delete_checkpoint)


def _terminate(p: NoParams, context: CallbackContext) -> Any:
    import keras

    return keras.callbacks.TerminateOnNaN()


def _scheduler(p: LearningRateSchedulerParams, context: CallbackContext) -> Any:
    import keras

    return keras.callbacks.LearningRateScheduler(schedule_function(p, context.learning_rate, context.epochs))


@hookimpl
def register_callbacks(register) -> None:
    register("EarlyStopping", EarlyStoppingParams, _early_stopping)
    register("ModelCheckpoint", ModelCheckpointParams, _checkpoint)
    register("ReduceLROnPlateau", ReduceLROnPlateauParams, _reduce_lr)
    register("CSVLogger", CSVLoggerParams, _csv_logger)
    register("TensorBoard", TensorBoardParams, _tensorboard, requires=("tensorboard:cnnbuild[tensorboard]",))
    register("BackupAndRestore", BackupAndRestoreParams, _backup)
    register("TerminateOnNaN", NoParams, _terminate)
    register("LearningRateScheduler", LearningRateSchedulerParams, _scheduler)
