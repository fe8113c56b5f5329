"""What multi-label and regression training derives from the training targets: each label's
positive weight, the targets' standardisation, and the run's first task record."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from cnnbuild.errors import DataError
from cnnbuild.runs.task_record import TaskRecord

if TYPE_CHECKING:
    from cnnbuild.contracts.data import Datasets
    from cnnbuild.spec.document import Spec
    from cnnbuild.spec.labels import Labels

#: ``positive_weight: auto`` never weighs a label's positives more than this (a label on 1 image in 10,000 would get 9,999).
MAX_POSITIVE_WEIGHT = 100.0


def _targets(source: Datasets) -> list[list[float]]:
    if not source.train_targets:
        raise DataError(f"the data source returned no train_targets for task {source.task}; it must list every training example's target vector (cnnbuild.data.targets.datasets_from_targets does)")
    return source.train_targets


def positive_weights(spec: Spec, source: Datasets) -> tuple[float, ...]:
    """Multi-label ``task.positive_weight``: ``auto`` = negatives / positives of each label in the
    training split (at most :data:`MAX_POSITIVE_WEIGHT`), a mapping = its weights (1 for labels it leaves out)."""
    setting = getattr(spec.task, "positive_weight", "none")
    if setting == "none":
        return ()
    if isinstance(setting, dict):
        return tuple(float(setting.get(name, 1.0)) for name in source.class_names)
    targets = _targets(source)
    weights = []
    for index in range(len(source.class_names)):
        positives = sum(row[index] for row in targets)
        weights.append(min(MAX_POSITIVE_WEIGHT, (len(targets) - positives) / positives) if positives else 1.0)
    return tuple(round(weight, 6) for weight in weights)


def target_scaling(spec: Spec, source: Datasets) -> tuple[list[float], list[float]] | None:
    """Regression with ``task.standardize``: each target's mean and standard deviation over the
    training split (a constant target keeps a scale of 1)."""
    if not getattr(spec.task, "standardize", False):
        return None
    import numpy as np

    values = np.asarray(_targets(source), dtype="float64")
    std = values.std(axis=0)
    return [float(v) for v in values.mean(axis=0)], [float(v) if v > 0 else 1.0 for v in std]


def task_labels(spec: Spec, source: Datasets, labels: Labels) -> Labels:
    """``labels`` with the positive weights and target scaling ``source``'s training split gives."""
    if labels.mode == "multi_hot":
        return dataclasses.replace(labels, positive_weights=positive_weights(spec, source))
    if labels.mode == "values":
        return dataclasses.replace(labels, scaling=target_scaling(spec, source))
    return labels


def first_task_record(spec: Spec, source: Datasets, labels: Labels) -> TaskRecord | None:
    """The task record a run starts with (thresholds come later, from the validation split); None for single-label."""
    task = spec.task_row.name
    if task in ("single_label", "segmentation"):  # segmentation: the spec says all (classes, ignore index)
        return None
    if task == "multi_label":
        fixed = spec.task.threshold
        thresholds = [0.5] * len(source.class_names) if fixed == "auto" else [float(fixed)] * len(source.class_names)
        return TaskRecord(task, list(source.class_names), from_logits=labels.from_logits, thresholds=thresholds, threshold_source="default" if fixed == "auto" else "spec")
    mean, std = labels.scaling or ([], [])
    return TaskRecord(task, list(source.class_names), mean=mean, std=std)
