"""The run directory's layout: every file name cnnbuild writes there, defined once.

The writer (:class:`cnnbuild.runs.RunDirectory`) and the reader (:class:`cnnbuild.runs.RunRecord`)
use these names; a spec's callback paths are checked against them so no callback can clobber
the run itself.
"""

from __future__ import annotations

import re

#: The run folder format this release writes (run.json's ``format_version``). 1: the first release
#: (8ca31db) and stop 19; 2: stop 20 (8ba0fb9: predictions.csv, fine-tuning phases, a spec.yaml of
#: spec format 2); 3: the first to record its version, traceback.txt, spec.written.yaml, the history's
#: phase as ints (2 wrote floats). Neither 1 nor 2 recorded it.
FORMAT_VERSION = 3
FORMAT_KEY = "format_version"
#: The spec format of spec.yaml in the run folder formats whose spec.yaml did not say (from 3 on, it does).
SPEC_FORMAT_OF = {1: 1, 2: 2}

RUN_INFO = "run.json"  # where the spec came from, its folder, the overrides, when the run started, the format version
SPEC = "spec.yaml"  # the resolved spec, paths absolute
SPEC_WRITTEN = "spec.written.yaml"  # the spec file as its user wrote it, comments included, before --set overrides
CLASS_NAMES = "class_names.json"  # the classes; for multi-label the labels, for regression the targets
TASK = "task.json"  # multi-label and regression runs: thresholds per label, or the targets' standardisation (runs/task_record.py)
SKIPPED = "skipped.json"  # data files left out, each with its reason
SUMMARY = "summary.txt"  # the Keras model summary
ENVIRONMENT = "environment.json"
STATUS = "status.json"  # running | interrupted | failed | completed
MODEL = "model.keras"
HISTORY_JSON = "history.json"
HISTORY_CSV = "history.csv"
METRICS = "metrics.json"
CURVES = "curves.png"
CONFUSION_MATRIX = "confusion_matrix.png"
MISCLASSIFIED = "misclassified.png"
PR_CURVES = "pr_curves.png"  # multi-label: precision-recall per label, the chosen thresholds marked
PREDICTED_VS_TRUE = "predicted_vs_true.png"  # regression: predicted against true values and the residuals, per target
PREDICTIONS = "predictions.csv"  # split, file, true, predicted, confidence, correct: every validation and test example
REPORT = "report.html"
MASK_OVERLAYS = "mask_overlays.png"  # segmentation: the best and worst validation images, true and predicted masks overlaid
EVALUATIONS = "evaluations"  # cnnbuild evaluate's predictions and figures, a folder per data evaluated
CHECKPOINTS = "checkpoints"
EXPORTS = "exports"  # cnnbuild export's default folders, exports/FORMAT[-QUANTIZE]/
CHECKPOINT_STATE = "checkpoints/state.json"
TRACEBACK = "traceback.txt"  # the chained traceback of an unexpected exception that ended the run (a bug)
#: Temporary files start with this; one left behind was cut off by a kill and is never read.
PARTIAL_PREFIX = ".partial-"

ARTIFACTS = (
    RUN_INFO, SPEC, SPEC_WRITTEN, CLASS_NAMES, TASK, SKIPPED, SUMMARY, ENVIRONMENT, STATUS, MODEL, HISTORY_JSON, HISTORY_CSV,
    METRICS, CURVES, CONFUSION_MATRIX, MISCLASSIFIED, PR_CURVES, PREDICTED_VS_TRUE, MASK_OVERLAYS, PREDICTIONS, REPORT, EVALUATIONS, CHECKPOINTS, CHECKPOINT_STATE, EXPORTS, TRACEBACK,
)  # fmt: skip
_FOLDERS = (CHECKPOINTS,)
_RESERVED = re.compile("|".join([*(re.escape(name) for name in ARTIFACTS), r"checkpoints/epoch-.*\.keras", re.escape(PARTIAL_PREFIX) + ".*"]))


def checkpoint(epoch: int) -> str:
    """The model checkpoint written after ``epoch`` (1-based)."""
    return f"{CHECKPOINTS}/epoch-{epoch:04d}.keras"


def early_stopping_weights(monitor: str, epoch: int | None = None) -> str:
    """EarlyStopping's best weights for ``monitor`` after ``epoch`` (1-based), or the name's stem without it."""
    stem = f"{CHECKPOINTS}/early-stopping-{re.sub(r'[^A-Za-z0-9_.-]', '_', monitor)}-epoch-"
    return stem if epoch is None else f"{stem}{epoch:04d}.npz"


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


def is_run_directory(names: set[str]) -> bool:
    """Whether a folder holding entries ``names`` is a cnnbuild run directory."""
    return RUN_INFO in names and (STATUS in names or SPEC in names)
