"""Processes agreeing with each other: gathering values from all of them, and stopping together."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cnnbuild.builder.runtime import import_keras

if TYPE_CHECKING:
    from cnnbuild.builder.distribute.placement import Placement

keras = import_keras()

#: How often (in batches) the processes agree on whether someone asked to stop.
AGREE_EVERY = 20


def gather(placement: Placement, values: list[int]) -> Any:
    """``values`` from every process, as an array of shape (processes, len(values))."""
    import numpy as np

    local = np.asarray(values, dtype="int64")[None, :]
    if placement.num_processes == 1:
        return local
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.process_allgather(local[0])).reshape(placement.num_processes, -1)


class AgreeToStop(keras.callbacks.Callback):
    """Stop all processes at the same call when any of them was asked to (Ctrl-C/SIGTERM): checked
    once every ``AGREE_EVERY`` batches and at each epoch's end, since one process stopping alone
    would leave the others waiting for it."""

    def __init__(self, placement: Placement, interruption: Any) -> None:
        super().__init__()
        self.placement, self.interruption = placement, interruption
        self.agreed_at = 0  # batches of this epoch, in whole AGREE_EVERY blocks, last agreed on

    def _agree(self) -> None:
        if gather(self.placement, [int(self.interruption.requested)]).max() > 0:
            self.interruption.requested = True
            self.model.stop_training = True

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self.agreed_at = 0

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        # ``batch`` is the last index of a call of train.steps_per_execution batches; every
        # process sees the same indices, so all of them agree at the same calls.
        if (batch + 1) // AGREE_EVERY > self.agreed_at:
            self.agreed_at = (batch + 1) // AGREE_EVERY
            self._agree()

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        self._agree()


def stop_callback(placement: Placement, interruption: Any) -> Any:
    """Stop on Ctrl-C/SIGTERM: alone, after the current call; with several processes, all at the same call."""
    return interruption.callback() if placement.num_processes == 1 else AgreeToStop(placement, interruption)
