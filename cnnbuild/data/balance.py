"""How unequal the classes are: the largest class over the smallest, and the ratio at which
cnnbuild speaks up (the run's and ``preview``'s warning, ``cnnbuild init``'s ``class_weight: auto``)."""

from __future__ import annotations

from dataclasses import dataclass

#: Largest class over smallest class at or above which the classes count as imbalanced.
IMBALANCE_RATIO = 3.0


@dataclass(frozen=True)
class Balance:
    """The largest and the smallest class (by images) and their ratio."""

    largest: str
    largest_count: int
    smallest: str
    smallest_count: int

    @property
    def ratio(self) -> float:
        return self.largest_count / self.smallest_count

    @property
    def imbalanced(self) -> bool:
        return self.ratio >= IMBALANCE_RATIO


def class_balance(counts: dict[str, int]) -> Balance | None:
    """The balance of the classes that have images (None when none has); ties go to the first class listed."""
    present = {name: count for name, count in counts.items() if count}
    if not present:
        return None
    largest = max(present, key=present.__getitem__)
    smallest = min(present, key=present.__getitem__)
    return Balance(largest, present[largest], smallest, present[smallest])
