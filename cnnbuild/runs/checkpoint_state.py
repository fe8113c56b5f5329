"""``checkpoints/state.json``, what ``--resume`` continues from, as one typed record
(:class:`CheckpointState`), and the history's ``phase`` column as a type (:class:`Phase`).

:meth:`CheckpointState.from_json` is the one reader and :meth:`CheckpointState.to_json` the one
writer of the file's content (``RunRecord.resume_state`` and ``RunDirectory.save_resume_state``
call them). Its format is the first release's, so a run interrupted by an earlier release
resumes here and the other way round::

    {"completed_epochs": 3, "checkpoint": "checkpoints/epoch-0003.keras",
     "files": ["checkpoints/epoch-0002.keras", "checkpoints/epoch-0003.keras"],
     "history": {"loss": [...], "phase": [1, 1, 2]}, "fine_tune_from": 2}

Earlier releases wrote the phase as 1.0 and 2.0; they are read as the same phases. Keys another
release added are kept when this one writes the file again.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import IntEnum
from typing import Any

from cnnbuild.errors import RunError

#: Every metric per epoch, by name, as ``history.json`` and ``state.json`` hold it.
History = dict[str, list[float]]
#: The history key that numbers each epoch's phase in runs with ``train.fine_tune``.
PHASE_KEY = "phase"


class Phase(IntEnum):
    """The phase an epoch belongs to in a run with ``train.fine_tune``, as the history numbers it."""

    FROZEN = 1  # the pretrained backbones frozen
    FINE_TUNE = 2  # after train.epochs: some of their layers unfrozen

    @property
    def label(self) -> str:
        """The phase's name in ``metrics.json``'s ``phases``: ``frozen`` or ``fine_tune``."""
        return self.name.lower()

    @classmethod
    def read(cls, value: Any) -> Phase:
        """The phase a history value stands for (``2`` and the first release's ``2.0`` alike); ValueError for anything else."""
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not float(value).is_integer():
            raise ValueError(f"{value!r} is not a phase ({', '.join(str(int(phase)) for phase in cls)})")
        return cls(int(value))


def read_history(data: Any, where: str) -> History:
    """A history as read from a file: a mapping of names to numbers per epoch, its ``phase``
    column as plain ints; RunError naming ``where`` when it is not one."""
    if not isinstance(data, dict) or not all(isinstance(values, list) for values in data.values()):
        raise RunError(f"{where}: the history is not a mapping of metric names to lists of numbers")
    history: History = {}
    for key, values in data.items():
        try:
            history[str(key)] = [int(Phase.read(value)) for value in values] if key == PHASE_KEY else [_number(value) for value in values]
        except ValueError as exc:
            raise RunError(f"{where}: history {key!r}: {exc}") from exc
    return history


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{value!r} is not a number")
    return float(value)


@dataclass(frozen=True)
class CheckpointState:
    """How far a run got: the epochs completed, the checkpoint to continue from, the checkpoint
    files kept, the history so far and, in runs with ``train.fine_tune``, the epoch fine-tuning
    began at. A run without a state file has the empty state (``saved`` is False)."""

    completed_epochs: int = 0
    checkpoint: str | None = None  # the last complete epoch's model, relative to the run directory
    files: tuple[str, ...] = ()  # the epoch checkpoints kept, oldest first; any other one is stale
    history: History = field(default_factory=dict)
    fine_tune_from: int | None = None  # epochs completed when fine-tuning began (0-based first fine-tuning epoch)
    unknown: dict[str, Any] = field(default_factory=dict)  # keys of another release, written back unchanged

    @property
    def saved(self) -> bool:
        """Whether an epoch is saved to continue from."""
        return self.checkpoint is not None

    def after_epoch(self, epochs: int, checkpoint: str, history: History, keep: int) -> CheckpointState:
        """The state once ``epochs`` epochs are complete and saved in ``checkpoint``; the ``keep`` newest files are listed."""
        files = tuple(dict.fromkeys([*self.files, checkpoint]))[-keep:]
        return replace(self, completed_epochs=epochs, checkpoint=checkpoint, files=files, history={key: list(values) for key, values in history.items()})

    def fine_tuning_from(self, start: int) -> CheckpointState:
        """The state once the frozen phase has ended after ``start`` epochs."""
        return replace(self, fine_tune_from=start)

    @classmethod
    def from_json(cls, data: Any, where: str) -> CheckpointState:
        """The state ``state.json`` holds (any release's); RunError naming ``where`` when it is not one."""
        if not isinstance(data, dict):
            raise RunError(f"{where}: not a checkpoint state (a JSON object)")
        known = {"completed_epochs", "checkpoint", "files", "history", "fine_tune_from"}
        completed = data.get("completed_epochs", 0)
        checkpoint = data.get("checkpoint")
        files = data.get("files", [])
        start = data.get("fine_tune_from")
        if not _whole(completed) or not (checkpoint is None or isinstance(checkpoint, str)) or not _whole(start, optional=True):
            raise RunError(f"{where}: completed_epochs, checkpoint or fine_tune_from has the wrong type; the run cannot be resumed from it")
        if not isinstance(files, list) or not all(isinstance(name, str) for name in files):
            raise RunError(f"{where}: files is not a list of file names; the run cannot be resumed from it")
        history = read_history(data.get("history", {}), where)
        return cls(int(completed), checkpoint, tuple(files), history, None if start is None else int(start), {k: v for k, v in data.items() if k not in known})

    def to_json(self) -> dict[str, Any]:
        """The content of ``state.json``."""
        data: dict[str, Any] = {**self.unknown, "completed_epochs": self.completed_epochs}
        if self.checkpoint is not None:
            data["checkpoint"] = self.checkpoint
        data.update(files=list(self.files), history=self.history)
        if self.fine_tune_from is not None:
            data["fine_tune_from"] = self.fine_tune_from
        return data


def _whole(value: Any, *, optional: bool = False) -> bool:
    if value is None:
        return optional
    return not isinstance(value, bool) and isinstance(value, (int, float)) and float(value).is_integer() and value >= 0
