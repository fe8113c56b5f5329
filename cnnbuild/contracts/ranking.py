"""The order in which classes are listed for an image: one rule for a run, its exports and the server,
so the same probabilities always give the same classes in the same order."""

from __future__ import annotations

import math
from collections.abc import Sequence


def top_classes(probabilities: Sequence[float], k: int) -> list[int]:
    """The indices of the ``k`` most probable classes, most probable first.

    Ties go to the lower class index, so tied classes rank the same wherever they are ranked;
    a NaN ranks below every number. ``k`` is clipped to at least one and at most every class.
    ``probabilities`` is any sequence of numbers (a list, a NumPy row of any float dtype).
    """
    values = [float(p) for p in probabilities]
    count = max(1, min(k, len(values)))
    return sorted(range(len(values)), key=lambda i: (math.inf if math.isnan(values[i]) else -values[i], i))[:count]
