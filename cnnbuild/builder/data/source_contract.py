"""What a data source must return for each task, checked: the record (``Datasets``' task, names,
counts, training targets), each split's element structure (the ``tf.data`` element spec) and, for
a plugin's own tests, the values of its first examples.

``cnnbuild run`` checks the record and the structure of every source of a multi-label, regression
or segmentation spec (cheap: no example is read), so a source that delivers the wrong labels is a
message naming it, not an error from inside TensorFlow; ``cnnbuild.testing.assert_data_source_supplies``
checks everything, strictly (the exact dtypes the contract names). The contract is docs/plugins.md's
"What a source returns for each task".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from cnnbuild.contracts.data import Datasets

#: The splits of a ``Datasets`` and their counts' field names.
SPLITS = (("train", "train_count"), ("validation", "validation_count"), ("test", "test_count"))
#: Tasks whose labels are one float32 vector per example, one entry per name of ``class_names``.
VECTOR_TASKS = ("multi_label", "regression")


def _shape(spec: Any) -> tuple[int | None, ...] | None:
    """A TensorSpec's shape as a tuple (None for an unknown rank)."""
    dims = spec.shape
    return None if dims.rank is None else tuple(dims.as_list())


def _fits(shape: tuple[int | None, ...], wanted: Sequence[int | None]) -> bool:
    """Whether ``shape`` can be ``wanted`` (an unknown dimension on either side fits)."""
    return len(shape) == len(wanted) and all(a is None or b is None or a == b for a, b in zip(shape, wanted, strict=True))


def _shown(shape: Sequence[int | None]) -> str:
    return "(" + ", ".join("?" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def record_issues(datasets: Datasets, task: str, *, strict: bool) -> list[str]:
    """What is wrong with the ``Datasets`` record itself for ``task``: its task, names, counts and
    training targets (``strict``: also what is missing but only needed by some specs)."""
    issues = []
    if datasets.task != task:
        issues.append(f"Datasets.task is {datasets.task!r} for a {task} spec (set it, and deliver the labels context.task asks for)")
    names = datasets.class_names
    if not names or not all(isinstance(name, str) and name for name in names):
        issues.append(f"class_names must name every class, label or target as a non-empty string; got {names!r}")
    elif len(set(names)) != len(names):
        issues.append(f"class_names names one twice: {names}")
    for split, count_field in SPLITS:
        dataset, count = getattr(datasets, split), getattr(datasets, count_field)
        if dataset is None and count:
            issues.append(f"{count_field} is {count} but {split} is None")
        if dataset is not None and split != "train" and not count:
            issues.append(f"{split} is a dataset but {count_field} is {count}")
    targets = datasets.train_targets
    if task in VECTOR_TASKS:
        if targets is None:
            if strict:
                issues.append(f"train_targets is None; task {task} needs every training example's target vector (positive weights, standardisation, the dataset report read it)")
        elif len(targets) != datasets.train_count:
            issues.append(f"train_targets holds {len(targets)} vectors but train_count is {datasets.train_count}")
        elif names and any(len(row) != len(names) for row in targets):
            row = next(i for i, row in enumerate(targets) if len(row) != len(names))
            issues.append(f"train_targets[{row}] has {len(targets[row])} values but class_names names {len(names)}")
        elif any(not all(isinstance(v, (int, float)) and math.isfinite(v) for v in row) for row in targets):
            row = next(i for i, row in enumerate(targets) if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in row))
            issues.append(f"train_targets[{row}] is {list(targets[row])!r}: every value must be a finite number")
        elif strict and task == "multi_label" and any(v not in (0, 1) for row in targets for v in row):
            # Lenient: soft targets (label smoothing, annotator agreement) trained under plugin API 1.4, and still do.
            issues.append("train_targets of task multi_label must hold 0 or 1 only")
    labels = datasets.train_labels
    if task == "single_label" and labels is not None and names:
        if len(labels) != datasets.train_count:
            issues.append(f"train_labels holds {len(labels)} labels but train_count is {datasets.train_count}")
        elif any(not 0 <= int(label) < len(names) for label in labels):
            issues.append(f"train_labels holds a label outside 0..{len(names) - 1} (the indices of class_names)")
    return issues


def _label_wanted(task: str, input_shape: Sequence[int], names: int) -> tuple[tuple[int | None, ...], str, str]:
    """``(label shape, dtype kind, what the contract says)`` of one example's label."""
    if task in VECTOR_TASKS:
        return (names,), "float", f"a float32 vector of shape ({names},), one entry per name of class_names"
    if task == "segmentation":
        height, width = input_shape[:2]
        return (height, width), "int", f"an int32 mask of shape ({height}, {width}): the image's height and width, class indices"
    return (), "int", "an int class index (shape ())"


def element_issues(datasets: Datasets, task: str, input_shape: Sequence[int], *, strict: bool) -> list[str]:
    """What is wrong with each split's ``(image, label)`` elements for ``task`` and a model input of
    ``input_shape``, from the datasets' element specs (nothing is read). Lenient (not ``strict``):
    only what training cannot get through (shapes, non-numbers); strict: the dtypes too."""
    import tensorflow as tf

    issues = []
    names = len(datasets.class_names or [])
    wanted_label, kind, said = _label_wanted(task, input_shape, names)
    for split, _ in SPLITS:
        dataset = getattr(datasets, split)
        if dataset is None:
            continue
        spec = getattr(dataset, "element_spec", None)
        if not (isinstance(spec, tuple) and len(spec) == 2 and all(isinstance(part, tf.TensorSpec) for part in spec)):
            issues.append(f"{split}: elements must be (image, label) pairs of tensors; got {spec!r}")
            continue
        image, label = spec
        image_shape, label_shape = _shape(image), _shape(label)
        if image_shape is not None and not _fits(image_shape, input_shape):
            issues.append(f"{split}: images have shape {_shown(image_shape)}, not {_shown(input_shape)} (data.image_size and the channels of data.color_mode)")
        if not (image.dtype.is_floating or image.dtype.is_integer) or (strict and image.dtype != tf.float32):
            issues.append(f"{split}: images are {image.dtype.name}, not float32 (values 0..255)")
        one_scalar_target = task == "regression" and names == 1 and label_shape == ()  # trained under plugin API 1.4: Keras matches it to (1,)
        if label_shape is not None and not _fits(label_shape, wanted_label) and (strict or not one_scalar_target):
            issues.append(f"{split}: labels have shape {_shown(label_shape)}; task {task} needs {said}")
        numeric = label.dtype.is_floating or label.dtype.is_integer or label.dtype == tf.bool
        exact = label.dtype == tf.float32 if kind == "float" else label.dtype in ((tf.int32, tf.int64) if task == "single_label" else (tf.int32,))
        if not numeric or (strict and not exact):
            issues.append(f"{split}: labels are {label.dtype.name}; task {task} needs {said}")
    return issues


def example_issues(datasets: Datasets, task: str, input_shape: Sequence[int], *, ignore_index: int | None = None, limit: int = 16) -> list[str]:
    """What is wrong with the values of the first ``limit`` examples of each split: images of the
    input's shape with values 0..255; labels in range (0/1 per label, finite targets, mask indices
    below the class count or the ignore index); and each split's length against its count."""
    import numpy as np

    issues = []
    names = len(datasets.class_names or [])
    for split, count_field in SPLITS:
        dataset = getattr(datasets, split)
        if dataset is None:
            continue
        cardinality = int(dataset.cardinality())
        if cardinality >= 0 and cardinality != getattr(datasets, count_field):
            issues.append(f"{split}: holds {cardinality} examples but {count_field} is {getattr(datasets, count_field)}")
        for index, (image, label) in enumerate(dataset.take(limit).as_numpy_iterator()):
            where = f"{split} example {index}"
            image, label = np.asarray(image), np.asarray(label)
            if image.shape != tuple(input_shape):
                issues.append(f"{where}: image has shape {image.shape}, not {tuple(input_shape)}")
            elif not np.all(np.isfinite(image)) or image.min() < 0 or image.max() > 255:
                issues.append(f"{where}: image values run {image.min():g}..{image.max():g}; images hold 0..255")
            if task == "multi_label" and not np.isin(label, (0, 1)).all():
                issues.append(f"{where}: label {label.tolist()} holds values other than 0 and 1")
            elif task == "regression" and not np.all(np.isfinite(label)):
                issues.append(f"{where}: target {label.tolist()} is not finite")
            elif task == "segmentation":
                if label.shape != tuple(input_shape[:2]):
                    issues.append(f"{where}: mask has shape {label.shape} but its image is {tuple(input_shape[:2])} (height, width); a mask has its image's size")
                else:
                    bad = sorted({int(v) for v in np.unique(label) if not 0 <= v < names and v != ignore_index})
                    if bad:
                        issues.append(f"{where}: mask holds index {bad[:5]}, outside the classes 0..{names - 1}" + (f" and the ignore index {ignore_index}" if ignore_index is not None else ""))
            elif task == "single_label" and not (label.shape == () and 0 <= int(label) < names):
                issues.append(f"{where}: label {label.tolist()} is not a class index 0..{names - 1}")
    return issues
