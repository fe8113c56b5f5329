"""What cnnbuild hands to plugin factories and what it expects back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

Shape = tuple[int, ...]


class LayerShape(NamedTuple):
    """A layer's output shape (without the batch axis) and its parameter counts."""

    output_shape: Shape
    params: int = 0
    non_trainable: int = 0


class ShapeError(ValueError):
    """Raised by a shape function when the input shape cannot go through the layer."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


@dataclass(frozen=True)
class DataContext:
    """Given to data source factories.

    ``base_dir`` is the spec file's folder (resolve relative paths against it), ``seed`` the
    spec's seed, ``work_dir`` a folder the source may write downloads and caches to, and
    ``shard`` this process's ``(index, count)`` when training runs in several processes:
    return only that slice of the training split (``train[index::count]`` after the usual,
    seed-determined split) and the whole validation and test splits, which cnnbuild divides.
    """

    base_dir: Path
    seed: int | None = None
    work_dir: Path | None = None
    shard: tuple[int, int] = (0, 1)

    def resolve_path(self, value: str | Path) -> Path:
        """A path parameter (``cnnbuild.SpecPath``) as the spec means it: ``~`` expanded, relative to ``base_dir``."""
        path = Path(value).expanduser()
        return path if path.is_absolute() else self.base_dir / path


@dataclass(frozen=True)
class SkippedFile:
    """A data file left out, and why."""

    path: str
    reason: str


@dataclass
class Datasets:
    """What a data source returns.

    ``train``, ``validation`` and ``test`` are unbatched ``tf.data.Dataset`` objects of
    ``(image, label)``: images float32 ``(height, width, channels)`` with values in 0..255,
    labels int class indices. cnnbuild adds caching, shuffling, batching, augmentation,
    label encoding and prefetching itself.
    """

    train: Any
    validation: Any | None
    class_names: list[str]
    train_count: int
    validation_count: int = 0
    test: Any | None = None
    test_count: int = 0
    skipped: list[SkippedFile] = field(default_factory=list)
    fingerprint: str = ""
    #: label of every training example, for class weights and the dataset report
    train_labels: list[int] | None = None


@dataclass(frozen=True)
class CallbackContext:
    """Given to callback factories: where the run writes and how long it trains."""

    run_dir: Path
    epochs: int
    learning_rate: float
    steps_per_epoch: int | None = None
    #: The logs of the epochs completed before this start (``--resume``), key -> one value per epoch; empty for a new run.
    history: Mapping[str, list[float]] = field(default_factory=dict)
