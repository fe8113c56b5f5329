"""``cnnbuild evaluate`` for multi-label and regression runs: the task's measures (per label at
the run's thresholds, or per target in original units), every prediction in ``predictions.csv``
and the task's figure (precision-recall curves, or predicted against true)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cnnbuild.builder.inference import FinishedRun, call_model
from cnnbuild.builder.reports.evaluation_folder import EvaluationFolder
from cnnbuild.builder.reports.task_figures import draw_pr_curves, draw_predicted_vs_true
from cnnbuild.builder.reports.task_measures import TaskPredictions, format_task_table, predict_split, predictions_csv, task_measures
from cnnbuild.contracts import run_layout as layout
from cnnbuild.errors import DataError
from cnnbuild.runs.directory import RunDirectory


@dataclass
class TaskEvaluation:
    """What ``evaluate`` found on a multi-label or regression run, and where it wrote its files."""

    data: str
    task: str
    measures: dict[str, Any]
    loss: float | None
    written: list[Path]

    def as_dict(self) -> dict[str, Any]:
        return {"data": self.data, "task": self.task, "loss": self.loss, **self.measures, "files": [str(path) for path in self.written]}

    def text(self) -> str:
        lines = [f"{self.measures['examples']} examples from {self.data} ({self.task})"]
        if self.loss is not None:
            lines.append(f"loss {self.loss:.4f}")
        lines += ["", format_task_table(self.measures)]
        return "\n".join(lines + [f"wrote {path}" for path in self.written])


def evaluate_task(finished: FinishedRun, spec: Any, source: Any, data: str | Path | None, out: Path | None) -> TaskEvaluation:
    """Measure ``finished`` on ``source``'s validation split (``data`` None) or on all of it."""
    record = finished.task
    if list(source.class_names) != list(record.names):
        raise DataError(f"the data has the {'labels' if record.task == 'multi_label' else 'targets'} {source.class_names}, the run was trained on {record.names}; give data with the run's own")
    split = "validation" if data is None else "train"
    dataset = source.validation if data is None else source.train
    if dataset is None:
        raise DataError("the run's data has no validation split (validation_split: 0); pass --data FILE")
    files = [path for path, _, where in source.files if where == split] if source.files else None
    predictions = call_model(finished, lambda model: predict_split(model, dataset.batch(spec.data.batch_size), record, split, files))
    from cnnbuild.builder.data.pipelines import build_pipelines

    prepared = build_pipelines(spec, source, augment=False)
    results = call_model(finished, lambda model: model.evaluate(prepared.validation if data is None else prepared.train, verbose=0, return_dict=True))
    name = "validation" if data is None else Path(data).resolve().name
    written = _write(finished, predictions, record, out, f"{layout.EVALUATIONS}/{name}")
    return TaskEvaluation(str(data) if data else "the validation split", record.task, task_measures(predictions, record), float(results["loss"]), written)


def _write(finished: FinishedRun, predictions: TaskPredictions, record: Any, out: Path | None, inside: str) -> list[Path]:
    title = f"{finished.spec.name}: {len(predictions.true)} images"
    figure = (layout.PR_CURVES, draw_pr_curves) if record.task == "multi_label" else (layout.PREDICTED_VS_TRUE, draw_predicted_vs_true)
    files = {
        layout.PREDICTIONS: lambda path: path.write_text(predictions_csv([predictions], record), encoding="utf-8"),
        figure[0]: lambda path: figure[1](predictions, record, path, title=title),
    }
    if out is not None:
        return EvaluationFolder(out).write_files(files)  # replaces only what evaluate wrote there
    return [RunDirectory(finished.record.path).write_bytes_with(f"{inside}/{name}", writer) for name, writer in files.items()]
