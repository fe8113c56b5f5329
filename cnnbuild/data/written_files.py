"""The record a command keeps of the files it wrote into a folder the user chose (``evaluate --out``,
``predict --masks-out``): a JSON file naming each with its sha256, so that the next time the command
replaces only its own files, unchanged, and refuses before any work where a file is someone else's."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


def sha256_of(path: Path) -> str | None:
    """The file's sha256, or None where there is no readable file."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
    except OSError:
        return None


@dataclass(frozen=True)
class WrittenFiles:
    """The record ``folder/record`` of what ``written_by`` wrote in ``folder``."""

    folder: Path
    record: str
    written_by: str

    def recorded(self) -> dict[str, str] | None:
        """Names and sha256s the record lists ({} without a record); None for a record this command did not write."""
        path = self.folder / self.record
        if not path.exists():
            return {}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        files = data.get("files") if isinstance(data, dict) and data.get("written_by") == self.written_by else None
        return {str(name): digest for name, digest in files.items() if isinstance(digest, str)} if isinstance(files, dict) else None

    def foreign(self, names: Iterable[str]) -> list[str]:
        """Of ``names``, those present but not recorded unchanged (the record's own name when the record is someone else's)."""
        recorded = self.recorded()
        if recorded is None:
            return [self.record]
        return [name for name in names if (self.folder / name).exists() and recorded.get(name) != sha256_of(self.folder / name)]

    def unchanged(self) -> dict[str, str]:
        """What the record lists that is still there as written."""
        return {name: digest for name, digest in (self.recorded() or {}).items() if sha256_of(self.folder / name) == digest}

    def write(self, files: dict[str, str]) -> None:
        """Write the record listing ``files`` (OSError when it cannot be written)."""
        from cnnbuild.contracts.atomic import write_atomically

        record = {"written_by": self.written_by, "files": dict(sorted(files.items()))}
        write_atomically(self.folder / self.record, lambda path: path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8"))
