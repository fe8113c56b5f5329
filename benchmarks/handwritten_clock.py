"""Timing for the hand-written Keras scripts, measured exactly as cnnbuild's run metrics are.

cnnbuild's EpochClock (cnnbuild/builder/training/callbacks.py) times each epoch's training part
(from epoch start to the start of validation) in wall and process CPU time, takes the median of
the epochs after the first as the steady state, and notes when the first training batch finished. This callback does the
same, so the two sides of a comparison are measured by the same rule.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Any

import keras


class EpochClock(keras.callbacks.Callback):
    """Training seconds per epoch (validation excluded), wall and CPU, and the wall-clock time of the first batch."""

    def __init__(self) -> None:
        super().__init__()
        self.first_batch_at: float | None = None
        self.train_seconds: list[float] = []
        self.train_cpu_seconds: list[float] = []
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
        if self.first_batch_at is None:
            self.first_batch_at = time.time()

    def on_test_begin(self, logs: Any = None) -> None:
        if self._train_end is None:
            self._train_end = time.perf_counter()
            self._train_cpu_end = time.process_time()

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        self.train_seconds.append((self._train_end or time.perf_counter()) - self._epoch_start)
        self.train_cpu_seconds.append((self._train_cpu_end or time.process_time()) - self._epoch_cpu_start)


def write_result(path: str | None, clock: EpochClock, history: dict[str, list[float]], train_images: int, fit_seconds: float, **extra: Any) -> None:
    """Print the result as one JSON line and write it to ``path`` (when given) for the benchmark harness."""
    steady = clock.train_seconds[1:] or clock.train_seconds
    result = {
        "train_images_per_second": train_images / statistics.median(steady) if steady else None,
        "epoch_train_seconds": clock.train_seconds,
        "epoch_train_cpu_seconds": clock.train_cpu_seconds,
        "first_batch_at": clock.first_batch_at,
        "fit_seconds": fit_seconds,
        "train_images": train_images,
        "final": {key: float(values[-1]) for key, values in history.items() if values},
        **extra,
    }
    emit_result(result, path)


def emit_result(result: dict[str, Any], path: str | None) -> None:
    """A benchmark process's result: one JSON line on stdout, and the same in ``path`` (when given) for the harness."""
    text = json.dumps(result)
    print(text, flush=True)
    if path:
        Path(path).write_text(text + "\n", encoding="utf-8")
