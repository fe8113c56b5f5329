"""What callback factories are given."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class CallbackContext:
    """Given to callback factories: where the run writes and how long it trains.

    ``epochs`` is the run's total; after ``--resume`` Keras numbers epochs from the start of the
    run (absolute), and ``history`` holds the logs of the epochs completed before this start
    (key -> one value per epoch; empty for a new run), so a stateful callback can restore its
    counters. A run with ``train.fine_tune`` makes its callbacks again when fine-tuning starts:
    ``first_epoch`` is then the epoch fine-tuning started at (0-based; 0 otherwise), ``history``
    holds that phase's epochs only, and ``learning_rate`` is the fine-tuning rate.
    """

    run_dir: Path
    epochs: int
    learning_rate: float
    steps_per_epoch: int | None = None
    history: Mapping[str, list[float]] = field(default_factory=dict)
    first_epoch: int = 0
