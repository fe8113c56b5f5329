"""``export.json``, the record an export folder keeps: the parity figures, the metadata, and every
file ``cnnbuild export`` wrote there with its size and sha256. One reader (:func:`read_report`)
and one writer (:func:`write_report`).

The file list says which files are export's own: a later export into the folder replaces those and
keeps everything else, and ``predict`` and ``serve`` check the hashes before they use the model.
An ``export.json`` written before the list existed (cnnbuild 0.x) has ``files`` None.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from cnnbuild.errors import ExportError
from cnnbuild.export.metadata import EXPORT_JSON

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FileFact:
    """What export wrote at one path of the folder."""

    sha256: str
    bytes: int


@dataclass
class ExportReport:
    """An ``export.json``: the raw document, and the parts cnnbuild decides by."""

    path: Path
    document: dict[str, Any]
    #: relative path ("variables/variables.index") -> what export wrote there; None for a 0.x export
    files: dict[str, FileFact] | None

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def passed(self) -> bool:
        return self.document.get("parity", {}).get("passed", True) is not False

    @property
    def problems(self) -> list[str]:
        return list(self.document.get("parity", {}).get("problems") or ["see the file"])

    @property
    def format(self) -> str | None:
        return (self.document.get("metadata") or {}).get("format")


def hash_file(path: Path) -> FileFact:
    """The sha256 and size of the file at ``path``."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
    return FileFact(digest.hexdigest(), size)


def folder_files(folder: Path) -> list[str]:
    """Every file under ``folder``, as sorted relative paths with "/"."""
    return sorted(item.relative_to(folder).as_posix() for item in folder.rglob("*") if item.is_file())


def read_report(folder: Path) -> ExportReport | None:
    """The ``export.json`` in ``folder``; None when there is none; ExportError when it is not one."""
    path = folder / EXPORT_JSON
    if not path.is_file():
        return None
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(document, dict):
            raise ValueError("not a JSON object")
        listed = document.get("files")
        files = None if listed is None else {_inside(folder, name): FileFact(str(fact["sha256"]), int(fact["bytes"])) for name, fact in listed.items()}
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ExportError(f"{path}: cannot be read as cnnbuild's export record ({exc}); export the model again") from exc
    return ExportReport(path, document, files)


def _inside(folder: Path, name: Any) -> str:
    """``name`` when it is a file of ``folder`` as export writes them (a relative path without ``..``
    that stays inside the folder); ValueError otherwise: a later export deletes the files listed."""
    relative = PurePosixPath(str(name))
    if not str(name) or relative.is_absolute() or ".." in relative.parts or "\\" in str(name) or relative.as_posix() != str(name):
        raise ValueError(f"lists {str(name)!r}, which is not a file inside the export folder")
    if not (folder / relative).resolve().is_relative_to(folder.resolve()):
        raise ValueError(f"lists {str(name)!r}, which leads outside the export folder")
    return str(name)


def write_report(folder: Path, document: dict[str, Any], files: list[str]) -> Path:
    """Write ``export.json`` into ``folder``: ``document`` with the size and sha256 of each of ``files`` (relative paths)."""
    from cnnbuild.contracts.atomic import write_atomically

    listed = {name: vars(hash_file(folder / name)) for name in files}
    text = json.dumps({**document, "files": listed}, indent=1)
    return write_atomically(folder / EXPORT_JSON, lambda temporary: temporary.write_text(text, encoding="utf-8"))


def check_files(report: ExportReport, *, allow_modified: bool = False) -> None:
    """Compare the folder's files with what export wrote: ExportError for a missing or changed file
    (a warning instead of the change with ``allow_modified``); a note when the record lists no files."""
    if report.files is None:
        log.warning("note: %s was written by an earlier cnnbuild and records no file hashes, so the model is used unchecked; export again to record them", report.path)
        return
    changed = []
    for name, fact in sorted(report.files.items()):
        path = report.folder / name
        if not path.is_file():
            raise ExportError(f"{report.folder}: {name} is missing (cnnbuild export wrote it; {EXPORT_JSON} lists it); copy the whole export folder again, or export again")
        if path.stat().st_size != fact.bytes or hash_file(path).sha256 != fact.sha256:
            changed.append(name)
    if not changed:
        return
    what = f"{', '.join(changed)} changed after cnnbuild export wrote {'it' if len(changed) == 1 else 'them'} (the sha256 differs from {report.path})"
    if not allow_modified:
        raise ExportError(f"{report.folder}: {what}; export again, or pass --allow-modified to use the files as they are")
    log.warning("warning: %s: %s; used anyway (--allow-modified)", report.folder, what)
