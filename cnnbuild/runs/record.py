"""The one reader of run directories: :class:`RunRecord` (``cnnbuild.load_run(path)``)."""

from __future__ import annotations

import re
import warnings
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnnbuild.contracts import run_layout as layout
from cnnbuild.errors import RunError
from cnnbuild.runs.checkpoint_state import CheckpointState, History, read_history
from cnnbuild.runs.folder import RunFiles
from cnnbuild.runs.formats import RunFormat

if TYPE_CHECKING:
    from cnnbuild.spec.document import Spec
    from cnnbuild.spec.labels import Labels


class RunRecord(RunFiles):
    """A run directory as cnnbuild wrote it: what it was asked to do, how far it got, what it made.

    Every reader of runs (resume, evaluate, predict, compare, report) goes through this class, so
    the layout is read in one place. Values are read when first asked for; a file that a run in
    its state should have but does not is a :class:`RunError` naming it.
    """

    @classmethod
    def open(cls, path: str | Path) -> RunRecord:
        """The run at ``path``; RunError when it is not a folder or not a cnnbuild run directory."""
        record = cls(path)
        if not record.path.is_dir():
            raise RunError(f"{record.path}: no such run directory")
        if not record.exists(layout.RUN_INFO) and not record.exists(layout.SPEC):
            raise RunError(f"{record.path}: {layout.SPEC} is missing (and {layout.RUN_INFO}): not a cnnbuild run directory")
        record.format  # noqa: B018  (a run folder of a later release is refused here, by name, not misread later)
        return record

    # -- what the run was asked to do ------------------------------------------------------------
    @cached_property
    def info(self) -> dict[str, Any]:
        """``run.json``: the spec file it came from, its folder, the overrides, when it was created."""
        return self.optional_json(layout.RUN_INFO) or {}

    @cached_property
    def format(self) -> RunFormat:
        """The run folder's format (RunError for one newer than this release reads)."""
        return RunFormat.of(self.path, self.info, self.spec_text if self.exists(layout.SPEC) else None)

    @cached_property
    def spec_text(self) -> str:
        return self.read_text(layout.SPEC)

    @cached_property
    def spec(self) -> Spec:
        """The run's resolved spec, validated again (relative paths resolve against the original spec's
        folder). The class count comes from the run, so its data need not be there any more."""
        from cnnbuild.spec.document import spec_from_text

        base_dir = self.info.get("base_dir")
        classes = len(self.class_names) if self.exists(layout.CLASS_NAMES) else None
        return spec_from_text(
            self.spec_text, str(self.file(layout.SPEC)), base_dir=Path(base_dir) if base_dir else self.path, num_classes=classes,
            assumed_format=self.format.spec_format,
        )  # fmt: skip

    @property
    def name(self) -> str:
        """The spec's name, read from the text (no validation), or the folder's name."""
        import yaml

        try:
            data = yaml.safe_load(self.spec_text)
            return str(data.get("name")) if isinstance(data, dict) and data.get("name") else self.path.name
        except (RunError, yaml.YAMLError):
            return self.path.name

    # -- what it found and how far it got -----------------------------------------------------------
    @cached_property
    def class_names(self) -> list[str]:
        return [str(name) for name in self.read_json(layout.CLASS_NAMES)]

    @property
    def labels(self) -> Labels:
        """How the run's model encodes labels and whether it outputs logits."""
        from cnnbuild.spec.labels import label_encoding

        return label_encoding(self.spec, len(self.class_names))

    @property
    def status(self) -> dict[str, Any]:
        """``status.json`` (``state``: running, interrupted, failed or completed; ``error`` when failed), or {}."""
        return self.optional_json(layout.STATUS) or {}

    @property
    def state(self) -> str:
        return str(self.status.get("state", "unknown"))

    @property
    def completed(self) -> bool:
        return self.state == "completed"

    @property
    def stale(self) -> bool:
        """Whether the run says ``running`` but its process, on this machine, is gone (killed without a word)."""
        return process_gone(self.status)

    @property
    def skipped(self) -> list[dict[str, str]]:
        return self.optional_json(layout.SKIPPED) or []

    @property
    def environment(self) -> dict[str, Any] | None:
        return self.optional_json(layout.ENVIRONMENT)

    @property
    def resume_state(self) -> CheckpointState:
        """``checkpoints/state.json``: what ``--resume`` continues from (completed epochs, the
        checkpoint file, the history so far); the empty state (``saved`` False) when there is none."""
        data = self.optional_json(layout.CHECKPOINT_STATE)
        return CheckpointState() if data is None else CheckpointState.from_json(data, str(self.file(layout.CHECKPOINT_STATE)))

    @property
    def checkpoint_state(self) -> dict[str, Any] | None:
        """Deprecated: ``state.json`` as a dict, or None; use :attr:`resume_state`."""
        warnings.warn("RunRecord.checkpoint_state is deprecated and is removed in cnnbuild 0.3; use RunRecord.resume_state (a CheckpointState)", DeprecationWarning, stacklevel=2)
        return self.resume_state.to_json() if self.exists(layout.CHECKPOINT_STATE) else None

    # -- what it produced ----------------------------------------------------------------------------
    @property
    def metrics(self) -> dict[str, Any] | None:
        """``metrics.json`` of a finished run, else None."""
        return self.optional_json(layout.METRICS)

    def finished_metrics(self, purpose: str) -> dict[str, Any]:
        """``metrics.json``, or a RunError saying the run has not finished (``purpose``: what needed it)."""
        metrics = self.metrics
        if metrics is None:
            raise RunError(f"{self.path}: {layout.METRICS} is missing (run state: {self.state}); {purpose} needs a finished run; finish this one with cnnbuild run --resume {self.path}")
        return metrics

    @property
    def history(self) -> History:
        """Every metric per epoch: ``history.json`` of a finished run, else the last checkpoint's
        (the ``phase`` column as ints, also where an earlier release wrote 1.0 and 2.0)."""
        history = self.optional_json(layout.HISTORY_JSON)
        if history is None:
            return self.resume_state.history
        return read_history(history, str(self.file(layout.HISTORY_JSON)))

    @property
    def model_path(self) -> Path:
        """``model.keras``; RunError when the run did not finish."""
        path = self.file(layout.MODEL)
        if not path.exists():
            raise RunError(f"{self.path}: {layout.MODEL} is missing; the run did not finish (state: {self.state}); resume it with cnnbuild run --resume {self.path}")
        return path

    @property
    def summary_text(self) -> str | None:
        return self.read_text(layout.SUMMARY) if self.exists(layout.SUMMARY) else None

    @property
    def total_params(self) -> int | None:
        """The model's parameter count: from ``metrics.json``, else the summary's 'Total params' line."""
        params = (self.metrics or {}).get("total_params")
        return params if params is not None else summary_params(self.summary_text or "")


def load_run(path: str | Path) -> RunRecord:
    """Read the run directory at ``path`` (any state); see :class:`RunRecord`."""
    return RunRecord.open(path)


def process_gone(status: dict[str, Any]) -> bool:
    """Whether a ``running`` status names a process of this machine that no longer exists."""
    import os
    import socket

    if status.get("state") != "running" or status.get("host") != socket.gethostname() or not status.get("pid"):
        return False
    try:
        os.kill(int(status["pid"]), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def summary_params(text: str) -> int | None:
    """The total parameter count in a Keras summary ('Total params: 12,345 (48.22 KB)')."""
    match = re.search(r"Total params:\s*([\d,]+)", text)
    return int(match.group(1).replace(",", "")) if match else None

