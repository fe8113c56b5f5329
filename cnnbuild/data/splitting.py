"""A deterministic, stratified train/validation split shared by the builtin data sources."""

from __future__ import annotations

import random
from collections.abc import Sequence

DEFAULT_SPLIT_SEED = 1337


def stratified_split(labels: Sequence[int], fraction: float, seed: int | None) -> tuple[list[int], list[int]]:
    """Indices ``(train, validation)``: every class keeps ``fraction`` of its examples for
    validation (at least one when it has two or more); the same seed gives the same split."""
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
            held = min(max(held, 1), len(members) - 1)
        validation.extend(members[:held])
        train.extend(members[held:])
    random.Random(seed).shuffle(train)
    validation.sort()
    return train, validation
