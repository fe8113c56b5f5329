"""Sweeps that train: parallel workers on one journal, a SIGKILLed worker, Ctrl-C, pruning, invalid
trials, best.yaml, continuing a sweep. Tiny: 8x8 digits, a few filters, one to four epochs."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner

pytest.importorskip("optuna")

from cnnbuild import load_run  # noqa: E402
from cnnbuild.cli import cli  # noqa: E402
from cnnbuild.errors import CnnbuildError  # noqa: E402

from ..conftest import beside_a_checkout, run_cli  # noqa: E402

SPEC = """\
name: tiny
seed: 1
data: {{type: digits, image_size: [8, 8], color_mode: grayscale, batch_size: 64}}
model:
  layers:
    - {{type: Rescaling, scale: 1/255}}
    - {{type: Conv2D, filters: 4, kernel_size: 3, padding: same, activation: relu}}
    - MaxPooling2D
    - Flatten
    - {{type: Dense, units: auto}}
compile:
  optimizer: {{type: adam, learning_rate: 0.01}}
train: {{epochs: {epochs}, verbose: quiet}}
output: {{dir: runs}}
sweep:
{sweep}
"""
FILTERS_AND_RATE = """\
space:
  model.layers[1].filters: {choice: [2, 4, 8]}
  compile.optimizer.learning_rate: {log_uniform: [3.0e-3, 3.0e-2]}
"""


def write_spec(tmp_path: Path, sweep: str = FILTERS_AND_RATE, epochs: int = 1) -> Path:
    path = tmp_path / "sweep.yaml"
    path.write_text(SPEC.format(epochs=epochs, sweep=textwrap.indent(textwrap.dedent(sweep), "  ").rstrip("\n")))
    return path


def leaderboard(folder: Path) -> dict:
    return json.loads((folder / "sweep.json").read_text())


def by_trial(board: dict) -> dict[int, dict]:
    return {row["trial"]: row for row in board["trials"]}


def start_sweep(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "cnnbuild", "sweep", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_for_training_trial(folder: Path, timeout: float = 240) -> dict:
    """The first trial whose run has started training (its status.json says running), with its worker's pid."""
    import optuna

    deadline = time.time() + timeout
    while time.time() < deadline:
        journal = folder / "study.journal"
        if journal.exists():
            storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(journal)))
            for trial in optuna.load_study(study_name="tiny", storage=storage).trials:
                status = folder / "trials" / f"{trial.number:04d}" / "status.json"
                if trial.state.name == "RUNNING" and status.exists() and json.loads(status.read_text())["state"] == "running":
                    return {"number": trial.number, "pid": trial.user_attrs["pid"]}
        time.sleep(0.5)
    raise AssertionError(f"no trial started training within {timeout} s")


def assert_fits_the_page(report: Path, profile: Path) -> None:
    """In headless Chromium at 1200 pixels, nothing of the report sticks out of its 1100-pixel column (the leaderboard's long
    parameter names wrap after their dots)."""
    chromium = next((found for name in ("chromium", "chromium-browser", "google-chrome") if (found := shutil.which(name))), None)
    if chromium is None:
        return  # checked where Chromium is installed (CI has it)
    from ..serve.browser import Browser

    browser = Browser(chromium, profile, report.as_uri(), size=(1200, 900))
    try:
        browser.wait_for("document.readyState === 'complete' && document.querySelector('table') !== null")
        widest = browser.evaluate("Math.max(...[...document.querySelectorAll('body > *, table')].map(e => e.getBoundingClientRect().right))")
        column = browser.evaluate("document.body.getBoundingClientRect().right")
        assert widest <= column + 1, f"the report is {widest} pixels wide where its column ends at {column}"
    finally:
        browser.close()


def test_two_worker_processes_share_one_journal_and_each_trial_is_an_ordinary_run(tmp_path):
    spec, folder = write_spec(tmp_path, epochs=2), tmp_path / "sweep"
    # started as people start it right after `git clone`: from the folder holding the checkout's cnnbuild/, which the workers must not import
    parent = beside_a_checkout(tmp_path / "parent")
    result = run_cli("sweep", str(spec), "--workers", "2", "--trials", "4", "--output", str(folder), cwd=parent, console=True, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    board = leaderboard(folder)
    assert board["states"] == {"complete": 4} and board["counted"] == 4 and board["trials_budget"] == 4
    assert {row["worker"] for row in board["trials"]} == {0, 1}  # both processes took trials from the one study
    assert [row["rank"] for row in board["trials"]] == [1, 2, 3, 4]
    values = [row["value"] for row in board["trials"]]
    assert values == sorted(values, reverse=True) and board["best"]["value"] == values[0]
    for row in board["trials"]:
        run = load_run(folder / row["run_dir"])
        assert run.completed and run.info["tags"] == {"sweep": str(folder.resolve()), "study": "tiny", "trial": row["trial"]}
        assert max(run.history["val_accuracy"]) == pytest.approx(row["value"])
        assert f"model.layers[1].filters={row['params']['model.layers[1].filters']}" in run.info["overrides"]
    assert (folder / "sweep.csv").read_text().splitlines()[0].startswith("rank,trial,state,value,reported,metric,model.layers[1].filters,compile.optimizer.learning_rate,seconds")
    assert (folder / "best.yaml").read_text().startswith(f"# best trial {board['best']['trial']} of sweep tiny: val_accuracy")
    assert sorted(p.name for p in (folder / "figures").iterdir()) == ["history.png", "importance.png", "parallel_coordinate.png", "slice.png"]
    assert f"best: trial {board['best']['trial']}, val_accuracy" in result.stdout
    # report and compare through click in this process: their own processes are tested with runs (test_bug_reports, test_run_reports)
    report = CliRunner().invoke(cli, ["report", str(folder)])
    assert report.exit_code == 0, report.output
    html = (folder / "report.html").read_text()
    assert "Leaderboard" in html and f"trials/{board['best']['trial']:04d}" in html and html.count("data:image/png;base64") >= 5
    assert_fits_the_page(folder / "report.html", tmp_path / "profile")
    compare = CliRunner().invoke(cli, ["compare", str(folder / "trials" / "0000"), str(folder / "trials" / "0001"), "--out", str(tmp_path / "compare.png"), "--json"])
    assert compare.exit_code == 0 and len(json.loads(compare.stdout)["runs"]) == 2, compare.output


def test_a_sigkilled_worker_loses_only_its_trial_which_is_not_counted_and_tried_again(tmp_path):
    spec, folder = write_spec(tmp_path, epochs=4), tmp_path / "sweep"
    sweep = start_sweep(str(spec), "--workers", "2", "--trials", "3", "--output", str(folder))
    try:
        victim = wait_for_training_trial(folder)
        os.kill(victim["pid"], signal.SIGKILL)
        output, _ = sweep.communicate(timeout=900)
    finally:
        if sweep.poll() is None:
            sweep.kill()
    assert sweep.returncode == 0, output
    board = leaderboard(folder)
    assert board["states"] == {"complete": 3, "killed": 1} and board["counted"] == 3
    killed = by_trial(board)[victim["number"]]
    assert killed["state"] == "killed" and killed["value"] is None and killed["rank"] is None
    assert "stopped without finishing it" in killed["error"]
    retry = by_trial(board)[killed["retried_as"]]
    assert retry["state"] == "complete" and retry["params"] == killed["params"] and retry["retry_of"] == victim["number"]
    assert board["best"]["state"] == "complete"
    assert "was killed by signal 9; its trial is recorded killed and its values are tried again" in output
    assert load_run(folder / killed["run_dir"]).state == "running"  # the run itself cannot know; the leaderboard says killed


def test_ctrl_c_records_the_trial_interrupted_and_running_again_continues(tmp_path):
    spec, folder = write_spec(tmp_path, epochs=4), tmp_path / "sweep"
    sweep = start_sweep(str(spec), "--trials", "2", "--output", str(folder))
    try:
        victim = wait_for_training_trial(folder)
        sweep.send_signal(signal.SIGINT)
        output, _ = sweep.communicate(timeout=300)
    finally:
        if sweep.poll() is None:
            sweep.kill()
    assert sweep.returncode == 130, output
    assert "interrupted; the trials in flight are recorded interrupted and tried again" in output and "Traceback" not in output
    interrupted = by_trial(leaderboard(folder))[victim["number"]]
    assert interrupted["state"] == "interrupted" and interrupted["retried"] is True
    again = run_cli("sweep", str(spec), "--trials", "2", "--output", str(folder), timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    board = leaderboard(folder)
    assert board["states"] == {"complete": 2, "interrupted": 1} and board["counted"] == 2
    assert by_trial(board)[interrupted["retried_as"]]["params"] == interrupted["params"]


def test_pruning_stops_a_poor_trial_and_keeps_its_run(tmp_path):
    from cnnbuild.sweep import run_sweep

    spec = write_spec(tmp_path, epochs=3, sweep="""\
        seed: 1                 # the grid sampler's order: 0.05 first, then 1e-9
        sampler: grid
        pruner: {type: median, n_startup_trials: 1, n_warmup_steps: 0}
        space:
          compile.optimizer.learning_rate: {choice: [0.05, 1.0e-9]}
    """)
    result = run_sweep(spec, output=tmp_path / "sweep")
    board = result.leaderboard
    good, poor = by_trial(board)[0], by_trial(board)[1]
    assert good["params"]["compile.optimizer.learning_rate"] == 0.05, "the grid order for seed 1 changed"
    assert good["state"] == "complete" and good["epochs"] == 3
    assert poor["state"] == "pruned" and poor["value"] is None and poor["reported"] < good["value"] and poor["epochs"] < 3
    assert poor["error"] == f"pruned after epoch {poor['epochs']}"
    run = load_run(tmp_path / "sweep" / poor["run_dir"])
    assert run.completed and run.metrics["epochs_run"] == poor["epochs"] and run.metrics["stopped_early"]  # an ordinary run, stopped cleanly
    assert board["best"]["trial"] == 0 and board["counted"] == 2
    assert "(" in result.table.splitlines()[2]  # a pruned trial's last reported value is shown in parentheses, without a rank


def test_invalid_trials_are_recorded_with_their_message_and_best_yaml_reruns_to_the_reported_value(tmp_path, caplog):
    import cnnbuild
    from cnnbuild.sweep import run_sweep

    spec = write_spec(tmp_path, sweep="""\
        sampler: grid
        space:
          model.layers[1].kernel_size: {choice: [3, 9]}
          model.layers[1].padding: {choice: [same, valid]}
    """)
    folder = tmp_path / "sweep"
    with caplog.at_level("WARNING", logger="cnnbuild"):
        result = run_sweep(spec, output=folder)
    assert "1 combination(s) of the values tried give invalid specs" in caplog.text  # known before training
    board = result.leaderboard
    assert board["states"] == {"complete": 3, "invalid": 1} and board["counted"] == 4
    (invalid,) = [row for row in board["trials"] if row["state"] == "invalid"]
    assert invalid["params"] == {"model.layers[1].kernel_size": 9, "model.layers[1].padding": "valid"}
    assert "model.layers[1]: Conv2D cannot take input shape (8, 8, 1)" in invalid["error"] and invalid["value"] is None
    assert not (folder / invalid["run_dir"]).exists()  # never trained
    best = board["best"]
    rerun = cnnbuild.run(folder / "best.yaml", output=tmp_path / "rerun")
    assert max(rerun.history["val_accuracy"]) == pytest.approx(best["value"], abs=1e-6)  # seeded: the same value again

    more = run_sweep(spec, output=folder, trials=5)  # the grid has 4 points: nothing left to run
    assert more.leaderboard["counted"] == 4 and more.stopped_by == "grid"


def test_continuing_with_another_space_or_study_is_refused(tmp_path):
    from cnnbuild.spec.sweep_checks import load_sweep
    from cnnbuild.sweep.folder import SweepFolder

    folder = tmp_path / "sweep"
    SweepFolder.prepare(folder, load_sweep(write_spec(tmp_path)), None, "journal", None)
    SweepFolder.prepare(folder, load_sweep(write_spec(tmp_path), ["train.epochs=1"]), None, "journal", 7)  # more trials: fine
    changed = load_sweep(write_spec(tmp_path, sweep="space:\n  model.layers[1].filters: {choice: [2, 16]}\n"))
    with pytest.raises(CnnbuildError, match="sweep.space changed since this sweep started"):
        SweepFolder.prepare(folder, changed, None, "journal", None)
    with pytest.raises(CnnbuildError, match=r"the base spec changed since this sweep started \(train.epochs: 1 -> 2\)"):
        SweepFolder.prepare(folder, load_sweep(write_spec(tmp_path, epochs=2)), None, "journal", None)
    with pytest.raises(CnnbuildError, match="holds study 'tiny', not 'other'"):
        SweepFolder.prepare(folder, load_sweep(write_spec(tmp_path)), "other", "journal", None)


def test_a_database_storage_holds_the_study_and_a_password_is_never_written(tmp_path):
    import optuna

    from cnnbuild.sweep import run_sweep
    from cnnbuild.sweep.study import storage_label

    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    result = run_sweep(write_spec(tmp_path), output=tmp_path / "sweep", storage=url, study="on-sqlite", trials=1)
    assert result.leaderboard["states"] == {"complete": 1} and not (tmp_path / "sweep" / "study.journal").exists()
    assert [t.state.name for t in optuna.load_study(study_name="on-sqlite", storage=url).trials] == ["COMPLETE"]
    assert "storage: sqlite:///" in (tmp_path / "sweep" / "sweep.yaml").read_text()
    assert storage_label("postgresql://sweeper:secret@db:5432/optuna") == "postgresql://sweeper:***@db:5432/optuna"


def test_the_time_budget_lets_no_trial_start_after_it(tmp_path):
    from cnnbuild.sweep import run_sweep

    spec = write_spec(tmp_path, sweep=FILTERS_AND_RATE + "time_budget: 1s\ntrials: 5\n")
    result = run_sweep(spec, output=tmp_path / "sweep")
    assert result.stopped_by == "time" and result.leaderboard["states"] == {"complete": 1}  # the first trial outlasts 1 s; it finishes, none follows


def test_the_parallel_coordinates_plot_names_every_axis_whole():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import optuna
    from optuna.visualization import matplotlib as plots

    from cnnbuild.sweep.figures import _whole_names

    study = optuna.create_study(direction="maximize")
    space = {"compile.optimizer.learning_rate": optuna.distributions.FloatDistribution(1e-3, 1e-1, log=True), "model.layers[1].filters": optuna.distributions.IntDistribution(2, 8)}
    for index, value in enumerate((0.5, 0.7, 0.6)):
        study.add_trial(optuna.trial.create_trial(params={"compile.optimizer.learning_rate": 0.002 * (index + 1), "model.layers[1].filters": 2 + index}, distributions=space, value=value))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        axes = plots.plot_parallel_coordinate(study, target_name="val_accuracy")
    assert "compile.optimizer..." in [tick.get_text() for tick in axes.get_xticklabels()]  # Optuna's own labels are cut
    _whole_names(axes, ["val_accuracy", *space])
    assert [tick.get_text() for tick in axes.get_xticklabels()] == ["val_accuracy", "compile.optimizer.\nlearning_rate", "model.layers[1].\nfilters"]
    plt.close(axes.figure)
