"""A sweep optimises a measure of each new task (issue 25): the trial's value is read from the run's
history in the task's direction (an error is minimised, an IoU or F1 maximised), the best trial is the
best of them, and best.yaml reruns to it. Tiny: 16x16 synthetic images, one epoch, a grid of two."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("optuna")

HEAD = {
    "multi_label": "task: {type: multi_label}\ndata: {type: shapes, count: 96, image_size: [16, 16], batch_size: 16}\n",
    "regression": "task: {type: regression, standardize: true}\ndata: {type: shapes, count: 96, image_size: [16, 16], max_shapes: 3, batch_size: 16}\n",
    "segmentation": "task: {type: segmentation, classes: {0: background, 1: circle, 2: square}}\n"
    "data: {type: shape_masks, count: 96, image_size: [16, 16], shapes: [circle, square], batch_size: 16}\n",
}
LAYERS = {
    "multi_label": ["GlobalAveragePooling2D", "{type: Dense, units: auto}"],  # logits: F1 must take the sigmoid first
    "regression": ["GlobalAveragePooling2D", "{type: Dense, units: auto}"],
    "segmentation": ["{type: Dense, units: auto, activation: softmax}"],
}
METRIC = {"multi_label": ("val_f1_macro", "maximize"), "regression": ("val_mae", "minimize"), "segmentation": ("val_mean_iou", "maximize")}


def sweep_spec(tmp_path: Path, task: str) -> Path:
    metric, _ = METRIC[task]
    layers = "\n".join(f"    - {layer}" for layer in ["{type: Rescaling, scale: 1/255}", "{type: Conv2D, filters: 4, kernel_size: 3, padding: same, activation: relu}", *LAYERS[task]])
    text = f"name: {task}-sweep\nseed: 3\n{HEAD[task]}model:\n  layers:\n{layers}\n"
    text += textwrap.dedent(f"""\
        compile: {{optimizer: {{type: adam, learning_rate: 0.01}}}}
        train: {{epochs: 1, verbose: quiet}}
        sweep:
          metric: {metric}
          sampler: grid
          space:
            compile.optimizer.learning_rate: {{choice: [0.001, 0.03]}}
        """)
    path = tmp_path / "sweep.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("task", sorted(METRIC))
def test_a_sweep_optimises_the_tasks_measure_in_its_direction(tmp_path, task):
    import cnnbuild
    from cnnbuild.sweep import run_sweep

    metric, direction = METRIC[task]
    folder = tmp_path / "sweep"
    result = run_sweep(sweep_spec(tmp_path, task), output=folder)
    board = result.leaderboard
    assert board["direction"] == direction and board["states"] == {"complete": 2}, board
    values = []
    for row in board["trials"]:
        history = json.loads((folder / row["run_dir"] / "history.json").read_text(encoding="utf-8"))[metric]
        assert row["value"] == pytest.approx(max(history) if direction == "maximize" else min(history))
        values.append(row["value"])
    best = max(values) if direction == "maximize" else min(values)
    assert board["best"]["value"] == pytest.approx(best)
    rerun = cnnbuild.run(folder / "best.yaml", output=tmp_path / "rerun")
    assert rerun.history[metric][-1] == pytest.approx(best, abs=1e-5)  # seeded: the same value again
