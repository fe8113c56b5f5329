"""A run's history: every metric per epoch, as CSV, and its final and best values."""

from __future__ import annotations

import csv
import io
from typing import Any

from cnnbuild.contracts.tasks import lower_is_better
from cnnbuild.runs.checkpoint_state import PHASE_KEY


def history_csv(history: dict[str, list[float]]) -> str:
    """``epoch,metric,...`` with one row per epoch."""
    keys = list(history)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["epoch", *keys])
    for epoch in range(max((len(v) for v in history.values()), default=0)):
        writer.writerow([epoch + 1, *(history[k][epoch] if epoch < len(history[k]) else "" for k in keys)])
    return out.getvalue()


def summarize_history(history: dict[str, list[float]]) -> dict[str, Any]:
    """Final and best value of every metric; best is the minimum for losses and errors (mae, rmse), the maximum otherwise."""
    final = {key: values[-1] for key, values in history.items() if values}
    best: dict[str, Any] = {}
    for key, values in history.items():
        if not values or key in ("learning_rate", PHASE_KEY):
            continue
        pick = min if lower_is_better(key) else max
        value = pick(values)
        best[key] = {"value": value, "epoch": values.index(value) + 1}
    return {"final": final, "best": best}
