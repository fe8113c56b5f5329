"""Plugins written against earlier plugin APIs still work, unchanged, end to end.

tests/compat holds plugin packages frozen as their authors wrote them (README.md there): one
written from the first release's documentation (plugin API 1.0: a CSV data source reading
``context.shard`` and ``context.work_dir``, a layer with a shape function, a callback using its
context, a command) and the example plugin as plugin API 1.2 left it. They are installed for
these subprocesses only and run as a user would: validate, summary, run (stopped by Ctrl-C),
--resume, predict, evaluate, their own command and their own tests. When one of these fails, the
fix is a shim in cnnbuild (docs/plugins.md, "Versions"), never an edit of a frozen package.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ..conftest import make_images, run_cli
from ..reliability.processes import install_plugin
from .conftest import install_package

FROZEN = Path(__file__).resolve().parent
CSVKIT = FROZEN / "plugin-api-1.0" / "cnnbuild-csvkit"
EXAMPLE = FROZEN / "plugin-api-1.2" / "cnnbuild-example"

#: Test-only: Ctrl-C at the end of one epoch (0-based), so the run stops as a user's would.
HARNESS = """
import os
import signal

import cnnbuild


class StopParams(cnnbuild.Params):
    epoch: int


def _stop(params, context):
    import keras

    class Stop(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == params.epoch:
                os.kill(os.getpid(), signal.SIGINT)

    return Stop()


@cnnbuild.hookimpl
def register_callbacks(register):
    register("StopAfterEpoch", StopParams, _stop)
"""

SPEC = """name: compat
seed: 4
data: {type: csv_images, csv: images.csv, image_size: [16, 16], batch_size: 4, validation_split: 0.25}
model:
  layers:
    - {type: Rescaling, scale: 1/255}
    - {type: Conv2D, filters: 4, kernel_size: 3, padding: same, activation: relu}
    - {type: ResidualConv2D, filters: 6}
    - {type: SqueezeExcitation2D, ratio: 2}
    - GlobalAveragePooling2D
    - {type: Dense, units: auto}
train:
  epochs: 2
  steps_per_execution: 1
  verbose: line
  callbacks:
    - {type: ProgressLog}
    - {type: TimeLimit, minutes: 10}
    - {type: StopAfterEpoch, epoch: 0}
"""
# Conv2D 3*3*3*4+4; ResidualConv2D 3*3*4*6+6 + 3*3*6*6+6 + 4*6+6 (projection); SqueezeExcitation2D 6*3+3 + 3*6+6; Dense 6*1+1 (two classes: binary)
PARAMETERS = 112 + (222 + 330 + 30) + (21 + 24) + 7


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The frozen packages and the harness installed for subprocesses, and only they loaded."""
    site = tmp_path_factory.mktemp("compat-site")
    paths = [site, install_package(site, CSVKIT), install_package(site, EXAMPLE)]
    install_plugin(site, "cnnbuild_compat_harness", HARNESS, "cnnbuild-compat-harness", "compat-harness")
    # the frozen example shadows the one installed from examples/ (same distribution name, first on the path)
    return {"PYTHONPATH": os.pathsep.join(str(path) for path in paths), "CNNBUILD_LOAD_PLUGINS": "csvkit,example,compat-harness"}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A spec using the frozen plugins' types, over a CSV of 16 small images of two classes."""
    folder = tmp_path_factory.mktemp("compat-project")
    make_images(folder / "images", {"red": 8, "blue": 8}, size=(16, 16), formats=("PNG",))
    with (folder / "images.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["filename", "label"])
        writer.writerows((path.relative_to(folder).as_posix(), path.parent.name) for path in sorted(folder.glob("images/*/*.png")))
    (folder / "spec.yaml").write_text(SPEC, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def trained(env: dict[str, str], project: Path) -> tuple[Path, subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
    """One run, stopped by Ctrl-C after its first epoch, then resumed to its end: shared by the checks below."""
    run_dir = project / "run"
    stopped = run_cli("run", str(project / "spec.yaml"), "--output", str(run_dir), env=env, timeout=600)
    resumed = run_cli("run", "--resume", str(run_dir), env=env, timeout=600)
    return run_dir, stopped, resumed


def test_the_frozen_plugins_load_through_their_entry_points(env, project):
    listed = run_cli("plugins", "--json", env=env, timeout=120)
    assert listed.returncode == 0, listed.stderr
    plugins = {row["name"]: row for row in json.loads(listed.stdout)["plugins"]}
    assert json.loads(listed.stdout)["failures"] == []
    assert (plugins["csvkit"]["distribution"], plugins["csvkit"]["version"]) == ("cnnbuild-csvkit", "0.1.0")
    assert plugins["csvkit"]["registers"] == {"layer": ["ResidualConv2D"], "data source": ["csv_images"], "callback": ["ProgressLog"], "command": ["csv-check"]}
    assert plugins["example"]["plugin_api"] is None  # the frozen copy, not examples/ (which declares its range)
    assert plugins["example"]["registers"]["data source"] == ["synthetic_shapes", "json_manifest"]
    checked = run_cli("csv-check", str(project / "images.csv"), env=env, timeout=120)
    assert checked.returncode == 0 and checked.stdout.splitlines() == ["blue: 8", "red: 8"], checked.stderr


def test_specs_using_them_validate_and_summarise(env, project):
    validated = run_cli("validate", str(project / "spec.yaml"), str(EXAMPLE / "shapes.yaml"), env=env, timeout=120)
    assert validated.returncode == 0 and validated.stdout.count(": ok") == 2, validated.stderr
    summary = run_cli("summary", str(project / "spec.yaml"), "--json", env=env, timeout=300)
    assert summary.returncode == 0, summary.stderr
    assert json.loads(summary.stdout)["total_params"] == PARAMETERS
    assert "warning" not in summary.stderr  # the frozen shape functions declare what Keras builds


def test_a_run_stopped_by_ctrl_c_resumes_to_its_end(trained):
    run_dir, stopped, resumed = trained
    assert stopped.returncode == 130, stopped.stderr[-3000:]
    assert "Traceback" not in stopped.stderr and "interrupted after 1 complete epoch(s)" in stopped.stderr
    # the 1.0 names still work, and say what replaces them
    assert "cnnbuild.DataContext.shard is deprecated since cnnbuild plugin API 1.3" in stopped.stderr
    assert "cnnbuild.plugins.builtin.splitting.stratified_split is deprecated" in stopped.stderr
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "Traceback" not in resumed.stderr
    assert json.loads((run_dir / "status.json").read_text())["state"] == "completed"
    assert {len(values) for values in json.loads((run_dir / "history.json").read_text()).values()} == {2}
    progress = [json.loads(line) for line in (run_dir / "progress.jsonl").read_text().splitlines()]
    assert [(line["epoch"], line["of"], line["resumed_after"]) for line in progress] == [(1, 2, 0), (2, 2, 1)]
    cache = Path(os.environ["CNNBUILD_CACHE_DIR"]) / "sources" / "csv_images"
    assert len(list(cache.glob("csv-images-*.npz"))) == 1  # context.work_dir: a real folder, used by both runs


def test_the_run_predicts_and_evaluates(env, project, trained):
    run_dir = trained[0]
    images = sorted(project.glob("images/*/*_000.png"))
    predicted = run_cli("predict", str(run_dir), *map(str, images), "--json", env=env, timeout=300)
    assert predicted.returncode == 0, predicted.stderr[-3000:]
    results = json.loads(predicted.stdout)
    assert [Path(result["path"]).name for result in results] == [image.name for image in images]
    assert all(result["predictions"][0]["class"] in ("blue", "red") for result in results)
    evaluated = run_cli("evaluate", str(run_dir), "--json", env=env, timeout=300)
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    assert json.loads(evaluated.stdout)["examples"] == 4  # the validation split: a quarter of 16


@pytest.mark.parametrize("package, passed", [(CSVKIT, 6), (EXAMPLE, 3)], ids=["plugin-api-1.0", "plugin-api-1.2"])
def test_their_own_tests_pass(env, package, passed, tmp_path):
    # with their own pyproject as the configuration (not cnnbuild's), as in their own checkout
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-c",
        str(package / "pyproject.toml"),
        "--rootdir",
        str(package),
        str(package / "tests"),
    ]
    result = subprocess.run(command, env={**os.environ, **env}, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0 and f"{passed} passed" in result.stdout, result.stdout[-3000:] + result.stderr[-2000:]
    if package == EXAMPLE:  # plugin API 1.2's fixture names: deprecated aliases that still work
        assert "fixture run_spec is deprecated since cnnbuild plugin API 1.3" in result.stdout
