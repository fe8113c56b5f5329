"""The run directory's one writer: every artifact written atomically, nothing written outside it."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cnnbuild.contracts import run_layout as layout
from cnnbuild.contracts.atomic import write_atomically
from cnnbuild.errors import RunError
from cnnbuild.runs.checkpoint_state import CheckpointState
from cnnbuild.runs.folder import RunFolder
from cnnbuild.runs.record import RunRecord

log = logging.getLogger(__name__)


class RunDirectory(RunFolder):
    """A folder holding one run's artifacts; writes go to a temporary file, then a rename."""

    @classmethod
    def create(cls, parent: Path, name: str, exact: Path | None = None) -> RunDirectory:
        """A new directory ``parent/name/<timestamp>`` (or exactly ``exact``, which must be empty)."""
        try:
            if exact is not None:
                exact = Path(exact)
                if exact.exists() and any(exact.iterdir()):
                    _clear_failed_run(exact)
                exact.mkdir(parents=True, exist_ok=True)
                return cls(exact)
            base = (Path(parent) / name).resolve()
            if base.parent != Path(parent).resolve():
                raise RunError(f"run name {name!r} would write outside {parent}")
            stamp = time.strftime("%Y%m%d-%H%M%S")
            for attempt in range(1000):
                candidate = base / (stamp if attempt == 0 else f"{stamp}-{attempt + 1}")
                try:
                    candidate.mkdir(parents=True)
                    return cls(candidate)
                except FileExistsError:
                    continue
        except OSError as exc:
            where = f"{exact}" if exact is not None else f"under {parent}"
            raise RunError(f"cannot create the run directory {where}: {exc.strerror or exc}; set output.dir (or --output) to a writable folder") from exc
        raise RunError(f"{base}: could not find a free run directory name")

    @property
    def record(self) -> RunRecord:
        """This run, to read back what has been written so far."""
        return RunRecord(self.path)

    def write_bytes_with(self, relative: str, writer: Callable[[Path], object], suffix: str = "") -> Path:
        """Let ``writer`` fill a temporary file, then move it into place in one rename."""
        target = self.file(relative)
        try:
            return write_atomically(target, writer, suffix)
        except OSError as exc:
            raise RunError(f"cannot write {target}: {exc.strerror or exc}; free disk space or choose another output folder") from exc

    def remove_partial_files(self) -> list[Path]:
        """Delete temporary files a killed process left behind (they never replaced anything)."""
        removed = []
        for stale in sorted(self.path.rglob(f"{layout.PARTIAL_PREFIX}*")):
            if stale.is_file() and not stale.is_symlink():
                stale.unlink(missing_ok=True)
                removed.append(stale)
        return removed

    def write_text(self, relative: str, text: str) -> Path:
        return self.write_bytes_with(relative, lambda path: path.write_text(text, encoding="utf-8"))

    def write_json(self, relative: str, data: Any) -> Path:
        return self.write_text(relative, json.dumps(data, indent=2, default=str) + "\n")

    def set_status(self, state: str, **details: Any) -> None:
        self.write_json(layout.STATUS, {"state": state, "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **details})

    def save_resume_state(self, state: CheckpointState) -> Path:
        """Replace ``checkpoints/state.json`` (read back with ``record.resume_state``)."""
        return self.write_json(layout.CHECKPOINT_STATE, state.to_json())


def _clear_failed_run(folder: Path) -> None:
    """Empty ``folder`` when it holds a run that failed (or died) before completing an epoch, so
    the same ``--output`` can be used again; any other non-empty folder is refused."""
    import shutil

    record = RunRecord(folder)
    failed = record.state == "failed" or record.stale
    if not failed or record.resume_state.saved:
        hint = f"continue it with --resume {folder}" if record.exists(layout.RUN_INFO) else "choose a new folder"
        raise RunError(f"{folder}: output folder is not empty; {hint}, or choose a new folder")
    log.info("note: %s held a run that failed before completing an epoch; starting again there", folder)
    for entry in folder.iterdir():
        shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
