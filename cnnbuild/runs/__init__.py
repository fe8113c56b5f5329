"""Run directories: the writer (:class:`RunDirectory`) and the one reader (:class:`RunRecord`).

The file names are defined once, in :mod:`cnnbuild.contracts.run_layout`.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

from cnnbuild.contracts import run_layout as layout

if TYPE_CHECKING:  # imported when first used (__getattr__ below): commands that read no run (validate) skip them
    from cnnbuild.runs.checkpoint_state import CheckpointState, Phase
    from cnnbuild.runs.directory import RunDirectory
    from cnnbuild.runs.record import RunRecord, load_run

__all__ = ["CheckpointState", "Phase", "RunDirectory", "RunRecord", "layout", "load_run"]

_MODULES = {
    "CheckpointState": "cnnbuild.runs.checkpoint_state", "Phase": "cnnbuild.runs.checkpoint_state", "RunDirectory": "cnnbuild.runs.directory",
    "RunRecord": "cnnbuild.runs.record", "load_run": "cnnbuild.runs.record",
}  # fmt: skip


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is not None:
        return getattr(importlib.import_module(module), name)
    if importlib.util.find_spec(f"{__name__}.{name}") is not None:  # a submodule, as `cnnbuild.runs.record` was before it loaded lazily
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_MODULES})
