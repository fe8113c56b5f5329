"""A run directory's path, the rule that nothing read or written leaves it, and reading its files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cnnbuild.errors import RunError


class RunFolder:
    """The folder of one run."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def file(self, relative: str) -> Path:
        """The path of a file in the run, refusing names that would leave it."""
        target = (self.path / relative).resolve()
        root = self.path.resolve()
        if root != target and root not in target.parents:
            raise RunError(f"{relative!r} is outside the run directory {self.path}")
        return target

    def exists(self, relative: str) -> bool:
        return self.file(relative).exists()


class RunFiles(RunFolder):
    """Reading a run's files: a file that is missing or cannot be read is a RunError naming it."""

    def read_json(self, relative: str) -> Any:
        """The JSON file ``relative``; RunError when it is missing or not JSON."""
        try:
            return json.loads(self.file(relative).read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise RunError(f"{self.path}: {relative} is missing; is this a cnnbuild run directory?") from exc
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RunError(f"{self.file(relative)}: cannot read: {exc}") from exc

    def read_text(self, relative: str) -> str:
        """The text file ``relative`` (undecodable bytes replaced); RunError when it is missing."""
        try:
            return self.file(relative).read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError as exc:
            raise RunError(f"{self.path}: {relative} is missing; is this a cnnbuild run directory?") from exc
        except OSError as exc:
            raise RunError(f"{self.file(relative)}: cannot read: {exc.strerror or exc}") from exc

    def optional_json(self, relative: str) -> Any:
        """The JSON file ``relative``, or None when it does not exist."""
        return self.read_json(relative) if self.exists(relative) else None
