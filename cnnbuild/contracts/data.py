"""What data source factories are given, and what they return."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from cnnbuild.contracts.plugin_api import warn_deprecated
from cnnbuild.contracts.values import CHANNELS, ColorMode, Fraction01, LabelMode, NonNegativeInt, Pair, Params, PositiveInt


class DataParams(Params):
    """Parameters every data source has; plugin data sources subclass this."""

    image_size: Pair = Field((180, 180), description="[height, width] the images are resized to")
    color_mode: ColorMode = Field("rgb", description="rgb (3 channels), grayscale (1) or rgba (4)")
    batch_size: PositiveInt = 32
    validation_split: Fraction01 = Field(0.2, description="fraction of the data held out for validation")
    label_mode: LabelMode | None = Field(
        None, description="int, binary or categorical; default: binary for two classes with a one-unit output, else categorical with MixUp or CutMix, else int"
    )
    shuffle_buffer: NonNegativeInt = Field(1000, description="training examples shuffled at a time; 0 turns shuffling off")
    cache: str = Field("memory", description="memory, none, or a file path for decoded images (relative to the spec file)")

    @field_validator("cache")
    @classmethod
    def _cache(cls, value: str) -> str:
        if not value.strip() or "\x00" in value:
            raise ValueError("must be 'memory', 'none' or a file path")
        return value

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """Model input shape (height, width, channels)."""
        return (*self.image_size, CHANNELS[self.color_mode])


@dataclass(frozen=True, init=False)
class DataContext:
    """Given to data source factories and their ``class_names`` functions.

    ``base_dir`` is the spec file's folder: resolve relative paths against it, or call
    :meth:`resolve_path` for a ``cnnbuild.SpecPath`` parameter. ``seed`` is the spec's seed
    (None when unset): use it for the validation split so that the same files are held out
    on every run. ``work_dir`` is a folder of this data source's own for downloads and caches
    (``<cache dir>/sources/<data.type>``): it exists when the factory is called; ``class_names``
    gets its path without cnnbuild creating it (``validate`` writes nothing). None where no
    spec made the context (a plugin's own tests).
    """

    base_dir: Path
    seed: int | None = None
    work_dir: Path | None = None
    #: the spec's task (``single_label``, ``multi_label``, ``regression``): which labels to deliver
    task: str = "single_label"
    #: the spec's ``task`` section besides its type (segmentation: ``classes`` as {index: name}, ``ignore_index``); empty without one
    task_options: dict[str, Any] = field(default_factory=dict)

    def __init__(
        self, base_dir: Path, seed: int | None = None, work_dir: Path | None = None, shard: tuple[int, int] | None = None, task: str = "single_label",
        task_options: dict[str, Any] | None = None,
    ) -> None:  # fmt: skip
        object.__setattr__(self, "base_dir", base_dir)
        object.__setattr__(self, "seed", seed)
        object.__setattr__(self, "work_dir", work_dir)
        object.__setattr__(self, "task", task)
        object.__setattr__(self, "task_options", dict(task_options or {}))
        if shard is not None:  # plugin API 1.0 took this process's share here
            warn_deprecated("cnnbuild.DataContext.shard")

    @property
    def shard(self) -> tuple[int, int]:
        """Deprecated: always ``(0, 1)``; cnnbuild gives each process its share of the training split itself."""
        warn_deprecated("cnnbuild.DataContext.shard")
        return (0, 1)

    def resolve_path(self, value: str | Path) -> Path:
        """A path parameter as the spec means it: ``~`` expanded, relative to ``base_dir``."""
        path = Path(value).expanduser()
        return path if path.is_absolute() else self.base_dir / path


@dataclass(frozen=True)
class SkippedFile:
    """A data file left out, and why (listed in the run's ``skipped.json`` and at its end)."""

    path: str
    reason: str


@dataclass
class Datasets:
    """What a data source returns: whole splits, before batching.

    ``train``, ``validation`` and ``test`` are unbatched ``tf.data.Dataset`` objects of
    ``(image, label)``: images float32 ``(height, width, channels)`` already resized to
    ``params.image_size`` with the channels of ``params.color_mode``, values in 0..255; labels
    int class indices into ``class_names``. The source makes the validation split itself (use
    ``cnnbuild.data.stratified_split`` with ``context.seed``). cnnbuild adds sharding over
    processes, caching, shuffling, batching, augmentation, label encoding and prefetching.
    ``train_labels`` (the label of every training example, in order) lets ``class_weight: auto``
    and the dataset report work without reading the images.
    """

    train: Any
    validation: Any | None
    class_names: list[str]
    train_count: int
    validation_count: int = 0
    test: Any | None = None
    test_count: int = 0
    skipped: list[SkippedFile] = field(default_factory=list)
    #: changes whenever the examples change (file list and sizes, array bytes); stored with the run
    fingerprint: str = ""
    train_labels: list[int] | None = None
    #: for file-based sources: ``(path, label, split)`` of every example, in each split's order, so reports can name files
    files: list[tuple[str, int, str]] | None = None
    #: what the user should know before training (duplicates across classes, a class without validation examples)
    warnings: list[str] = field(default_factory=list)
    #: the task the labels are for: ``single_label`` (int class indices), ``multi_label`` (float32
    #: 0/1 vectors, one entry per name of ``class_names``), ``regression`` (float32 vectors, one value per target named in ``class_names``)
    #: or ``segmentation`` (int32 masks of the image's height and width); docs/plugins.md, "What a source returns for each task"
    task: str = "single_label"
    #: multi-label and regression: every training example's target vector, in order (what ``train_labels`` is for single-label)
    train_targets: list[list[float]] | None = None
