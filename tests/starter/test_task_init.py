"""``cnnbuild init --task``: a starter spec for multi-label, regression and segmentation that
validates as written, trains offline on the synthetic sources, and says how to read one's own data;
what init cannot do for a task is refused with what to do."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import yaml

from cnnbuild.cli.spec_commands import init as init_command
from cnnbuild.contracts.tasks import DEFAULT_TASK, TASKS
from cnnbuild.errors import CnnbuildError
from cnnbuild.spec import load_spec
from cnnbuild.starter.task_starters import TASK_STARTERS, write_task_starter

from ..conftest import run_cli

#: what each starter must hold: the data source (synthetic, offline) and the source its comments name for one's own data
SOURCES = {"multi_label": ("shapes", "type: csv"), "regression": ("shapes", "type: csv"), "segmentation": ("shape_masks", "type: image_masks")}


def test_every_task_but_single_label_has_a_starter_and_the_option_offers_every_task():
    assert sorted(TASK_STARTERS) == sorted(set(TASKS) - {DEFAULT_TASK}) == sorted(SOURCES)
    option = next(param for param in init_command.params if param.name == "task")
    assert list(option.type.choices) == list(TASKS) and option.default == DEFAULT_TASK


@pytest.mark.parametrize("task", sorted(SOURCES))
def test_each_task_starter_validates_and_reads_synthetic_data(tmp_path, task):
    written = write_task_starter(task, tmp_path / "specs" / f"{task}.yaml")
    assert written.path == tmp_path / "specs" / f"{task}.yaml"
    spec = load_spec(written.path)  # validates, and asks the source for its class names (no warning about missing data)
    assert spec.task_row.name == task and spec.data.type == SOURCES[task][0] and spec.warnings == []
    text = written.path.read_text(encoding="utf-8")
    header = re.sub(r"\n# ", " ", text.split("\n\n")[0])
    assert header.startswith(f"# A starter spec for task {task}, written by `cnnbuild init --task {task}`. It trains at once, offline, on synthetic data")
    assert all(len(line) <= 100 for line in text.split("\n\n")[0].splitlines() if not line.startswith("# Check it"))  # wrapped like init's comments
    assert "# SYNTHETIC data" in text and f"#   {SOURCES[task][1]}\n" in text  # how to read one's own data
    plain = yaml.safe_load(text)
    assert plain["name"] == task and plain["seed"] == 42 and plain["output"] == {"dir": "runs"}


def test_the_command_writes_task_yaml_and_says_what_it_learns(tmp_path):
    made = run_cli("init", "--task", "regression", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert made.stdout.splitlines() == [
        "task regression: a starter on synthetic data (nothing downloaded) that learns how many shapes each image shows (0 to 4), a number rather than a class",
        "to train on your own data, change its data: section as the comments above it say (regression.yaml)",
        "wrote regression.yaml",
        "next: cnnbuild run regression.yaml",
    ]
    assert load_spec(tmp_path / "regression.yaml").task_row.name == "regression"
    again = run_cli("init", "--task", "regression", cwd=tmp_path)
    assert again.returncode == 1 and "regression.yaml: already exists; cnnbuild init never overwrites a file" in again.stderr + again.stdout


def test_init_task_imports_no_tensorflow(tmp_path):
    script = "import sys; sys.modules['tensorflow'] = None; sys.modules['keras'] = None\nfrom cnnbuild.cli import main\n"
    script += f"main(['init', '--task', 'segmentation', '--out', {str(tmp_path / 's.yaml')!r}])"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert load_spec(tmp_path / "s.yaml").data.type == "shape_masks"


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--task", "multi_label", "photos"], "cnnbuild init --task multi_label writes a starter on synthetic data and does not read photos: run it without DATA_FOLDER"),
        (["--task", "segmentation", "--model", "small"], "--model chooses among single-label models; the segmentation starter has its own model: leave --model out"),
        ([], "cnnbuild init needs DATA_FOLDER (a folder of class sub-folders, or a CSV file), or --task multi_label, regression or segmentation"),
    ],
)
def test_what_init_cannot_do_for_a_task_is_refused_with_what_to_do(tmp_path, args, said):
    from click.testing import CliRunner

    result = CliRunner().invoke(init_command, [*args, "--out", str(tmp_path / "s.yaml")])
    assert result.exit_code == 1 and said in result.output and "Traceback" not in result.output
    assert not (tmp_path / "s.yaml").exists()
    with pytest.raises(CnnbuildError, match="init writes a synthetic starter for multi_label, regression, segmentation"):
        write_task_starter("single_label", tmp_path / "s.yaml")


def test_the_segmentation_starter_trains_an_epoch(tmp_path):
    import cnnbuild

    path = write_task_starter("segmentation", tmp_path / "segmentation.yaml").path
    result = cnnbuild.run(path, ["train.epochs=1", "data.count=40", "data.batch_size=16"], output=tmp_path / "run")
    assert result.completed
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["train_examples"] + metrics["validation_examples"] == 40
    assert 0.0 <= metrics["validation"]["mean_iou"] <= 1.0
    assert [row["class"] for row in metrics["per_class_iou"]] == ["background", "circle", "square"]
