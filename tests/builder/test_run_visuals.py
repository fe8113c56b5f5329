"""Every finished run gets curves, a confusion matrix, misclassified images and a per-class table."""

from __future__ import annotations

import json

from cnnbuild.builder.training import run
from cnnbuild.cli import format_run_summary

from ..conftest import SMALL_MODEL, make_images
from ..image_checks import assert_png

CLASSES = {"circles": 10, "squares": 10, "stripes": 10}


def spec_text(folder, validation_split: float = 0.3, epochs: int = 2) -> str:
    model = SMALL_MODEL.strip()
    return f"""
name: tiny
seed: 5
data: {{type: image_directory, path: {folder}, image_size: [16, 16], batch_size: 8, validation_split: {validation_split}}}
{model}
train: {{epochs: {epochs}, verbose: quiet}}
"""


def test_run_writes_figures_and_per_class_metrics(tmp_path):
    folder = make_images(tmp_path / "images", CLASSES)
    spec = tmp_path / "tiny.yaml"
    spec.write_text(spec_text(folder), encoding="utf-8")
    result = run(spec, output=tmp_path / "run")
    run_dir = tmp_path / "run"
    for name in ("curves.png", "confusion_matrix.png", "misclassified.png"):
        assert_png(run_dir / name)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert [row["class"] for row in metrics["per_class"]] == list(CLASSES)
    assert [row["support"] for row in metrics["per_class"]] == [3, 3, 3]
    for row in metrics["per_class"]:
        assert 0.0 <= row["precision"] <= 1.0 and 0.0 <= row["recall"] <= 1.0 and 0.0 <= row["f1"] <= 1.0
    matrix = metrics["confusion_matrix"]
    assert [sum(row) for row in matrix] == [3, 3, 3]
    # the saved model's validation accuracy is the confusion matrix's diagonal share
    assert abs(metrics["validation"]["accuracy"] - sum(matrix[i][i] for i in range(3)) / 9) < 1e-6
    assert set(metrics["validation"]) == {"accuracy", "loss"}
    # the last epoch's validation pass measured the saved weights: its numbers are the saved model's
    history = json.loads((run_dir / "history.json").read_text())
    assert metrics["validation"] == {"accuracy": history["val_accuracy"][-1], "loss": history["val_loss"][-1]}
    # and the last epoch's checkpoint holds them: the model file is a copy of it
    state = json.loads((run_dir / "checkpoints" / "state.json").read_text())
    assert (run_dir / "model.keras").read_bytes() == (run_dir / state["checkpoint"]).read_bytes()
    assert metrics["total_params"] == 8 * 9 * 3 + 8 + 8 * 8 * 8 * 3 + 3  # Conv2D(8) on rgb + Dense(3) after 8x8x8
    summary = format_run_summary(result)
    lines = summary.splitlines()
    header = lines.index(next(line for line in lines if line.startswith("class ")))
    assert lines[header].split() == ["class", "precision", "recall", "f1", "support"]
    assert [line.split()[0] for line in lines[header + 1 : header + 4]] == list(CLASSES)
    assert lines[header + 4].startswith("macro avg") and lines[header + 4].split()[-1] == "9"
    assert "saved model on the validation split: accuracy" in summary


def test_weights_restored_by_early_stopping_are_evaluated_and_saved_again(tmp_path):
    """EarlyStopping ends the run after its second epoch (nothing can improve by min_delta) and puts the
    first epoch's weights back: the report measures and saves those, not the last checkpoint's."""
    folder = make_images(tmp_path / "images", CLASSES)
    spec = tmp_path / "tiny.yaml"
    early = "  callbacks: [{type: EarlyStopping, monitor: val_loss, min_delta: 1000000, patience: 1, restore_best_weights: true}]\n"
    spec.write_text(spec_text(folder, epochs=3).replace("train: {epochs: 3, verbose: quiet}", "train:\n  epochs: 3\n  verbose: quiet\n" + early), encoding="utf-8")
    run(spec, output=tmp_path / "run")
    run_dir = tmp_path / "run"
    metrics = json.loads((run_dir / "metrics.json").read_text())
    history = json.loads((run_dir / "history.json").read_text())
    assert len(history["val_loss"]) == 2
    assert metrics["validation"] == {"accuracy": history["val_accuracy"][0], "loss": history["val_loss"][0]}  # the first epoch's weights
    state = json.loads((run_dir / "checkpoints" / "state.json").read_text())
    assert state["checkpoint"].endswith("epoch-0002.keras")
    assert (run_dir / "model.keras").read_bytes() != (run_dir / state["checkpoint"]).read_bytes()


def test_a_report_that_fails_keeps_the_model_and_history_and_says_the_run_failed(tmp_path, monkeypatch):
    import pytest

    from cnnbuild.builder.reports import visuals
    from cnnbuild.errors import RunError

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(visuals, "record_run_visuals", broken)
    folder = make_images(tmp_path / "images", CLASSES)
    spec = tmp_path / "tiny.yaml"
    spec.write_text(spec_text(folder, epochs=1), encoding="utf-8")
    with pytest.raises(RunError):
        run(spec, output=tmp_path / "run")
    run_dir = tmp_path / "run"
    assert json.loads((run_dir / "status.json").read_text())["state"] == "failed"
    assert (run_dir / "model.keras").stat().st_size > 0
    assert (run_dir / "history.csv").read_text().startswith("epoch")


def test_run_without_validation_split_draws_only_the_curves(tmp_path):
    folder = make_images(tmp_path / "images", {"a": 6, "b": 6})
    spec = tmp_path / "tiny.yaml"
    spec.write_text(spec_text(folder, validation_split=0, epochs=1), encoding="utf-8")
    result = run(spec, output=tmp_path / "run")
    run_dir = tmp_path / "run"
    assert_png(run_dir / "curves.png", min_width=150)
    assert not (run_dir / "confusion_matrix.png").exists() and not (run_dir / "misclassified.png").exists()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert "per_class" not in metrics and "validation" not in metrics
    assert "precision  recall" not in format_run_summary(result)
