"""The Keras callback behind ``ProgressLog``."""

from __future__ import annotations

import json
from pathlib import Path

import keras


class ProgressLog(keras.callbacks.Callback):
    """Appends one JSON line per epoch: the epoch, the run's total, the starting learning rate and the metrics."""

    def __init__(self, path: Path, epochs: int, learning_rate: float, steps_per_epoch: int | None, done_before: int):
        super().__init__()
        self.path = Path(path)
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.steps_per_epoch = steps_per_epoch
        self.done_before = done_before

    def on_epoch_end(self, epoch, logs=None):
        line = {
            "epoch": epoch + 1,
            "of": self.epochs,
            "learning_rate": self.learning_rate,
            "steps_per_epoch": self.steps_per_epoch,
            "resumed_after": self.done_before,
            **{key: float(value) for key, value in (logs or {}).items()},
        }
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(line) + "\n")
