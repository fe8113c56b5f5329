"""The Keras callback behind ``TimeLimit``."""

from __future__ import annotations

import time

import keras


class TimeLimit(keras.callbacks.Callback):
    """Stops training at the end of the first epoch that ends past ``seconds`` of training."""

    def __init__(self, seconds: float):
        super().__init__()
        self.seconds = seconds
        self.started = 0.0

    def on_train_begin(self, logs=None):
        self.started = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        if time.monotonic() - self.started >= self.seconds:
            print(f"TimeLimit: stopping after epoch {epoch + 1} ({self.seconds:.0f} s budget used)")
            self.model.stop_training = True
