"""A deterministic, stratified train/validation split shared by the builtin data sources."""

from __future__ import annotations

import random
from collections.abc import Sequence

DEFAULT_SPLIT_SEED = 1337


def stratified_split(labels: Sequence[int], fraction: float, seed: int | None) -> tuple[list[int], list[int]]:
    """Indices ``(train, validation)``: every class keeps ``fraction`` of its examples for
    validation (at least one when it has two or more) and at least one for training; the same
    seed gives the same split."""
    seed = DEFAULT_SPLIT_SEED if seed is None else seed
    by_class: dict[int, list[int]] = {}
    for index, label in enumerate(labels):
        by_class.setdefault(int(label), []).append(index)
    train: list[int] = []
    validation: list[int] = []
    for label in sorted(by_class):
        members = by_class[label]
        random.Random(f"{seed}:{label}").shuffle(members)
        held = round(len(members) * fraction)
        if fraction > 0 and len(members) >= 2:
            held = max(held, 1)
        held = min(held, len(members) - 1)  # a class is never left without a training example
        validation.extend(members[:held])
        train.extend(members[held:])
    random.Random(seed).shuffle(train)
    validation.sort()
    return train, validation


def split_warnings(train_labels: Sequence[int], validation_labels: Sequence[int], class_names: Sequence[str], fraction: float) -> list[str]:
    """What to tell the user about the split: classes without a validation example."""
    if fraction <= 0:
        return []
    validated = set(int(label) for label in validation_labels)
    alone = [class_names[label] for label in sorted(set(int(label) for label in train_labels)) if label not in validated]
    if not alone:
        return []
    return [
        f"class(es) {alone} have a single example: it is trained on, so the validation split has none of them and "
        "their accuracy is not measured; add images to these classes"
    ]
