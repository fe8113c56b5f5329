"""What is in a spec's data: images per class, sizes, colour modes, skipped files, duplicates.

For data sources that list their files (``Datasets.files``: ``image_directory`` and any source
built on the file-list helpers) the files themselves are examined (Pillow header for size and
mode, SHA-256 of the bytes for duplicates); for other sources the decoded examples are.
"""

from __future__ import annotations

import hashlib
import os
import statistics
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnnbuild.contracts.data import Datasets, SkippedFile
from cnnbuild.data.balance import class_balance
from cnnbuild.data.files import duplicates_message

if TYPE_CHECKING:
    from cnnbuild.spec.document import Spec

MODE_NAMES = {1: "grayscale", 3: "rgb", 4: "rgba"}


@dataclass
class DatasetReport:
    """Facts about a data source's examples, and warnings worth acting on."""

    data_type: str
    origin: str  # what was examined: files under a folder, or the decoded examples
    class_names: list[str]
    counts: dict[str, int]
    train_count: int
    validation_count: int
    widths: list[int] = field(default_factory=list)
    heights: list[int] = field(default_factory=list)
    modes: dict[str, int] = field(default_factory=dict)
    skipped: list[SkippedFile] = field(default_factory=list)
    #: groups of identical examples filed under more than one class ("class/file" names)
    cross_class_duplicates: list[list[str]] = field(default_factory=list)
    #: identical examples within one class, beyond the first copy
    within_class_duplicates: int = 0
    #: single_label; multi_label (counts: images with each label); regression (counts: images with each target)
    task: str = "single_label"

    @property
    def total(self) -> int:
        return sum(self.counts.values()) if self.task == "single_label" else self.train_count + self.validation_count

    @property
    def warnings(self) -> list[str]:
        found = imbalance_warning(self.class_names, self.counts)
        if self.cross_class_duplicates:
            found.append(duplicates_message(self.cross_class_duplicates))
        if self.skipped:
            found.append(f"{len(self.skipped)} file(s) not used (listed above with the reason for each); they are left out of training")
        return found

    def size_line(self) -> str:
        if not self.widths:
            return "image sizes: unknown"

        def spread(values: list[int]) -> str:
            low, middle, high = min(values), statistics.median(values), max(values)
            return f"{low}" if low == high else f"min {low}, median {middle:g}, max {high}"

        return f"image sizes seen: width {spread(self.widths)}; height {spread(self.heights)}"

    def text(self) -> str:
        """The report as printed by ``cnnbuild preview``."""
        kind = {"multi_label": "labels (images with each)", "regression": "target(s)", "segmentation": "classes (images showing each)"}.get(self.task)
        found = f"{self.total} images, {len(self.class_names)} {kind}" if kind else f"{self.total} images in {len(self.class_names)} classes"
        lines = [f"data: {self.data_type}, {self.origin}", f"{found}; split: {self.train_count} training, {self.validation_count} validation"]
        width = max(len("class"), *(len(name) for name in self.class_names))
        lines.append(f"  {'class':<{width}}  images  share")
        for name in self.class_names:
            count = self.counts.get(name, 0)
            lines.append(f"  {name:<{width}}  {count:>6}  {count / self.total if self.total else 0:>5.1%}")
        lines.append(self.size_line())
        lines.append("colour modes: " + (", ".join(f"{mode} {count}" for mode, count in sorted(self.modes.items(), key=lambda item: -item[1])) or "unknown"))
        lines.append(f"skipped files: {len(self.skipped)}")
        lines += [f"  {item.path}: {item.reason}" for item in self.skipped[:20]]
        if len(self.skipped) > 20:
            lines.append(f"  ... and {len(self.skipped) - 20} more")
        if self.within_class_duplicates:
            lines.append(f"duplicates within a class: {self.within_class_duplicates} extra copies")
        lines += [f"warning: {warning}" for warning in self.warnings]
        return "\n".join(lines)


def imbalance_warning(class_names: list[str], counts: dict[str, int], *, weighted: bool = False) -> list[str]:
    """A warning when the largest class has ``cnnbuild.data.balance.IMBALANCE_RATIO`` times the images of the
    smallest; ``weighted``: ``train.class_weight`` is set already, so it is not suggested."""
    balance = class_balance(counts)
    if balance is None or not balance.imbalanced:
        return []
    advice = (
        "train.class_weight weighs the classes in the loss; more images of the small classes would help more"
        if weighted
        else "consider train.class_weight: auto, or collecting more images of the small classes"
    )
    return [f"strong class imbalance: {balance.largest!r} has {balance.largest_count} images, {balance.smallest!r} has {balance.smallest_count} ({balance.ratio:.1f}x); {advice}"]


def _file_facts(path: str) -> tuple[int, int, str, str]:
    """Width, height, Pillow mode and SHA-256 of one image file."""
    from PIL import Image

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    with Image.open(path) as image:
        width, height = image.size
        mode = image.mode
    return width, height, mode, digest.hexdigest()


def _duplicates(items: list[tuple[str, str, str]]) -> tuple[list[list[str]], int]:
    """From ``(digest, class, shown name)``: groups spanning classes, and extra copies within a class."""
    by_digest: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for digest, class_name, name in items:
        by_digest[digest].append((class_name, name))
    across: list[list[str]] = []
    within = 0
    for members in by_digest.values():
        classes = {class_name for class_name, _ in members}
        if len(classes) > 1:
            across.append([name for _, name in members])
        else:
            within += len(members) - 1
    return across, within


def _files_report(spec: Spec, source: Datasets) -> DatasetReport:
    """Examine the files of the training and validation splits."""
    files = [(path, label) for path, label, split in source.files or [] if split != "test"]
    root = Path(os.path.commonpath([path for path, _ in files])) if files else Path(".")
    if len(files) == 1:
        root = root.parent
    with ThreadPoolExecutor(max_workers=4) as pool:
        facts = list(pool.map(_file_facts, [path for path, _ in files]))
    names = source.class_names
    counts = Counter(names[label] for _, label in files)
    items = [(digest, names[label], str(Path(path).relative_to(root))) for (path, label), (_, _, _, digest) in zip(files, facts, strict=True)]
    across, within = _duplicates(items)
    return DatasetReport(
        data_type=spec.data.type,
        origin=f"files under {root}",
        class_names=list(names),
        counts={name: counts.get(name, 0) for name in names},
        train_count=source.train_count,
        validation_count=source.validation_count,
        widths=[width for width, _, _, _ in facts],
        heights=[height for _, height, _, _ in facts],
        modes=dict(Counter(mode for _, _, mode, _ in facts)),
        skipped=list(source.skipped),
        cross_class_duplicates=across,
        within_class_duplicates=within,
    )


def _examples_report(spec: Spec, source: Datasets) -> DatasetReport:
    """Count, measure and hash the decoded examples of the training and validation splits."""
    import numpy as np

    counts: Counter[int] = Counter()
    items: list[tuple[str, str, str]] = []
    widths: list[int] = []
    heights: list[int] = []
    modes: Counter[str] = Counter()
    for split, dataset in (("train", source.train), ("validation", source.validation)):
        if dataset is None:
            continue
        position = 0
        for images, labels in dataset.batch(256).as_numpy_iterator():
            for image, label in zip(images, np.asarray(labels).reshape(len(images), -1), strict=True):
                present = _present(source, label)
                name = "|".join(source.class_names[index] for index in present) or "(no label)"
                counts.update(present)
                heights.append(int(image.shape[0]))
                widths.append(int(image.shape[1]))
                modes[MODE_NAMES.get(int(image.shape[-1]), f"{image.shape[-1]} channels")] += 1
                items.append((hashlib.sha256(np.ascontiguousarray(image).tobytes()).hexdigest(), name, f"{name}/{split}[{position}]"))
                position += 1
    across, within = _duplicates(items)
    return DatasetReport(
        data_type=spec.data.type,
        origin="decoded examples as the data source delivers them (already resized)",
        task=source.task,
        class_names=list(source.class_names),
        counts={name: counts.get(index, 0) for index, name in enumerate(source.class_names)},
        train_count=source.train_count,
        validation_count=source.validation_count,
        widths=widths,
        heights=heights,
        modes=dict(modes),
        skipped=list(source.skipped),
        cross_class_duplicates=across,
        within_class_duplicates=within,
    )


def _present(source: Datasets, label: Any) -> list[int]:
    """The class indices an example counts for: its class; the labels it has (multi-label); every target (regression)."""
    if source.task == "multi_label":
        return [index for index, value in enumerate(label) if value > 0.5]
    if source.task == "regression":
        return list(range(len(source.class_names)))
    if source.task == "segmentation":  # the classes the mask shows
        import numpy as np

        return [int(index) for index in np.unique(label) if 0 <= index < len(source.class_names)]
    return [int(label[0])]


def dataset_report(spec: Spec, source: Datasets) -> DatasetReport:
    """Report on the spec's data (``source`` is what its data source returned). Multi-label and
    regression data are counted per label (images with it) or per target (images with a value)."""
    if source.files is not None and source.task == "single_label":
        return _files_report(spec, source)
    return _examples_report(spec, source)
