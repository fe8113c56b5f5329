"""A sweep folder as the sweep writes it: ``sweep.yaml`` (what is searched) and ``base.yaml`` (the
spec every trial starts from), written once and checked again when a sweep continues there.

Continuing with a different metric, direction, sampler, search space or base spec is refused:
its trials would not be comparable with the earlier ones. The budget (``trials``,
``time_budget``), the pruner and the seed may change between runs.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import yaml

from cnnbuild.contracts import sweep_layout as layout
from cnnbuild.contracts.atomic import write_atomically
from cnnbuild.contracts.run_layout import RUN_INFO, SPEC, is_run_directory
from cnnbuild.errors import CnnbuildError
from cnnbuild.runs.sweep_record import SweepRecord
from cnnbuild.spec.document import Spec
from cnnbuild.spec.errors import format_path
from cnnbuild.spec.sweep_checks import SweepSetup
from cnnbuild.spec.sweep_section import Sweep
from cnnbuild.sweep import space as search_space

#: Settings of the sweep section that must stay the same for a sweep to continue.
FIXED = ("metric", "direction", "sampler", "space")


def write_text(path: Path, text: str) -> None:
    write_atomically(path, lambda partial: partial.write_text(text, encoding="utf-8"))


class SweepFolder:
    """The sweep folder at ``path``: read by workers, prepared by :meth:`prepare`."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).resolve()
        self.record = SweepRecord(self.path)
        self.continued = False  # whether prepare found this sweep there already
        self.made = False  # whether prepare created the folder itself
        self.made_parents: list[Path] = []  # the folders above it prepare created too, innermost first

    @property
    def study_name(self) -> str:
        return str(self.record.definition["study"])

    def sweep(self) -> Sweep:
        return Sweep.model_validate(self.record.definition["sweep"])

    def seed(self) -> int | None:
        return self.record.definition.get("seed")

    def base_spec(self) -> Spec:
        """The spec every trial starts from (relative paths in it are already absolute)."""
        return self.record.base_spec()

    def grid_size(self) -> int:
        return search_space.grid_size(self.sweep().space)

    @classmethod
    def prepare(cls, path: Path, setup: SweepSetup, study: str | None, storage: str, trials: int | None) -> SweepFolder:
        """Create the folder (or check that it continues the same sweep) and write its definition.

        ``trials`` (``--trials``) replaces the sweep's own budget. Raises CnnbuildError.
        """
        folder = cls(path)
        sweep = setup.sweep.model_copy(update={"direction": setup.sweep.goal, **({"trials": trials} if trials else {})})
        base = json.loads(json.dumps(setup.spec.canonical(absolute_paths=True)))
        seed = sweep.seed if sweep.seed is not None else setup.spec.seed
        previous = folder.record.definition if SweepRecord.is_sweep(folder.path) else None
        if previous is not None:
            folder._check_continues(previous, sweep, base, study)
            study = study or previous["study"]
        elif foreign := folder.record.foreign_entries():
            raise CnnbuildError(_not_a_sweep_folder(folder.path, foreign))
        definition = {
            "study": study or setup.spec.name,
            "storage": storage,
            "spec_file": str(setup.path.resolve()),
            "overrides": list(setup.overrides),
            "seed": seed,
            "created": previous["created"] if previous else time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "sweep": _dumped(sweep),
        }
        folder.made = not folder.path.exists()
        folder.made_parents = [parent for parent in folder.path.parents if not parent.exists()]
        try:
            (folder.path / layout.TRIALS).mkdir(parents=True, exist_ok=True)
            if previous is None:
                write_text(folder.path / layout.BASE_SPEC, yaml.safe_dump(base, sort_keys=False, allow_unicode=True))
            write_text(folder.path / layout.DEFINITION, yaml.safe_dump(definition, sort_keys=False, allow_unicode=True))
        except OSError as exc:
            raise CnnbuildError(f"cannot write the sweep folder {folder.path}: {exc.strerror or exc}; choose a writable --output folder") from exc
        folder.record = SweepRecord(folder.path)
        folder.continued = previous is not None
        return folder

    def abandon(self) -> None:
        """Remove what :meth:`prepare` wrote into a folder it found empty, when the sweep does not start there after all."""
        if self.continued:
            return
        for name in (layout.DEFINITION, layout.BASE_SPEC):
            (self.path / name).unlink(missing_ok=True)
        made = (self.path / layout.TRIALS, self.path, *self.made_parents) if self.made else (self.path / layout.TRIALS,)
        for folder in made:
            try:
                folder.rmdir()  # only when empty: nothing else is touched
            except OSError:
                return

    def _check_continues(self, previous: dict[str, Any], sweep: Sweep, base: dict[str, Any], study: str | None) -> None:
        again = f"use a new --output folder (this one holds study {previous['study']!r} of {previous.get('spec_file')})"
        if study is not None and study != previous["study"]:
            raise CnnbuildError(f"{self.path}: holds study {previous['study']!r}, not {study!r}; {again}")
        before = Sweep.model_validate(previous["sweep"])
        for key in FIXED:
            if getattr(before, key) != getattr(sweep, key):
                raise CnnbuildError(f"{self.path}: sweep.{key} changed since this sweep started, so new trials would not be comparable with the old; {again}")
        stored = self.record.base_spec_data
        changed = first_difference(stored, base)
        if changed is not None:
            raise CnnbuildError(f"{self.path}: the base spec changed since this sweep started ({changed}), so new trials would not be comparable with the old; {again}")


def _not_a_sweep_folder(path: Path, entries: list[str]) -> str:
    """Why a sweep does not start in ``path``, which holds ``entries`` but no sweep."""
    if path.exists() and not path.is_dir():
        what = "is a file, not a folder"
    elif is_run_directory(set(entries)):
        what = f"is a run directory ({', '.join(name for name in entries if name in (RUN_INFO, SPEC))}), not a sweep folder"
    else:
        shown = ", ".join(entries[:5]) + (f" and {len(entries) - 5} more" if len(entries) > 5 else "")
        what = f"is not empty and holds no sweep ({shown})"
    return f"{path}: {what}; a sweep writes only into an empty folder or its own, so nothing there is overwritten: choose a new --output folder"


def _dumped(sweep: Sweep) -> dict[str, Any]:
    """The sweep section as plain data, each dimension with only the keys it was written with."""
    data = sweep.model_dump(mode="json", by_alias=True, exclude_none=True)
    data["space"] = {key: dimension.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_defaults=True) for key, dimension in sweep.space.items()}
    return data


def first_difference(old: Any, new: Any, path: tuple[Any, ...] = ()) -> str | None:
    """``dotted.path: old -> new`` of the first value that differs, or None."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in list(old) + [k for k in new if k not in old]:
            found = first_difference(old.get(key), new.get(key), path + (key,))
            if found:
                return found
        return None
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for index, (a, b) in enumerate(zip(old, new, strict=True)):
            found = first_difference(a, b, path + (index,))
            if found:
                return found
        return None
    return None if old == new else f"{format_path(path) or 'the spec'}: {json.dumps(old)[:80]} -> {json.dumps(new)[:80]}"
