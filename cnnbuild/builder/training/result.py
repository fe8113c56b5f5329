"""What a run returns to its caller."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class RunResult:
    """What a finished (or interrupted) run produced: everything ``cnnbuild run`` prints."""

    run_dir: Path
    status: str
    history: dict[str, list[float]] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    class_names: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    #: (index, count) of this process; only process 0 writes ``run_dir``, the others a private folder
    process: tuple[int, int] = (0, 1)
    #: warnings and notes the run logged (also sent to ``logging.getLogger("cnnbuild")``)
    warnings: list[str] = field(default_factory=list)

    @property
    def completed(self) -> bool:
        return self.status == "completed"
