"""The one reader of sweep folders: :class:`SweepRecord` (what ``cnnbuild sweep`` wrote there)."""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnnbuild.contracts import run_layout
from cnnbuild.contracts import sweep_layout as layout
from cnnbuild.errors import RunError
from cnnbuild.runs.record import RunRecord

if TYPE_CHECKING:
    from cnnbuild.spec.document import Spec


class SweepRecord:
    """A sweep folder: its definition, base spec, leaderboard, best spec, figures and trial runs.

    Every file but the definition may be missing while the first trial runs; each property then
    says so (None, or an empty list) rather than failing. Everything that reads a sweep folder
    (the sweep continuing in it, its leaderboard, report and command) reads it here.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @classmethod
    def open(cls, path: str | Path) -> SweepRecord:
        """The sweep at ``path``; RunError when it is not a sweep folder."""
        record = cls(path)
        if not record.path.is_dir() or not (record.path / layout.DEFINITION).is_file():
            raise RunError(f"{record.path}: {layout.DEFINITION} is missing: not a cnnbuild sweep folder")
        return record

    @staticmethod
    def is_sweep(path: str | Path) -> bool:
        path = Path(path)
        return path.is_dir() and layout.is_sweep_directory({entry.name for entry in path.iterdir()})

    def foreign_entries(self) -> list[str]:
        """The entries of a folder that holds something but no sweep (a run directory, a person's
        own files), which a new sweep must not take over; empty for a missing, empty or sweep folder."""
        try:
            names = sorted(entry.name for entry in self.path.iterdir())
        except FileNotFoundError:
            return []
        except NotADirectoryError:
            return [self.path.name]
        except OSError as exc:
            raise RunError(f"{self.path}: cannot list: {exc.strerror or exc}") from exc
        return [] if layout.is_sweep_directory(set(names)) else names

    def file(self, relative: str) -> Path:
        return self.path / relative

    def _text(self, relative: str) -> str | None:
        try:
            return self.file(relative).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise RunError(f"{self.file(relative)}: cannot read: {exc}") from exc

    @cached_property
    def definition(self) -> dict[str, Any]:
        """``sweep.yaml``: the study's name and storage, the spec it searches and the ``sweep`` section."""
        import yaml

        text = self._text(layout.DEFINITION)
        try:
            data = yaml.safe_load(text or "")
        except yaml.YAMLError as exc:
            raise RunError(f"{self.file(layout.DEFINITION)}: cannot read: {exc}") from exc
        if not isinstance(data, dict) or not isinstance(data.get("sweep"), dict):
            raise RunError(f"{self.file(layout.DEFINITION)}: not a sweep definition (no sweep mapping)")
        return data

    @property
    def has_definition(self) -> bool:
        """Whether ``sweep.yaml`` is there (a sweep was started in this folder)."""
        return self.file(layout.DEFINITION).is_file()

    @property
    def has_trials(self) -> bool:
        """Whether ``trials/`` holds anything."""
        trials = self.file(layout.TRIALS)
        return trials.is_dir() and any(trials.iterdir())

    @property
    def base_spec_text(self) -> str | None:
        return self._text(layout.BASE_SPEC)

    @property
    def base_spec_data(self) -> Any:
        """``base.yaml`` as plain data (what a continuing sweep compares its base spec with)."""
        import yaml

        try:
            return yaml.safe_load(self.base_spec_text or "")
        except yaml.YAMLError as exc:
            raise RunError(f"{self.file(layout.BASE_SPEC)}: cannot read: {exc}") from exc

    def base_spec(self) -> Spec:
        """``base.yaml`` validated: the spec every trial starts from (its paths are already absolute)."""
        from cnnbuild.spec.document import load_spec

        return load_spec(self.file(layout.BASE_SPEC))

    @property
    def leaderboard(self) -> dict[str, Any] | None:
        """``sweep.json``: the sweep's settings, counts, best trial and one row per trial; None before the first trial ends."""
        text = self._text(layout.LEADERBOARD_JSON)
        if text is None:
            return None
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise RunError(f"{self.file(layout.LEADERBOARD_JSON)}: cannot read: {exc}") from exc

    @property
    def best_spec_text(self) -> str | None:
        return self._text(layout.BEST_SPEC)

    @property
    def best_spec_path(self) -> Path:
        """Where ``best.yaml`` is (or will be): the spec to run again."""
        return self.file(layout.BEST_SPEC)

    def leaderboard_files(self) -> list[Path]:
        """``sweep.csv``, ``sweep.json`` and ``best.yaml``, those that exist."""
        return [self.file(name) for name in (layout.LEADERBOARD_CSV, layout.LEADERBOARD_JSON, layout.BEST_SPEC) if self.file(name).exists()]

    @property
    def figures(self) -> dict[str, Path]:
        """The figures that exist, by name (history, importance, parallel, slice)."""
        return {name: self.file(relative) for name, relative in layout.FIGURE_FILES.items() if self.file(relative).is_file()}

    def trial_run(self, number: int) -> RunRecord:
        """The run directory of trial ``number``."""
        return RunRecord.open(self.file(layout.trial_dir(number)))

    def trial_spec_text(self, number: int, run_dir: str | None = None) -> str | None:
        """The resolved ``spec.yaml`` of trial ``number``'s run (in ``run_dir``, relative to the
        folder, when the trial recorded one); None when that run is not here (another machine's)."""
        run = RunRecord(self.file(run_dir or layout.trial_dir(number)))
        return run.spec_text if run.exists(run_layout.SPEC) else None
