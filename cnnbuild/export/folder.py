"""The folder an export goes into: whether export may write there, which files in it are export's
own (those its ``export.json`` lists), and installing a new export while keeping everything else.

Every check here runs before TensorFlow loads, so a wrong ``--out`` is refused in a second.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnnbuild.errors import ExportError
from cnnbuild.export.formats import BY_NAME, BY_SUFFIX, Format
from cnnbuild.export.manifest import folder_files, read_report, write_report
from cnnbuild.export.metadata import EXPORT_JSON


@dataclass
class ExportFolder:
    """An export's target folder and the files in it that an earlier export wrote (``owned``)."""

    path: Path
    owned: set[str] = field(default_factory=set)

    @classmethod
    def check(cls, path: Path, format: Format) -> ExportFolder:
        """The folder ``--out`` names, checked: ExportError when it is a file name, lies under a file,
        holds files but no earlier export, holds a file of this format that export did not write, or cannot be written."""
        if path.suffix.lower() in (*BY_SUFFIX, ".pb"):
            raise ExportError(f"--out {path}: --out names the export folder (it holds the model, its metadata and {EXPORT_JSON}), not the model file; for example --out exports/{path.stem}")
        existing = path
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if not existing.is_dir():
            raise ExportError(f"--out {path}: {existing} is a file, not a folder; choose another --out")
        target = cls(path)
        if existing == path:
            target.owned = _owned(path)
            clashes = sorted(name for name in format.written if not name.endswith("/") and (path / name).exists() and name not in target.owned)
            if clashes:
                raise ExportError(f"{path}: holds {', '.join(clashes)}, which cnnbuild export did not write (its {EXPORT_JSON} does not list it); move it away or choose another --out")
        target._check_writable(existing)
        return target

    def _check_writable(self, existing: Path) -> None:
        folders = {existing, *((self.path / name).parent for name in self.owned)}
        for folder in sorted(folders):
            if folder.is_dir() and not os.access(folder, os.W_OK | os.X_OK):
                raise ExportError(f"--out {self.path}: cannot write in {folder} (permission denied); choose another --out, or make it writable")

    def kept(self) -> list[str]:
        """What the folder holds that export did not write, as relative paths."""
        return [name for name in folder_files(self.path) if name != EXPORT_JSON and name not in self.owned] if self.path.is_dir() else []

    def install(self, staging: Path, document: dict[str, Any]) -> list[str]:
        """Move the export in ``staging`` into the folder: replace the earlier export's files, keep
        every other file, write ``export.json`` last, listing the new files with their hashes. Returns those files."""
        files = folder_files(staging)
        clashes = [name for name in files if (self.path / name).exists() and name not in self.owned]
        if clashes:
            raise ExportError(f"{self.path}: holds {', '.join(clashes)}, which cnnbuild export did not write; move it away or choose another --out")
        self._write(staging, files, document)
        self.owned = set(files)
        return files

    def record_failure(self, document: dict[str, Any]) -> None:
        """The parity check failed: remove the earlier export's files, keep the others, write ``export.json`` alone."""
        with _os_errors(self.path):
            self._remove_owned(keep=set())
            write_report(self.path, document, [])
        self.owned = set()

    def _write(self, staging: Path, files: list[str], document: dict[str, Any]) -> None:
        from cnnbuild.contracts.atomic import write_atomically

        with _os_errors(self.path):
            self._remove_owned(keep=set(files))
            for name in files:
                write_atomically(self.path / name, lambda temporary, source=staging / name: shutil.copyfile(source, temporary), suffix=".tmp")
            write_report(self.path, document, files)

    def _remove_owned(self, keep: set[str]) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        for name in sorted(self.owned - keep, reverse=True):
            item = self.path / name
            if item.is_file() or item.is_symlink():
                item.unlink()
            for parent in list(item.parents)[: len(Path(name).parents) - 1]:  # folders export made, when empty
                if parent.is_dir() and not any(parent.iterdir()):
                    parent.rmdir()


def _owned(path: Path) -> set[str]:
    """The files of ``path`` an earlier export wrote: those its export.json lists (for a 0.x
    export.json, which lists none, the names that release wrote for the recorded format)."""
    report = read_report(path)
    if report is None:
        if any(path.iterdir()):
            raise ExportError(f"{path}: exists and is not an earlier export (no {EXPORT_JSON} in it); choose another --out")
        return set()
    if report.files is not None:
        return set(report.files)
    format = BY_NAME.get(report.format or "")
    written = format.written if format else ()
    return {name for name in folder_files(path) if any(name == item or (item.endswith("/") and name.startswith(item)) for item in written)}


@contextlib.contextmanager
def _os_errors(folder: Path) -> Iterator[None]:
    """OSError while writing the folder as an ExportError naming the file and the cause."""
    try:
        yield
    except OSError as exc:
        where = exc.filename or folder
        raise ExportError(f"--out {folder}: cannot write {where}: {exc.strerror or exc}; choose another --out, or make it writable") from exc
