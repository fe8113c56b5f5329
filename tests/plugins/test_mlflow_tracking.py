"""The first-party MLflow plugin (plugins/cnnbuild-mlflow, installed by .ci/run) against a real
tracking server started here on localhost with a SQLite backend, read back with MLflow's client."""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("cnnbuild_mlflow", reason="install the plugin: pip install -e plugins/cnnbuild-mlflow (.ci/run does)")
pytest.importorskip("mlflow")

SPEC = """\
name: tracked
seed: 1
data: {{type: digits, image_size: [8, 8], color_mode: grayscale, batch_size: 64}}
model:
  layers:
    - {{type: Rescaling, scale: 1/255}}
    - {{type: Conv2D, filters: 4, kernel_size: 3, padding: same, activation: relu}}
    - MaxPooling2D
    - Flatten
    - {{type: Dense, units: auto}}
train:
  epochs: 2
  verbose: quiet
  callbacks:
    - {{type: MLflowTracking{options}}}
output: {{dir: runs}}
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``mlflow server`` on a free port, with job execution off (it halves the start-up on a busy machine)."""
    folder = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    command = [str(Path(sys.executable).parent / "mlflow"), "server", "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
               "--artifacts-destination", str(folder / "artifacts"), "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]  # fmt: skip
    log = (folder / "server.log").open("w")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"})
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 240
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=5) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        if process.poll() is not None or time.time() > deadline:
            os.killpg(process.pid, signal.SIGKILL) if process.poll() is None else None
            pytest.fail(f"mlflow server did not start: {(folder / 'server.log').read_text()[-3000:]}")
        time.sleep(1)
    yield url
    os.killpg(process.pid, signal.SIGTERM)  # the whole group: the server's workers too
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
    log.close()


def test_a_run_is_tracked_with_params_metrics_artifacts_and_tags(tmp_path, server):
    import cnnbuild
    from mlflow.tracking import MlflowClient

    spec = tmp_path / "tracked.yaml"
    spec.write_text(SPEC.format(options=f", tracking_uri: '{server}', experiment: runs-test"))
    result = cnnbuild.run(spec, output=tmp_path / "run")
    assert result.completed and not [w for w in result.warnings if "MLflow" in w]
    client = MlflowClient(tracking_uri=server)
    (found,) = client.search_runs([client.get_experiment_by_name("runs-test").experiment_id])
    assert found.info.status == "FINISHED" and found.info.run_name == "run"
    params = found.data.params
    assert params["model.layers.1.filters"] == "4" and params["data.image_size"] == "[8, 8]" and params["train.callbacks.0.type"] == "MLflowTracking"
    assert params["compile.optimizer.learning_rate"] == "0.001"
    history = client.get_metric_history(found.info.run_id, "val_accuracy")
    assert [m.step for m in history] == [1, 2] and [m.value for m in history] == pytest.approx(result.history["val_accuracy"])
    artifacts = {a.path for a in client.list_artifacts(found.info.run_id)}
    assert {"spec.yaml", "curves.png", "confusion_matrix.png", "metrics.json", "model"} <= artifacts
    assert [a.path for a in client.list_artifacts(found.info.run_id, "model")] == ["model/model.keras"]
    environment = cnnbuild.load_run(result.run_dir).environment
    assert found.data.tags["cnnbuild.version"] == environment["versions"]["cnnbuild"]
    assert found.data.tags["cnnbuild.dataset_fingerprint"] == environment["data"]["fingerprint"]
    assert found.data.tags["cnnbuild.kind"] == "run"


@pytest.mark.skipif(importlib.util.find_spec("optuna") is None, reason="cnnbuild sweep needs Optuna: pip install 'cnnbuild[sweep]'")
def test_a_sweep_is_a_parent_run_with_its_trials_as_children(tmp_path, server):
    from mlflow.tracking import MlflowClient

    from cnnbuild.sweep import run_sweep

    spec = tmp_path / "tracked.yaml"
    spec.write_text(SPEC.format(options=f", tracking_uri: '{server}', experiment: sweep-test") + "sweep:\n  trials: 2\n  space:\n    model.layers[1].filters: {choice: [2, 4]}\n")
    result = run_sweep(spec, output=tmp_path / "sweep")
    assert result.leaderboard["states"] == {"complete": 2}
    client = MlflowClient(tracking_uri=server)
    experiment = client.get_experiment_by_name("sweep-test").experiment_id
    (parent,) = client.search_runs([experiment], filter_string="tags.`cnnbuild.kind` = 'sweep'")
    assert parent.data.tags["cnnbuild.sweep"] == str((tmp_path / "sweep").resolve()) and parent.data.params["sweep.metric"] == "val_accuracy"
    children = client.search_runs([experiment], filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'", order_by=["attributes.run_name ASC"])
    assert [child.info.run_name for child in children] == ["trial-0000", "trial-0001"]
    assert [child.data.tags["cnnbuild.trial"] for child in children] == ["0", "1"]
    assert {child.data.params["model.layers.1.filters"] for child in children} == {str(row["params"]["model.layers[1].filters"]) for row in result.leaderboard["trials"]}
    assert all(child.data.tags["cnnbuild.kind"] == "trial" and child.info.status == "FINISHED" for child in children)


def test_without_a_uri_runs_go_to_a_sqlite_file_beside_the_runs(tmp_path, monkeypatch):
    import cnnbuild
    from mlflow.tracking import MlflowClient

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    spec = tmp_path / "tracked.yaml"
    spec.write_text(SPEC.format(options=""))
    result = cnnbuild.run(spec, output=tmp_path / "runs" / "one")
    assert (tmp_path / "runs" / "mlflow.db").is_file()
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}")
    (found,) = client.search_runs([client.get_experiment_by_name("tracked").experiment_id])
    assert found.info.status == "FINISHED" and found.data.tags["cnnbuild.run_dir"] == str(result.run_dir.resolve())
    assert (tmp_path / "runs" / "mlartifacts").is_dir() and not (Path.cwd() / "mlruns").exists()  # not ./mlruns where the command ran


def test_flattened_keys_are_valid_mlflow_keys():
    from cnnbuild_mlflow.naming import flatten

    flat = flatten({"model": {"layers": [{"type": "Conv2D", "kernel_size": [3, 3]}]}, "train": {"class_weight": {"0": 1.5}}, "note": "x" * 7000, "a[b]": 1})
    assert flat["model.layers.0.kernel_size"] == "[3, 3]" and flat["train.class_weight.0"] == "1.5" and flat["a_b_"] == "1"
    assert len(flat["note"]) == 6000 and flat["note"].endswith("...(truncated)")
