"""The folder ``cnnbuild evaluate --out`` writes to: its files, and the record of which ones it wrote.

``evaluation.json`` lists each file evaluate wrote with its sha256. Evaluating into the folder again
replaces those files; a file of the same name that evaluate did not write (the user's own
``predictions.csv``, a run's own figures) is never replaced: the command refuses, before any work.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cnnbuild.contracts import run_layout as layout
from cnnbuild.contracts.atomic import write_atomically
from cnnbuild.errors import RunError

if TYPE_CHECKING:
    from cnnbuild.builder.reports.evaluation import ValidationReport

#: the record of what evaluate wrote into an --out folder
RECORD = "evaluation.json"
#: every file evaluate may write there (a classification run's, and the other tasks' figures)
FILES = (layout.PREDICTIONS, layout.CONFUSION_MATRIX, layout.MISCLASSIFIED, layout.PR_CURVES, layout.PREDICTED_VS_TRUE, layout.MASK_OVERLAYS)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class EvaluationFolder:
    """An ``--out`` folder for evaluate's files."""

    path: Path

    def _recorded(self) -> dict[str, str] | None:
        """What evaluate's record says it wrote here ({} with no record); None for a file of that name evaluate did not write."""
        record = self.path / RECORD
        if not record.exists():
            return {}
        try:
            data = json.loads(record.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        files = data.get("files") if isinstance(data, dict) and data.get("written_by") == "cnnbuild evaluate" else None
        return {name: digest for name, digest in files.items() if name in FILES and isinstance(digest, str)} if isinstance(files, dict) else None

    def check(self) -> None:
        """RunError, before anything is computed, when writing here would replace a file evaluate did not write."""
        if self.path.exists() and not self.path.is_dir():
            raise RunError(f"--out {self.path}: a file, not a folder; choose a folder for predictions.csv, confusion_matrix.png and misclassified.png")
        recorded = self._recorded()
        if recorded is None:
            foreign = [RECORD]
        else:
            foreign = [name for name in FILES if (self.path / name).exists() and recorded.get(name) != _digest_or_none(self.path / name)]
        if foreign:
            raise RunError(
                f"--out {self.path}: {', '.join(foreign)} already there and not written by cnnbuild evaluate (or changed since); "
                "nothing was replaced: choose another --out folder, or move those files away"
            )

    def write(self, report: ValidationReport, split: str) -> list[Path]:
        """Write the three files, then the record naming them; RunError when the folder cannot be written."""
        from cnnbuild.builder.reports import figures
        from cnnbuild.builder.reports.evaluation import predictions_csv
        from cnnbuild.builder.reports.visuals import misclassified_grid

        writers = {
            layout.PREDICTIONS: lambda path: path.write_text(predictions_csv({split: report}), encoding="utf-8"),
            layout.CONFUSION_MATRIX: lambda path: figures.draw_confusion_matrix(report.confusion, report.class_names, path, title=f"Confusion matrix ({report.examples} images, accuracy {report.accuracy:.1%})"),
            layout.MISCLASSIFIED: lambda path: misclassified_grid(report, path),
        }
        return self.write_files(writers)

    def write_files(self, writers: dict[str, Callable[[Path], object]]) -> list[Path]:
        """Let each writer fill its file (names from :data:`FILES`), then write the record naming them all."""
        self.check()
        try:
            written = [write_atomically(self.path / name, writer) for name, writer in writers.items()]
            earlier = {name: digest for name, digest in (self._recorded() or {}).items() if _digest_or_none(self.path / name) == digest}  # still there, unchanged
            record = {"written_by": "cnnbuild evaluate", "files": earlier | {path.name: _sha256(path) for path in written}}
            write_atomically(self.path / RECORD, lambda path: path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8"))
        except OSError as exc:
            raise RunError(f"cannot write to {self.path}: {exc.strerror or exc}; choose another --out folder") from exc
        return written


def _digest_or_none(path: Path) -> str | None:
    try:
        return _sha256(path) if path.is_file() else None
    except OSError:
        return None
