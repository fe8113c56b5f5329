"""Multi-label and regression data: target vectors read from table cells, a deterministic split
stratified by the targets, and ``Datasets`` of ``(image, float32 target vector)``.

Every cell that cannot be read (a missing value, text where a number belongs, an infinite value,
a label cell without any label) becomes a :class:`~cnnbuild.contracts.data.SkippedFile` naming
its row: it is listed in the run's ``skipped.json``, never dropped silently.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cnnbuild.contracts.data import DataContext, DataParams, Datasets, SkippedFile
from cnnbuild.data.graph_map import graph_map
from cnnbuild.data.splitting import stratified_split
from cnnbuild.errors import DataError

#: Regression splits are stratified by this many quantile bins of the first target (fewer for small data).
QUANTILE_BINS = 5


def parse_number(cell: str | None) -> tuple[float | None, str]:
    """A finite number from a table cell, or None and why not."""
    text = (cell or "").strip()
    if not text:
        return None, "missing value"
    try:
        value = float(text)
    except ValueError:
        return None, f"not a number: {text[:40]!r}"
    if not math.isfinite(value):
        return None, f"not a finite number: {text!r}"
    return value, ""


def parse_flag(cell: str | None) -> tuple[float | None, str]:
    """A 0/1 label flag from a table cell (0, 1, true, false, yes, no), or None and why not."""
    text = (cell or "").strip().lower()
    if text in ("1", "1.0", "true", "yes"):
        return 1.0, ""
    if text in ("0", "0.0", "false", "no"):
        return 0.0, ""
    return None, "missing value" if not text else f"not 0 or 1: {text[:40]!r}"


def split_labels(cell: str | None, separator: str) -> list[str]:
    """The labels written in one cell, ``separator`` between them (blanks around each are dropped)."""
    return [part.strip() for part in (cell or "").split(separator) if part.strip()]


def multi_hot(labels: Sequence[str], names: Sequence[str]) -> list[float]:
    """A 0/1 vector over ``names``: 1 for each name in ``labels``."""
    present = set(labels)
    return [1.0 if name in present else 0.0 for name in names]


def strata(targets: Sequence[Sequence[float]], task: str) -> list[int]:
    """The stratum of each example: multi-label by its label set (sets seen once share one
    stratum), regression by the quantile bin of its first target."""
    if task == "multi_label":
        keys = [tuple(int(v) for v in row) for row in targets]
        counts = Counter(keys)
        common = sorted(key for key, count in counts.items() if count >= 2)
        index = {key: position + 1 for position, key in enumerate(common)}
        return [index.get(key, 0) for key in keys]
    values = sorted(row[0] for row in targets) if targets else []
    bins = max(1, min(QUANTILE_BINS, len(values) // 4))
    edges = [values[min(len(values) - 1, (len(values) * step) // bins)] for step in range(1, bins)]
    return [sum(row[0] >= edge for edge in edges) for row in targets]


def split_by_targets(targets: Sequence[Sequence[float]], fraction: float, seed: int | None, task: str) -> tuple[list[int], list[int]]:
    """Indices ``(train, validation)``: a split the seed repeats, stratified by label set
    (multi-label) or by quantile of the first target (regression)."""
    return stratified_split(strata(targets, task), fraction, seed)


def _fingerprint(rows: Sequence[tuple[str, Sequence[float]]]) -> str:
    digest = hashlib.sha256()
    for name, values in rows:
        digest.update(f"{name}\0{','.join(repr(float(v)) for v in values)}\n".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def _check_targets(targets: Sequence[Sequence[float]], names: Sequence[str], task: str, where: str) -> list[str]:
    """What to refuse (DataError) and what to warn about, given every usable example's targets."""
    if not targets:
        raise DataError(f"{where}: no usable rows; every row was left out (skipped.json lists each with its reason)")
    warnings = []
    if task == "multi_label":
        counts = [sum(row[i] for row in targets) for i in range(len(names))]
        never = [name for name, count in zip(names, counts, strict=True) if count == 0]
        if never:  # a warning, not an error: data evaluated on may hold only some of a run's labels
            warnings.append(f"label(s) {never} are on no image: a model trained on this data learns never to predict them; add images that have them, or remove them from the labels")
        always = [name for name, count in zip(names, counts, strict=True) if count == len(targets)]
        if always:
            warnings.append(f"label(s) {always} are on every image: the model cannot learn to tell them apart from their absence")
        empty = sum(1 for row in targets if not any(row))
        if empty:
            warnings.append(f"{empty} image(s) have none of the labels; they are trained on as negatives of every label")
    else:
        constant = [name for i, name in enumerate(names) if len({row[i] for row in targets}) == 1]
        if constant:
            warnings.append(f"target(s) {constant} have the same value on every image: there is nothing to learn")
    return warnings


def datasets_from_targets(
    images: Any,
    targets: Sequence[Sequence[float]],
    names: Sequence[str],
    params: DataParams,
    context: DataContext,
    *,
    task: str,
    skipped: Sequence[SkippedFile] = (),
    test: tuple[Any, Sequence[Sequence[float]]] | None = None,
    where: str,
) -> Datasets:
    """A ``Datasets`` of ``(image, float32 targets)`` for ``task`` (multi_label or regression).

    ``images`` is either a list of image file paths (checked and decoded as every file source's
    are; unusable files are listed in ``skipped``) or an array ``(N, height, width[, channels])``;
    ``targets`` holds one vector per image, its entries named by ``names``. ``test`` is a separate
    test set in the same form. The validation split is :func:`split_by_targets` with ``context.seed``.
    """
    left_out = list(skipped)
    images, targets = _usable(images, targets, left_out, params)
    warnings = _check_targets(targets, names, task, where)
    train_index, validation_index = split_by_targets(targets, params.validation_split, context.seed, task)
    if not train_index:
        raise DataError(f"{where}: no training images left after the validation split; lower data.validation_split or add images")
    test_data: Any = None
    test_count = 0
    test_images: Any = []
    if test is not None:
        test_images, test_targets = _usable(test[0], test[1], left_out, params)
        test_data, test_count = _dataset(test_images, test_targets, params, where), len(test_targets)
    pick = (lambda chosen: [images[i] for i in chosen]) if isinstance(images, list) else (lambda chosen: images[chosen])
    train_targets = [list(map(float, targets[i])) for i in train_index]
    files = None
    if isinstance(images, list):
        files = [(images[i].path, 0, "train") for i in train_index] + [(images[i].path, 0, "validation") for i in validation_index]
        files += [(item.path, 0, "test") for item in test_images if isinstance(test_images, list)]
    keys = [item.path for item in images] if isinstance(images, list) else [f"{i}:{hashlib.sha256(images[i].tobytes()).hexdigest()[:16]}" for i in range(len(targets))]
    return Datasets(
        train=_dataset(pick(train_index), train_targets, params, where),
        validation=_dataset(pick(validation_index), [targets[i] for i in validation_index], params, where) if validation_index else None,
        class_names=list(names),
        train_count=len(train_index),
        validation_count=len(validation_index),
        test=test_data,
        test_count=test_count,
        skipped=left_out,
        fingerprint=_fingerprint(list(zip(map(str, keys), targets, strict=True))),
        files=files,
        warnings=warnings,
        task=task,
        train_targets=train_targets,
    )


def _usable(images: Any, targets: Sequence[Sequence[float]], left_out: list[SkippedFile], params: DataParams) -> tuple[Any, list[list[float]]]:
    """File paths checked like every file source's (the unusable ones added to ``left_out``); arrays as they are."""
    if len(images) != len(targets):
        raise DataError(f"{len(images)} images but {len(targets)} target rows")
    if not isinstance(images, list):
        from cnnbuild.data.arrays import _images

        return _images(images, params, "arrays"), [list(map(float, row)) for row in targets]
    from cnnbuild.data.image_files import ImageFile, inspect_images
    from cnnbuild.data.scan_index import ScanIndex

    verdicts = inspect_images([Path(path) for path in images], index=ScanIndex.default())
    kept_images, kept_targets = [], []
    for path, row, verdict in zip(images, targets, verdicts, strict=True):
        if verdict.reason:
            left_out.append(SkippedFile(str(path), verdict.reason))
        else:
            kept_images.append(ImageFile(str(path), 0, verdict.native, verdict.size))
            kept_targets.append(list(map(float, row)))
    return kept_images, kept_targets


def _dataset(images: Any, targets: Sequence[Sequence[float]], params: DataParams, where: str) -> Any:
    """An unbatched ``(float32 image, float32 targets)`` dataset of file paths or an image array."""
    import numpy as np
    import tensorflow as tf

    values = np.asarray(targets, dtype="float32").reshape(len(targets), -1)
    if not isinstance(images, list):
        return tf.data.Dataset.from_tensor_slices((np.asarray(images, dtype="float32"), values))
    from cnnbuild.data.decode import decode_files
    from cnnbuild.data.image_files import ImageFile

    files = [ImageFile(item.path, position, item.native, item.size) for position, item in enumerate(images)]  # label: the row of `table`
    table = tf.constant(values)
    return graph_map(decode_files(files, params), lambda image, position: (image, tf.gather(table, position)))
