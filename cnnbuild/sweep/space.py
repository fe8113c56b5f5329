"""A sweep's space as Optuna parameters: one ``suggest_*`` call per key, and back to spec values.

Optuna keeps categorical values that are None, bools, numbers or strings; a choice among lists
or mappings (``augmentation: {choice: [[], [...]]}``) is offered as each value's canonical JSON
text, which reads well in plots and does not depend on key order, and decoded after sampling.
"""

from __future__ import annotations

import json
from typing import Any

from cnnbuild.spec.overrides import format_override
from cnnbuild.spec.sweep_section import Dimension

_PLAIN = (type(None), bool, int, float, str)


def _encoded(dimension: Dimension) -> bool:
    return dimension.kind == "choice" and not all(isinstance(value, _PLAIN) for value in dimension.choice or [])


def _encode(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def choices(dimension: Dimension) -> list[Any]:
    """The values Optuna is offered for a choice (encoded where they are not plain)."""
    values = list(dimension.choice or [])
    return [_encode(value) for value in values] if _encoded(dimension) else values


def suggest(trial: Any, space: dict[str, Dimension]) -> dict[str, Any]:
    """Ask ``trial`` (an ``optuna.Trial``) for one value per key; returns key -> spec value."""
    values: dict[str, Any] = {}
    for key, dimension in space.items():
        kind = dimension.kind
        if kind == "choice":
            values[key] = trial.suggest_categorical(key, choices(dimension))
        elif kind == "int":
            low, high = dimension.int_range or (0, 0)
            values[key] = trial.suggest_int(key, low, high, step=int(dimension.step or 1), log=dimension.log)
        elif kind == "uniform":
            low, high = dimension.uniform or (0.0, 0.0)
            values[key] = trial.suggest_float(key, low, high, step=dimension.step)
        else:
            low, high = dimension.log_uniform or (1.0, 1.0)
            values[key] = trial.suggest_float(key, low, high, log=True)
    return decode(space, values)


def decode(space: dict[str, Dimension], params: dict[str, Any]) -> dict[str, Any]:
    """Optuna's params (JSON text for structured choices) -> spec values, in the space's order.

    Values on a float step are rounded to 12 decimals: Optuna computes them as low + k x step,
    which gives 0.30000000000000004 for the fourth step of 0.1 from 0.
    """
    values = {}
    for key, dimension in space.items():
        if key not in params:
            continue
        value = params[key]
        if _encoded(dimension):
            value = json.loads(value)
        elif dimension.kind == "uniform" and dimension.step is not None:
            value = round(value, 12)
        values[key] = value
    return values


def grid(space: dict[str, Dimension]) -> dict[str, list[Any]]:
    """GridSampler's search space (the sweep checks refuse dimensions without a finite grid)."""
    return {key: choices(dimension) if dimension.kind == "choice" else (dimension.grid() or []) for key, dimension in space.items()}


def grid_size(space: dict[str, Dimension]) -> int:
    size = 1
    for values in grid(space).values():
        size *= len(values)
    return size


def overrides(values: dict[str, Any]) -> list[str]:
    """The ``--set`` options that make a trial's spec from the base spec."""
    return [format_override(key, value) for key, value in values.items()]
