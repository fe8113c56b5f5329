"""The run directory: every artifact written atomically, nothing written outside it."""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cnnbuild.errors import RunError

STATUS_FILE = "status.json"
#: Temporary files start with this; one left behind was cut off by a kill and is never read.
PARTIAL_PREFIX = ".partial-"
#: What cnnbuild itself writes in a run directory; a spec's callback paths may not name them.
ARTIFACTS = (
    "run.json", "spec.yaml", "class_names.json", "skipped.json", "summary.txt", "environment.json", STATUS_FILE,
    "model.keras", "history.json", "history.csv", "metrics.json", "curves.png", "confusion_matrix.png",
    "misclassified.png", "report.html", "checkpoints", "checkpoints/state.json",
)  # fmt: skip
_FOLDERS = ("checkpoints",)
_RESERVED = re.compile("|".join([*(re.escape(name) for name in ARTIFACTS), r"checkpoints/epoch-.*\.keras", re.escape(PARTIAL_PREFIX) + ".*"]))


def reserved_reason(relative: str) -> str | None:
    """Why a relative path a spec names (a callback's file or folder) would clobber the run
    itself, or None. ``{...}`` placeholders (ModelCheckpoint's ``{epoch}``) count as anything."""
    parts = [part for part in re.sub(r"\{[^}]*\}", "X", relative.replace("\\", "/")).split("/") if part not in ("", ".")]
    if not parts:
        return "is the run directory itself (a callback could overwrite or delete the whole run)"
    for length in range(1, len(parts) + 1):
        prefix = "/".join(parts[:length])
        inside_folder = length < len(parts) and prefix in _FOLDERS  # a file of one's own inside checkpoints/ is fine
        if _RESERVED.fullmatch(prefix) and not inside_folder:
            return f"{prefix!r} is cnnbuild's own run file or folder"
    return None


def _default_file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


_FILE_MODE = _default_file_mode()


class RunDirectory:
    """A folder holding one run's artifacts; writes go to a temporary file, then a rename."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @classmethod
    def create(cls, parent: Path, name: str, exact: Path | None = None) -> RunDirectory:
        """A new directory ``parent/name/<timestamp>`` (or exactly ``exact``, which must be empty)."""
        try:
            if exact is not None:
                exact = Path(exact)
                if exact.exists() and any(exact.iterdir()):
                    raise RunError(f"{exact}: output folder is not empty; choose a new folder or use --resume {exact} to continue a run")
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
            raise RunError(f"cannot create the run directory {where}: {exc.strerror or exc}; set output.dir (or --output) to a writable folder") from None
        raise RunError(f"{base}: could not find a free run directory name")

    def file(self, relative: str) -> Path:
        """Path of an artifact, refusing names that would leave the run directory."""
        target = (self.path / relative).resolve()
        root = self.path.resolve()
        if root != target and root not in target.parents:
            raise RunError(f"{relative!r} is outside the run directory {self.path}")
        return target

    def write_bytes_with(self, relative: str, writer: Callable[[Path], None], suffix: str = "") -> Path:
        """Let ``writer`` fill a temporary file, then move it into place in one rename."""
        target = self.file(relative)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(prefix=f"{PARTIAL_PREFIX}{target.name}.", suffix=suffix or target.suffix, dir=target.parent)
            os.close(handle)
            try:
                writer(Path(temporary))
                os.chmod(temporary, _FILE_MODE)  # mkstemp makes owner-only files; artifacts are ordinary files
                with open(temporary, "rb+") as synced:
                    os.fsync(synced.fileno())
                os.replace(temporary, target)
                _sync_directory(target.parent)  # the rename itself survives a power cut
            finally:
                if os.path.exists(temporary):
                    os.unlink(temporary)
        except OSError as exc:
            raise RunError(f"cannot write {target}: {exc.strerror or exc}; free disk space or choose another output folder") from None
        return target

    def remove_partial_files(self) -> list[Path]:
        """Delete temporary files a killed process left behind (they never replaced anything)."""
        removed = []
        for stale in sorted(self.path.rglob(f"{PARTIAL_PREFIX}*")):
            if stale.is_file() and not stale.is_symlink():
                stale.unlink(missing_ok=True)
                removed.append(stale)
        return removed

    def write_text(self, relative: str, text: str) -> Path:
        return self.write_bytes_with(relative, lambda path: path.write_text(text, encoding="utf-8"))

    def write_json(self, relative: str, data: Any) -> Path:
        return self.write_text(relative, json.dumps(data, indent=2, default=str) + "\n")

    def read_json(self, relative: str) -> Any:
        try:
            return json.loads(self.file(relative).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise RunError(f"{self.path}: {relative} is missing; is this a cnnbuild run directory?") from None
        except (OSError, json.JSONDecodeError) as exc:
            raise RunError(f"{self.file(relative)}: cannot read: {exc}") from None

    def set_status(self, state: str, **details: Any) -> None:
        self.write_json(STATUS_FILE, {"state": state, "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **details})


def _sync_directory(folder: Path) -> None:
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # some file systems (and Windows) cannot open folders; the rename is still atomic
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
