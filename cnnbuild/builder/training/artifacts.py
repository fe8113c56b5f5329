"""What a finished run leaves behind: the model, its history, its metrics and figures, its status."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

from cnnbuild.builder.training.history import history_csv, summarize_history
from cnnbuild.contracts import run_layout as layout
from cnnbuild.runs.checkpoint_state import PHASE_KEY, Phase

if TYPE_CHECKING:
    from cnnbuild.builder.data.pipelines import PreparedData
    from cnnbuild.builder.training.callbacks import EpochClock, FinalWeights
    from cnnbuild.contracts.data import Datasets
    from cnnbuild.runs.directory import RunDirectory


def run_metrics(history: dict[str, list[float]], epochs: int, wall: float, clock: EpochClock, source: Datasets, precision: str) -> dict[str, Any]:
    """``metrics.json`` before evaluation: final and best values, epochs, time and speed, the data's size."""
    epochs_run = len(next(iter(history.values()), []))
    return {
        **summarize_history(history),
        "epochs_run": epochs_run,
        "epochs": epochs,
        "stopped_early": epochs_run < epochs,
        "wall_seconds": round(wall, 3),
        "train_images_per_second": clock.images_per_second(),
        "first_batch_seconds": clock.first_batch_seconds,
        "first_batch_at": clock.first_batch_at,
        "epoch_train_seconds": [round(seconds, 4) for seconds in clock.train_seconds],
        "epoch_train_cpu_seconds": [round(seconds, 4) for seconds in clock.train_cpu_seconds],
        "train_examples": source.train_count,
        "validation_examples": source.validation_count,
        "skipped_files": len(source.skipped),
        "precision": precision,
        **_phases(history),
    }


def _phases(history: dict[str, list[float]]) -> dict[str, Any]:
    """``phases``: the epochs (1-based, inclusive) of each phase of a run with ``train.fine_tune``."""
    phases = [Phase.read(value) for value in history.get(PHASE_KEY) or []]
    if not phases:
        return {}
    changes = [index for index in range(1, len(phases)) if phases[index] != phases[index - 1]]
    bounds = [0, *changes, len(phases)]
    return {"phases": [{"name": phases[start].label, "first_epoch": start + 1, "last_epoch": end} for start, end in itertools.pairwise(bounds)]}


def write_artifacts(
    run: RunDirectory,
    model: Any,
    prepared: PreparedData,
    reports: tuple[Any, Any],
    history: dict[str, list[float]],
    metrics: dict[str, Any],
    spec: Any,
    final_weights: FinalWeights,
) -> dict[str, Any]:
    """Evaluate on the test split, save the model and history, draw the figures, write
    ``metrics.json`` and mark the run completed. ``reports`` is the model and data the figures
    and per-class table are made from; ``final_weights`` spares evaluating the final model on the
    validation split again when training's last validation pass measured these weights, and saving
    it again when the last epoch checkpoint holds them (the model file is a copy of that file).
    Returns the metrics as written."""
    from cnnbuild.builder.reports.drawing import FigureWriter
    from cnnbuild.builder.reports.visuals import evaluate_split, record_run_visuals

    if prepared.test is not None:
        metrics["test"] = evaluate_split(model, prepared.test)
    write_history(run, history)
    with FigureWriter(run) as drawings:  # the figures are drawn while the predictions run and the model is saved
        try:
            metrics.update(record_run_visuals(run, *reports, history, spec, drawings, evaluate=final_weights.metrics_of))
        finally:
            save_model(run, model, final_weights.checkpoint_of(model))  # the trained model is kept whatever the report did
    run.write_json(layout.METRICS, metrics)
    run.set_status("completed", completed_epochs=metrics["epochs_run"], epochs=metrics["epochs"])
    return metrics


def save_model(run: RunDirectory, model: Any, checkpoint: str | None) -> None:
    """``model.keras``: a copy of the epoch ``checkpoint`` that holds exactly these weights, or ``model.save``."""
    import shutil

    if checkpoint is not None and run.file(checkpoint).is_file():
        run.write_bytes_with(layout.MODEL, lambda path: shutil.copyfile(run.file(checkpoint), path))
    else:
        run.write_bytes_with(layout.MODEL, lambda path: model.save(path))


def write_history(run: RunDirectory, history: dict[str, list[float]]) -> None:
    """``history.json`` and ``history.csv``: every complete epoch so far."""
    run.write_json(layout.HISTORY_JSON, history)
    run.write_text(layout.HISTORY_CSV, history_csv(history))
