"""Run directories: the writer (:class:`RunDirectory`) and the one reader (:class:`RunRecord`).

The file names are defined once, in :mod:`cnnbuild.contracts.run_layout`.
"""

from __future__ import annotations

from cnnbuild.contracts import run_layout as layout
from cnnbuild.runs.checkpoint_state import CheckpointState, Phase
from cnnbuild.runs.directory import RunDirectory
from cnnbuild.runs.record import RunRecord, load_run

__all__ = ["CheckpointState", "Phase", "RunDirectory", "RunRecord", "layout", "load_run"]
