"""``task.json``: what a multi-label or regression run decided about its outputs, one record with
one writer (:class:`~cnnbuild.runs.RunDirectory`, through :meth:`TaskRecord.as_dict`) and one
reader (:attr:`cnnbuild.runs.RunRecord.task`).

Multi-label runs keep each label's threshold (chosen on the validation split, or the spec's),
regression runs the mean and standard deviation their targets were standardised with, so that
predictions, evaluations, exports and the server turn the model's outputs into labels and values
in the original units the same way. Single-label runs have no ``task.json``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from cnnbuild.errors import RunError

if TYPE_CHECKING:
    from cnnbuild.runs.record import RunRecord

#: This record's own version (it changes only if its shape must).
VERSION = 1


def read_task_record(run: RunRecord) -> TaskRecord | None:
    """``run``'s ``task.json`` (None for a single-label or segmentation run; RunError when a multi-label or regression run lacks it)."""
    from cnnbuild.contracts import run_layout as layout

    data = run.optional_json(layout.TASK)
    if data is None:
        task = run.spec.task_row.name
        if task not in ("single_label", "segmentation"):
            raise RunError(f"{run.path}: {layout.TASK} is missing: a {task} run writes it when it starts; start the run again")
        return None
    return TaskRecord.from_dict(data, str(run.file(layout.TASK)))


@dataclass(frozen=True)
class TaskRecord:
    """A run's task and what turns its model's outputs into answers."""

    task: str  # multi_label | regression
    names: list[str]  # the labels, or the targets
    #: multi-label: whether the model outputs logits (a sigmoid is applied to them)
    from_logits: bool = False
    #: multi-label: per label, the probability from which the label is predicted
    thresholds: list[float] = field(default_factory=list)
    #: multi-label: how the thresholds were chosen ("validation" F1, or "spec")
    threshold_source: str = ""
    #: regression: per target, what the model's outputs are scaled by (identity when not standardised)
    mean: list[float] = field(default_factory=list)
    std: list[float] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"version": VERSION, "task": self.task, "names": list(self.names)}
        if self.task == "multi_label":
            data |= {"from_logits": self.from_logits, "thresholds": list(self.thresholds), "threshold_source": self.threshold_source}
        else:
            data |= {"mean": list(self.mean), "std": list(self.std)}
        return data

    @classmethod
    def from_dict(cls, data: Any, where: str) -> TaskRecord:
        """The record in ``data`` (``task.json``'s content); RunError naming ``where`` when it is not one."""
        try:
            if data.get("version", VERSION) > VERSION:
                raise RunError(f"{where}: written by a later cnnbuild (task record version {data['version']}); upgrade cnnbuild")
            record = cls(
                task=str(data["task"]), names=[str(name) for name in data["names"]], from_logits=bool(data.get("from_logits", False)),
                thresholds=[float(v) for v in data.get("thresholds", [])], threshold_source=str(data.get("threshold_source", "")),
                mean=[float(v) for v in data.get("mean", [])], std=[float(v) for v in data.get("std", [])],
            )  # fmt: skip
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise RunError(f"{where}: not a task record ({type(exc).__name__}: {exc})") from exc
        size = len(record.names)
        if record.task not in ("multi_label", "regression") or (record.thresholds and len(record.thresholds) != size) or (record.mean and len(record.mean) != size):
            raise RunError(f"{where}: the task record does not fit its {size} names")
        return record

    def with_thresholds(self, thresholds: Sequence[float], source: str) -> TaskRecord:
        return replace(self, thresholds=[float(v) for v in thresholds], threshold_source=source)

    # -- turning outputs into answers (plain Python and NumPy, no TensorFlow) ----------------------
    def probabilities(self, outputs: Any) -> Any:
        """Multi-label model outputs as per-label probabilities ``(N, labels)``."""
        import numpy as np

        outputs = np.asarray(outputs, dtype="float64").reshape(len(outputs), -1)
        return 1 / (1 + np.exp(-outputs)) if self.from_logits else outputs

    def present(self, probabilities: Any) -> Any:
        """Which labels are predicted: probability at or above each label's threshold (``(N, labels)`` of bool)."""
        import numpy as np

        return np.asarray(probabilities) >= np.asarray(self.thresholds or [0.5] * len(self.names))[None, :]

    def values(self, outputs: Any) -> Any:
        """Regression model outputs in the targets' original units ``(N, targets)``."""
        import numpy as np

        outputs = np.asarray(outputs, dtype="float64").reshape(len(outputs), -1)
        if not self.mean:
            return outputs
        return outputs * np.asarray(self.std)[None, :] + np.asarray(self.mean)[None, :]
