"""Load a sweep (a spec's ``sweep:`` section, or a sweep file naming its base spec) and check, before
any trial trains, that its space can only produce valid specs where that is knowable.

Each choice, and each range's ends and middle, is applied to the base spec like ``--set`` and
validated with the shape checks; a value that breaks the spec is an error at its line in the
sweep. Combinations of values are tried too while there are few; one that breaks the spec is a
warning (those trials will be recorded invalid with the message).
"""

from __future__ import annotations

import importlib.util
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from cnnbuild.spec.codes import Code
from cnnbuild.spec.document import Spec, apply_to_spec, load_spec, spec_from_source
from cnnbuild.spec.errors import SpecError, SpecIssue, format_path, suggest
from cnnbuild.spec.overrides import format_override, parse_key
from cnnbuild.spec.sweep_section import Sweep, SweepFile
from cnnbuild.spec.translate import translate
from cnnbuild.spec.yaml_source import SpecSource, read_yaml

INSTALL_HINT = "pip install 'cnnbuild[sweep]'"
#: Combinations of probe values are validated while there are at most this many (about 10 ms each).
MAX_COMBINATIONS = 64


@dataclass
class SweepSetup:
    """A sweep ready to check or run: the base spec (``--set`` applied) and the sweep section."""

    spec: Spec
    sweep: Sweep
    source: SpecSource  # the file that holds the sweep section, with positions
    path: Path  # the file given: a spec with a sweep section, or a sweep file
    overrides: tuple[str, ...] = ()

    def issue(self, path: tuple[Any, ...], code: Code, message: str, *, key: bool = False, severity: str = "error") -> SpecIssue:
        """An issue at ``path`` (``('sweep', 'space', KEY, ...)``) of the file holding the sweep."""
        where, line, column = self.source.locate(path, key=key)
        return SpecIssue(where, line, column, format_path(path), message, severity, code=code)


@dataclass
class SweepCheck:
    errors: list[SpecIssue] = field(default_factory=list)
    warnings: list[SpecIssue] = field(default_factory=list)


def is_sweep_file(data: Any) -> bool:
    """A sweep file holds ``spec:`` (the base spec's path) and ``sweep:``, and no spec sections."""
    return isinstance(data, dict) and "sweep" in data and isinstance(data.get("spec"), str) and "model" not in data


def load_sweep(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> SweepSetup:
    """Read a sweep: a spec whose top level has ``sweep:``, or a sweep file (``spec:`` and ``sweep:``).

    ``overrides`` apply to the base spec, so to every trial. Raises :class:`SpecError`.
    """
    path = Path(path)
    source = read_yaml(path)
    if is_sweep_file(source.data):
        try:
            document = SweepFile.model_validate(source.data)
        except ValidationError as exc:
            raise SpecError(translate(exc, source, SweepFile)) from exc
        spec = load_spec(path.resolve().parent / Path(document.spec).expanduser(), overrides)
        setup = SweepSetup(spec, document.sweep, source, path, tuple(overrides))
        if spec.sweep is not None:
            raise SpecError([setup.issue(("spec",), Code.CONFLICT, f"{document.spec} has a sweep section of its own; keep one of the two")])
        return setup
    spec = load_spec(path, overrides)
    if spec.sweep is None:
        raise SpecError([SpecIssue(str(path), 0, 0, "", "no sweep section: add sweep: with a space at the top level (see examples/digits_sweep.yaml), or give a sweep file holding spec: BASE_SPEC and sweep:", code=Code.MISSING_KEY)])
    return SweepSetup(spec, spec.sweep, spec.source or SpecSource(None, str(path)), path, tuple(overrides))


def logged_metrics(spec: Spec) -> list[str]:
    """The history keys a run of ``spec`` records: loss and each compiled metric, for training and validation."""
    names = ["loss", *spec.compile.metrics]
    return names + [f"val_{name}" for name in names]


def check_sweep(setup: SweepSetup, *, to_run: bool = True) -> SweepCheck:
    """Every problem with the sweep that can be found without training (errors), and what may go
    wrong in some trials (warnings). Nothing here needs Optuna: without it, the sweep is checked
    all the same, and the missing package is an error when the sweep is ``to_run`` (``cnnbuild
    sweep``), a warning when it is only validated (``cnnbuild run`` trains the spec without it)."""
    sweep, result = setup.sweep, SweepCheck()
    if importlib.util.find_spec("optuna") is None:
        needed = f"cnnbuild sweep needs Optuna: {INSTALL_HINT}"
        if to_run:
            result.errors.append(setup.issue(("sweep",), Code.MISSING_PACKAGE, needed, key=True))
        else:
            result.warnings.append(setup.issue(("sweep",), Code.MISSING_PACKAGE, f"{needed} (cnnbuild run trains the spec without it)", key=True, severity="warning"))
    if setup.spec.distribute.mode == "machines":
        result.errors.append(setup.issue(("sweep",), Code.UNSUPPORTED, "a sweep trains each trial in one process: distribute.mode machines is not supported; run the trials' workers on many machines with --storage instead", key=True))
    metrics = logged_metrics(setup.spec)
    if sweep.metric not in metrics:
        hint = suggest(sweep.metric, metrics) or f"; the runs record {', '.join(metrics)}"
        result.errors.append(setup.issue(("sweep", "metric"), Code.UNKNOWN_METRIC, f"{sweep.metric!r} is not a metric the runs record{hint}"))
    if sweep.pruner.type != "none" and setup.spec.train.epochs < 2:
        result.warnings.append(setup.issue(("sweep", "pruner"), Code.NO_EFFECT, f"train.epochs is {setup.spec.train.epochs}; pruning stops trials between epochs, so it never will", severity="warning"))
    probes: dict[str, list[Any]] = {}
    for key, dimension in sweep.space.items():
        where = ("sweep", "space", key)
        try:
            parts = parse_key(key)
        except ValueError as exc:
            result.errors.append(setup.issue(where, Code.INVALID_OVERRIDE, str(exc), key=True))
            continue
        if parts[0] == "sweep":
            result.errors.append(setup.issue(where, Code.NOT_ALLOWED_HERE, "a sweep cannot search its own settings", key=True))
            continue
        if sweep.sampler == "grid" and dimension.grid() is None:
            result.errors.append(setup.issue(where, Code.INVALID_VALUE, f"the grid sampler needs finitely many values: use choice, int, or uniform with step (not {dimension.kind})"))
            continue
        good = []
        for below, value in dimension.probes():
            problems = _problems(setup.spec, [format_override(key, value)])
            result.errors += [setup.issue(where + below, Code.INVALID_TRIAL, f"{value!r} gives an invalid spec: {problem}") for problem in problems]
            if not problems:
                good.append(value)
        probes[key] = good
    if not result.errors:
        result.warnings += _combination_warnings(setup, probes)
    return result


def _problems(spec: Spec, overrides: list[str]) -> list[str]:
    """What is wrong with ``spec`` once ``overrides`` are applied, one line per issue (empty when valid)."""
    try:
        apply_to_spec(spec, overrides)
    except SpecError as exc:
        return [f"{issue.path}: {issue.message}" if issue.path else issue.message for issue in exc.issues]
    return []


def _combination_warnings(setup: SweepSetup, probes: dict[str, list[Any]]) -> list[SpecIssue]:
    """Combinations of the probe values that make an invalid spec (while there are at most MAX_COMBINATIONS)."""
    keys = [key for key, values in probes.items() if len(set(map(repr, values))) > 1]
    if len(keys) < 2 or _product(len(probes[key]) for key in keys) > MAX_COMBINATIONS:
        return []
    failing = []
    for values in itertools.product(*(probes[key] for key in keys)):
        overrides = [format_override(key, value) for key, value in zip(keys, values, strict=True)]
        problems = _problems(setup.spec, overrides)
        if problems:
            failing.append(f"{', '.join(overrides)} gives an invalid spec ({problems[0]})")
    if not failing:
        return []
    shown = "; ".join(failing[:3]) + (f"; and {len(failing) - 3} more" if len(failing) > 3 else "")
    return [setup.issue(("sweep", "space"), Code.INVALID_COMBINATION, f"{len(failing)} combination(s) of the values tried give invalid specs; such trials will be recorded invalid: {shown}", key=True, severity="warning")]


def _product(counts: Any) -> int:
    total = 1
    for count in counts:
        total *= count
    return total


def validate_file(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> list[SpecIssue]:
    """Validate a spec file, or a sweep (a spec with ``sweep:`` or a sweep file), checking a sweep's
    space as :func:`check_sweep` does. Returns the warnings; raises SpecError with every error (and the warnings)."""
    source = read_yaml(path)
    data = source.data
    if is_sweep_file(data) or (isinstance(data, dict) and data.get("sweep") is not None):
        setup = load_sweep(path, overrides)
        check = check_sweep(setup, to_run=False)
        if check.errors:
            raise SpecError([*setup.spec.warnings, *check.errors, *check.warnings])
        return [*setup.spec.warnings, *check.warnings]
    return spec_from_source(source, overrides).warnings  # read once
