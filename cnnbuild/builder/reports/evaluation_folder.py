"""The folder ``cnnbuild evaluate --out`` writes to: its files, and the record of which ones it wrote.

``evaluation.json`` lists each file evaluate wrote with its sha256. Evaluating into the folder again
replaces those files; a file of the same name that evaluate did not write (the user's own
``predictions.csv``, a run's own figures) is never replaced: the command refuses, before any work.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cnnbuild.contracts import run_layout as layout
from cnnbuild.contracts.atomic import write_atomically
from cnnbuild.data.written_files import WrittenFiles, sha256_of
from cnnbuild.errors import RunError

if TYPE_CHECKING:
    from cnnbuild.builder.reports.evaluation import ValidationReport

#: the record of what evaluate wrote into an --out folder
RECORD = "evaluation.json"
#: every file evaluate may write there (a classification run's, and the other tasks' figures)
FILES = (layout.PREDICTIONS, layout.CONFUSION_MATRIX, layout.MISCLASSIFIED, layout.PR_CURVES, layout.PREDICTED_VS_TRUE, layout.MASK_OVERLAYS)


@dataclass(frozen=True)
class EvaluationFolder:
    """An ``--out`` folder for evaluate's files."""

    path: Path

    @property
    def record(self) -> WrittenFiles:
        return WrittenFiles(self.path, RECORD, "cnnbuild evaluate")

    def check(self) -> None:
        """RunError, before anything is computed, when writing here would replace a file evaluate did not write."""
        if self.path.exists() and not self.path.is_dir():
            raise RunError(f"--out {self.path}: a file, not a folder; choose a folder for predictions.csv, confusion_matrix.png and misclassified.png")
        foreign = self.record.foreign(FILES)
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
            earlier = {name: digest for name, digest in self.record.unchanged().items() if name in FILES}
            self.record.write(earlier | {path.name: sha256_of(path) or "" for path in written})
        except OSError as exc:
            raise RunError(f"cannot write to {self.path}: {exc.strerror or exc}; choose another --out folder") from exc
        return written
