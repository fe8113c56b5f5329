"""A run directory's path, and the rule that nothing read or written leaves it."""

from __future__ import annotations

from pathlib import Path

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
