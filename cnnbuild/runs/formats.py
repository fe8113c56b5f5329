"""Which run folder format a run directory is in, and whether this release reads it (README: run folder formats)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cnnbuild.contracts import run_layout as layout
from cnnbuild.contracts.release import installed_version
from cnnbuild.errors import RunError


@dataclass(frozen=True)
class RunFormat:
    """A run folder's format: ``version`` (1 to ``layout.FORMAT_VERSION``), and whether ``run.json`` recorded it."""

    version: int
    recorded: bool

    @classmethod
    def of(cls, path: Path, info: dict[str, Any], spec_text: str | None) -> RunFormat:
        """The format of the run at ``path`` from its ``run.json`` (``info``) and ``spec.yaml`` text. Formats 1
        and 2 did not record it; a format-2 spec.yaml has the ``blocks`` section format 1 did not know.
        RunError for a format newer than this release reads, or a value that is not a format."""
        recorded = info.get(layout.FORMAT_KEY)
        if recorded is None:
            return cls(2 if spec_text is not None and re.search(r"^blocks:", spec_text, re.MULTILINE) else 1, False)
        if not isinstance(recorded, int) or isinstance(recorded, bool) or recorded < 1:
            raise RunError(f"{path / layout.RUN_INFO}: {layout.FORMAT_KEY} is {recorded!r}, not a run folder format (1, 2, ...)")
        if recorded > layout.FORMAT_VERSION:
            raise RunError(
                f"{path}: run folder format {recorded}, written by a later cnnbuild; this one ({installed_version()}) reads formats 1 to "
                f"{layout.FORMAT_VERSION}: upgrade cnnbuild (pip install --upgrade cnnbuild) to read it"
            )
        return cls(recorded, True)

    @property
    def spec_format(self) -> int | None:
        """The spec format of the run's spec.yaml where the spec.yaml does not say it (formats 1 and 2), else None."""
        return None if self.recorded else layout.SPEC_FORMAT_OF.get(self.version)
