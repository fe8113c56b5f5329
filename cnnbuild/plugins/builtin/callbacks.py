"""The Keras callbacks a spec can list in ``train.callbacks``; file paths stay inside the run directory."""

from __future__ import annotations

import math
import re
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field

from cnnbuild.plugins.contracts import CallbackContext
from cnnbuild.plugins.hookspecs import hookimpl
from cnnbuild.spec.types import Fraction01, NonNegativeInt, NonNegativeNumber, Number, Params, PositiveInt, PositiveNumber


def _inside_run(value: str) -> str:
    from cnnbuild.builder.run_directory import reserved_reason

    path = PurePosixPath(value.replace("\\", "/"))
    if not value.strip() or path.is_absolute() or ".." in path.parts or "\x00" in value or ":" in value.split("/")[0]:
        raise ValueError(f"must be a relative path inside the run directory, got {value!r}")
    reason = reserved_reason(value)
    if reason:
        raise ValueError(f"{value!r}: {reason}; choose another name, such as a sub-folder of its own")
    return value


RunPath = Annotated[str, AfterValidator(_inside_run)]
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


def _early_stopping(p: EarlyStoppingParams, context: CallbackContext) -> Any:
    import keras

    from cnnbuild.builder.run_directory import RunDirectory

    run = RunDirectory(context.run_dir)
    stem = f"checkpoints/early-stopping-{re.sub(r'[^A-Za-z0-9_.-]', '_', p.monitor)}-epoch-"

    class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
        """Keras's EarlyStopping that carries on across ``--resume`` as if the run had not stopped.

        The earlier epochs' monitor values are replayed at the first epoch's end (when Keras can
        tell the metric's direction), so patience and the best value continue. With
        restore_best_weights, each new best's weights are kept in ``checkpoints/`` (this file
        and the previous best's, so a kill before the epoch's checkpoint loses neither), and the
        resumed run picks up the file of the best epoch it replayed.
        """

        replayed = not context.history

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            if not self.replayed:
                self.replayed = True
                restore, self.restore_best_weights = self.restore_best_weights, False
                try:
                    for earlier, value in enumerate(context.history.get(self.monitor, [])):
                        super().on_epoch_end(earlier, {self.monitor: value})
                finally:
                    self.restore_best_weights = restore
                if restore and self.best is not None:
                    self.best_weights = self._saved_weights(self.best_epoch)
            best = self.best
            super().on_epoch_end(epoch, logs)
            if self.restore_best_weights and self.best is not best:  # a new best this epoch
                self._save_weights(epoch)

        def _save_weights(self, epoch: int) -> None:
            import numpy as np

            run.write_bytes_with(f"{stem}{epoch + 1:04d}.npz", lambda path: np.savez(path, *self.best_weights))
            saved = [path for path in run.file("checkpoints").glob(f"{Path(stem).name}*.npz") if path.stem.rsplit("-", 1)[1].isdigit()]
            kept = sorted(saved, key=lambda path: int(path.stem.rsplit("-", 1)[1]))
            for stale in kept[:-2]:  # by epoch number: names grow past 4 digits after epoch 9999
                stale.unlink(missing_ok=True)

        def _saved_weights(self, epoch: int) -> list[Any] | None:
            import numpy as np

            saved = run.file(f"{stem}{epoch + 1:04d}.npz")
            if not saved.exists():
                return None  # Keras then takes the first resumed epoch's weights as the best so far
            with np.load(saved) as arrays:
                return [arrays[f"arr_{index}"] for index in range(len(arrays.files))]

    return ResumableEarlyStopping(**p.model_dump(exclude={"type"}))


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

    if importlib.util.find_spec("tensorboard") is None:  # Keras would fail only at the first batch
        from cnnbuild.errors import CnnbuildError

        raise CnnbuildError("the TensorBoard callback needs the tensorboard package: pip install tensorboard (or remove the callback)")

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
    register("TensorBoard", TensorBoardParams, _tensorboard)
    register("BackupAndRestore", BackupAndRestoreParams, _backup)
    register("TerminateOnNaN", NoParams, _terminate)
    register("LearningRateScheduler", LearningRateSchedulerParams, _scheduler)
