"""The ``sweep:`` section: what a hyperparameter search varies, what it optimises, and how.

It sits at the top level of a spec, or in a file of its own that names the base spec
(:class:`SweepFile`). Nothing here imports Optuna; ``cnnbuild.sweep`` turns it into a study.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, WithJsonSchema, model_validator

from cnnbuild.contracts.tasks import lower_is_better
from cnnbuild.contracts.values import NonNegativeInt, Number, Params, PositiveInt, PositiveNumber, SpecPath

KINDS = ("choice", "int", "uniform", "log_uniform")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?)\s*(s|m|h|d)?\s*$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class Dimension(Params):
    """One searched value: exactly one of ``choice``, ``int``, ``uniform`` or ``log_uniform``."""

    choice: list[Any] | None = Field(None, min_length=1, description="any values a spec accepts there: numbers, names, lists, mappings")
    int_range: tuple[int, int] | None = Field(None, alias="int", description="[low, high], both included")
    uniform: tuple[Number, Number] | None = Field(None, description="[low, high] floats")
    log_uniform: tuple[PositiveNumber, PositiveNumber] | None = Field(None, description="[low, high] floats, sampled on a log scale")
    step: PositiveNumber | None = Field(None, description="int and uniform: only low, low + step, ... up to high")
    log: bool = Field(False, description="int: sample on a log scale")

    @property
    def kind(self) -> str:
        return next(kind for kind in KINDS if self.bounds(kind) is not None)

    def bounds(self, kind: str) -> Any:
        return self.int_range if kind == "int" else getattr(self, kind)

    @model_validator(mode="after")
    def _one_kind(self) -> Dimension:
        given = [kind for kind in KINDS if self.bounds(kind) is not None]
        if len(given) != 1:
            found = f"got {', '.join(given)}" if given else "got none of them"
            raise ValueError(f"give exactly one of choice: [...], int: [low, high], uniform: [low, high] or log_uniform: [low, high]; {found}")
        kind = given[0]
        if self.step is not None and kind not in ("int", "uniform"):
            raise ValueError(f"step applies to int and uniform ranges, not to {kind}")
        if self.log and kind != "int":
            raise ValueError("log applies to int ranges; use log_uniform for floats")
        if kind == "choice":
            return self
        low, high = self.bounds(kind)
        if not low < high:
            raise ValueError(f"low {low} must be below high {high} (a single value belongs in the spec or in --set)")
        if kind == "int":
            if self.log and (self.step is not None or low < 1):
                raise ValueError("a log-scale int range needs low >= 1 and no step")
            if self.step is not None and (not float(self.step).is_integer() or (high - low) % int(self.step)):
                raise ValueError(f"step must be an integer that divides high - low ({high - low}), got {self.step:g}")
        if kind == "uniform" and self.step is not None:
            count = (high - low) / self.step
            if abs(count - round(count)) > 1e-9:
                raise ValueError(f"step {self.step:g} must divide high - low ({high - low:g})")
        return self

    def grid(self) -> list[Any] | None:
        """Every value this dimension can take, when there are finitely many (for the grid sampler)."""
        kind = self.kind
        if kind == "choice":
            return list(self.choice or [])
        if kind == "int" and not self.log:
            low, high = self.int_range or (0, 0)
            return list(range(low, high + 1, int(self.step or 1)))
        if kind == "uniform" and self.step is not None:
            start, stop = self.uniform or (0.0, 0.0)
            return [round(start + index * self.step, 12) for index in range(round((stop - start) / self.step) + 1)]
        return None

    def probes(self) -> list[tuple[tuple[Any, ...], Any]]:
        """Values worth validating before a sweep starts, each with its path below the dimension:
        every choice, and for a range its ends and a value between them."""
        kind = self.kind
        if kind == "choice":
            return [(("choice", index), value) for index, value in enumerate(self.choice or [])]
        low, high = self.bounds(kind)
        if kind == "int":
            values = self.grid() or [low, high]
            middle = values[len(values) // 2] if not self.log else round(math.sqrt(low * high))
        elif kind == "log_uniform":
            middle = math.sqrt(low * high)
        else:
            values = self.grid() or [low, high]
            middle = values[len(values) // 2] if self.step is not None else (low + high) / 2
        key = "int" if kind == "int" else kind
        return [((key, 0), low), ((key,), middle), ((key, 1), high)]


def _pruner_tag(value: Any) -> Any:
    if value is None:
        return {"type": "none"}
    return {"type": value} if isinstance(value, str) else value


class NoPruner(Params):
    type: Literal["none"]


class MedianPruner(Params):
    """Optuna's MedianPruner: stop a trial whose epoch value is worse than the median of earlier trials at that epoch."""

    type: Literal["median"]
    n_startup_trials: NonNegativeInt = Field(5, description="trials that are never pruned, to learn the median from")
    n_warmup_steps: NonNegativeInt = Field(0, description="epochs of each trial that are never pruned")
    interval_steps: PositiveInt = Field(1, description="check every N epochs")


class SuccessiveHalvingPruner(Params):
    """Optuna's SuccessiveHalvingPruner: keep the best 1/reduction_factor of trials at each rung of epochs."""

    type: Literal["successive_halving"]
    min_resource: PositiveInt = Field(1, description="epochs before the first rung")
    reduction_factor: Annotated[int, Field(ge=2, le=100)] = 3
    min_early_stopping_rate: NonNegativeInt = 0


Pruner = Annotated[NoPruner | MedianPruner | SuccessiveHalvingPruner, Field(discriminator="type"), BeforeValidator(_pruner_tag)]


def _duration(value: Any) -> Any:
    if isinstance(value, str):
        match = _DURATION.match(value)
        if not match:
            raise ValueError(f"expected seconds or a duration such as 90s, 30m, 2h, got {value!r}")
        return float(match.group(1)) * _SECONDS[match.group(2) or "s"]
    return value


#: Seconds, or a duration written as 90s, 30m, 2h, 1d.
Duration = Annotated[PositiveNumber, BeforeValidator(_duration), WithJsonSchema({"anyOf": [{"type": "number"}, {"type": "string", "pattern": _DURATION.pattern}]})]


def _direction(value: Any) -> Any:
    return {"max": "maximize", "min": "minimize"}.get(value, value) if isinstance(value, str) else value


class Sweep(Params):
    """A search over spec values: every trial is the spec with one sampled value per ``space`` key."""

    metric: str = Field("val_accuracy", description="the history metric a trial is judged by: its best epoch's value")
    direction: Annotated[Literal["maximize", "minimize"], BeforeValidator(_direction)] | None = Field(
        None, description="maximize or minimize (max, min); default: minimize for a loss, else maximize"
    )
    trials: PositiveInt = Field(20, description="trials in the whole sweep, over every worker and every restart (--trials)")
    time_budget: Duration | None = Field(None, description="no trial starts after this long (seconds, or 30m, 2h); trials running then finish")
    sampler: Literal["tpe", "random", "grid"] = Field("tpe", description="tpe (Optuna's default), random, or grid (every combination, in random order)")
    seed: NonNegativeInt | None = Field(None, description="the sampler's seed; default: the spec's seed")
    pruner: Pruner = Field(default_factory=lambda: NoPruner(type="none"), description="none (default), median or successive_halving: stop poor trials after an epoch")
    space: dict[str, Dimension] = Field(..., min_length=1, description="spec path (as --set writes it, e.g. model.layers[1].filters) -> values to try")

    @property
    def goal(self) -> str:
        """``maximize`` or ``minimize``: the direction, or its default for the metric."""
        return self.direction or ("minimize" if lower_is_better(self.metric) else "maximize")


class SweepFile(Params):
    """A sweep kept apart from the spec it searches: ``spec: FILE`` (relative to this file) and ``sweep:``."""

    spec: SpecPath = Field(..., description="the base spec, relative to this file")
    sweep: Sweep
