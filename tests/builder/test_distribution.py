"""Data-parallel training: cluster settings, per-process data, and real runs on two devices and two processes."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from cnnbuild.builder.distribute import cluster, engines
from cnnbuild.builder.distribute.workers import WORKER_DIR_ENV
from cnnbuild.builder.distribute.cluster import DistributeError, cluster_settings
from cnnbuild.builder.distribute.placement import Placement
from cnnbuild.builder.distribute.sharing import DataShare
from cnnbuild.spec.engine import BACKEND_ENV
from cnnbuild.spec import spec_from_text

from ..conftest import SMALL_MODEL, run_cli

DIGITS = (
    "name: digits\nseed: 7\ndata: {type: digits, image_size: [8, 8], batch_size: 32, validation_split: 0.2}"
    + SMALL_MODEL
    + "compile: {optimizer: {type: adam, learning_rate: 0.005}}\ntrain: {epochs: 2, verbose: line}\n"
)
CLUSTER_ENV = (cluster.COORDINATOR_ENV, cluster.NUM_PROCESSES_ENV, cluster.PROCESS_ID_ENV, cluster.JOB_INDEX_ENV)


@pytest.fixture
def clean_cluster_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in CLUSTER_ENV:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def _without_cluster_env() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if name not in CLUSTER_ENV and not name.startswith("SLURM_")}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("localhost", 0))
        return probe.getsockname()[1]


# -- settings, without an engine -------------------------------------------------------------------
def test_options_and_environment_win_over_the_spec(clean_cluster_env: pytest.MonkeyPatch) -> None:
    spec = spec_from_text(DIGITS + "distribute: {mode: machines, coordinator: 'spec-host:1000', num_processes: 4}\n")
    assert cluster_settings(spec) == cluster.Cluster("spec-host:1000", 4, None)
    clean_cluster_env.setenv(cluster.COORDINATOR_ENV, "env-host:2000,other:2001")
    clean_cluster_env.setenv(cluster.NUM_PROCESSES_ENV, "2")
    clean_cluster_env.setenv(cluster.PROCESS_ID_ENV, "1")
    assert cluster_settings(spec) == cluster.Cluster("env-host:2000", 2, 1)


def test_kubernetes_job_index_is_the_process_id(clean_cluster_env: pytest.MonkeyPatch) -> None:
    spec = spec_from_text(DIGITS + "distribute: {mode: machines, coordinator: 'trainer-0.trainer:5555', num_processes: 3}\n")
    clean_cluster_env.setenv(cluster.JOB_INDEX_ENV, "2")
    assert cluster_settings(spec).process_id == 2
    clean_cluster_env.setenv(cluster.JOB_INDEX_ENV, "3")
    with pytest.raises(DistributeError, match=r"process id 3 is out of range for 3 processes \(ids run from 0 to 2\)"):
        cluster_settings(spec)


def test_bad_coordinator_option_is_refused(clean_cluster_env: pytest.MonkeyPatch) -> None:
    clean_cluster_env.setenv(cluster.COORDINATOR_ENV, "localhost")
    with pytest.raises(DistributeError, match="coordinator: expected HOST:PORT"):
        cluster_settings(spec_from_text(DIGITS + "distribute: {mode: machines}\n"))


def test_each_process_batches_its_part_of_the_global_batch() -> None:
    spec = spec_from_text(DIGITS + "distribute: {mode: machines}\n")
    spec = spec.model_copy(update={"data": spec.data.model_copy(update={"cache": "cache/digits"})})
    local = DataShare(Placement("machines", "jax", process_id=1, num_processes=4)).pipeline_spec(spec)
    assert local.data.batch_size == 8
    assert local.data.cache == "cache/digits.process-1-of-4"
    assert local.base_dir == spec.base_dir  # relative paths still resolve against the spec file
    assert DataShare(Placement()).pipeline_spec(spec) is spec


def test_balance_gives_every_device_the_same_number_of_examples() -> None:
    import numpy as np
    import tensorflow as tf

    from cnnbuild.contracts import Datasets

    def dataset(count: int) -> tf.data.Dataset:
        return tf.data.Dataset.from_tensor_slices((np.arange(count, dtype="float32"), np.zeros(count, dtype="int32")))

    source = Datasets(
        train=dataset(7), validation=dataset(5), class_names=["a", "b"], train_count=7, validation_count=5, test=dataset(1), test_count=1, train_labels=[0] * 7
    )
    balanced = DataShare(Placement("devices", "jax", local_devices=2, replicas=2)).balance(source)
    assert (balanced.train_count, balanced.validation_count, balanced.test_count) == (6, 4, 0)
    assert [float(x) for x, _ in balanced.train] == [0, 1, 2, 3, 4, 5]
    assert balanced.test is None and len(balanced.train_labels) == 6
    assert DataShare(Placement("devices", "tensorflow", local_devices=2, replicas=2)).balance(source) is source  # MirroredStrategy splits batches itself


def test_a_stop_asked_on_one_process_stops_all_of_them_at_the_same_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from cnnbuild.builder.distribute import collectives
    from cnnbuild.builder.training.callbacks import Interruption

    calls: list[list[int]] = []

    class OtherProcessAsks(Placement):
        asked_elsewhere = False

    def gather(placement: OtherProcessAsks, values: list[int]):  # what every process would receive from the all-gather
        import numpy as np

        calls.append(values)
        return np.array([values, [int(placement.asked_elsewhere)]])

    monkeypatch.setattr(collectives, "gather", gather)
    placement = OtherProcessAsks("machines", "jax", process_id=0, num_processes=2)
    interruption = Interruption()
    callback = collectives.stop_callback(placement, interruption)
    callback.set_model(SimpleNamespace(stop_training=False))
    for batch in range(collectives.AGREE_EVERY - 1):  # nobody asked: one exchange, no stop
        callback.on_train_batch_end(batch)
    callback.on_train_batch_end(collectives.AGREE_EVERY - 1)
    assert calls == [[0]] and callback.model.stop_training is False
    placement.asked_elsewhere = True
    callback.on_train_batch_end(collectives.AGREE_EVERY)  # between exchanges: nothing happens yet
    assert callback.model.stop_training is False
    callback.on_train_batch_end(2 * collectives.AGREE_EVERY - 1)
    assert callback.model.stop_training is True and interruption.requested is True  # the checkpointer then skips this cut-short epoch
    single = collectives.stop_callback(Placement(), interruption)
    assert type(single).__name__ == "StopOnInterrupt"
    # calls of 16 batches end at indices 15, 31, 47, ...: the processes still agree once every 20 batches, at the first call past each block
    calls.clear()
    callback.on_epoch_begin(1)
    for last in (15, 31, 47, 63):
        callback.on_train_batch_end(last)
    assert len(calls) == 3  # at 31 (batch 32 > 20), 47 (48 > 40) and 63 (64 > 60); not at 15


def test_machines_mode_is_refused_when_keras_already_runs_on_tensorflow() -> None:
    import keras

    if keras.backend.backend() != "tensorflow":
        pytest.skip("this test process runs Keras on another backend")
    spec = spec_from_text(DIGITS + "distribute: {mode: machines}\n")
    expected = (
        "needs Keras's jax backend, and Keras is already loaded with tensorflow"
        if importlib.util.find_spec("jax")
        else "jax is not installed: pip install"
    )
    with pytest.raises(DistributeError, match=expected):
        engines.placement_for(spec)


# -- real runs, in subprocesses (each engine must start before TensorFlow or JAX) -------------------
def _spec(tmp_path: Path, distribute: str) -> Path:
    path = tmp_path / "digits.yaml"
    path.write_text(DIGITS + f"distribute: {distribute}\n", encoding="utf-8")
    return path


def _history(run_dir: Path) -> dict[str, list[float]]:
    return json.loads((run_dir / "history.json").read_text())


def test_cnnbuild_run_selects_jax_before_keras_is_imported(tmp_path: Path) -> None:
    pytest.importorskip("jax")
    spec = _spec(tmp_path, "{mode: machines}")
    code = f"from cnnbuild.builder.distribute.cluster import select_backend_for_file as s; s({str(spec)!r}); import keras; print(keras.backend.backend())"
    env = {**os.environ, BACKEND_ENV: "tensorflow"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.stdout.strip().splitlines()[-1] == "jax", done.stderr[-2000:]


@pytest.mark.slow
def test_devices_mode_trains_on_two_logical_cpus_with_mirrored_strategy(tmp_path: Path) -> None:
    out = tmp_path / "run"
    done = run_cli("run", str(_spec(tmp_path, "{mode: devices, devices: 2}")), "--output", str(out), env={BACKEND_ENV: "tensorflow"})
    assert done.returncode == 0, done.stderr[-3000:]
    placed = json.loads((out / "environment.json").read_text())["distribute"]
    assert placed == {
        "mode": "devices",
        "engine": "tf.distribute.MirroredStrategy",
        "backend": "tensorflow",
        "processes": 1,
        "devices_per_process": 2,
        "replicas": 2,
        "global_batch_size": 32,
        "batch_size_per_process": 32,
    }
    history = _history(out)
    assert len(history["loss"]) == 2 and history["loss"][1] < history["loss"][0]
    assert history["val_accuracy"][-1] > 0.6


@pytest.mark.slow
def test_devices_mode_on_the_jax_backend_uses_keras_data_parallel(tmp_path: Path) -> None:
    pytest.importorskip("jax")
    out = tmp_path / "run"
    done = run_cli("run", str(_spec(tmp_path, "{mode: devices, devices: 2}")), "--output", str(out), env={BACKEND_ENV: "jax"})
    assert done.returncode == 0, done.stderr[-3000:]
    placed = json.loads((out / "environment.json").read_text())["distribute"]
    assert (placed["engine"], placed["backend"], placed["replicas"]) == ("keras.distribution.DataParallel", "jax", 2)
    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["train_examples"], metrics["validation_examples"], metrics["precision"]) == (1438, 358, "float32")  # 1437 -> even, 359 -> even
    assert _history(out)["val_accuracy"][-1] > 0.6


def test_machines_mode_without_a_coordinator_says_how_to_give_one(tmp_path: Path) -> None:
    pytest.importorskip("jax")
    command = [
        sys.executable,
        "-m",
        "cnnbuild",
        "run",
        str(_spec(tmp_path, "{mode: machines}")),
        "--num-processes",
        "2",
        "--process-id",
        "0",
        "--output",
        str(tmp_path / "run"),
    ]
    done = subprocess.run(command, env=_without_cluster_env(), capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("cannot join the other processes:") and "--coordinator HOST:PORT" in last, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "run").exists()


def test_machines_mode_refuses_a_batch_the_processes_cannot_share(tmp_path: Path) -> None:
    pytest.importorskip("jax")
    spec = _spec(tmp_path, "{mode: machines}")
    done = run_cli("run", str(spec), "--set", "data.batch_size=31", "--num-processes", "2", "--process-id", "1", "--coordinator", "localhost:1", timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == "data.batch_size 31 is the global batch and must divide evenly over 2 processes; use a multiple of 2"


def _launch(spec: Path, out: Path, count: int, port: int, workers: Path) -> list[subprocess.Popen[str]]:
    env = {**_without_cluster_env(), WORKER_DIR_ENV: str(workers)}
    command = [sys.executable, "-m", "cnnbuild", "run", str(spec), "--output", str(out), "--num-processes", str(count), "--coordinator", f"localhost:{port}"]
    return [
        subprocess.Popen([*command, "--process-id", str(index)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for index in range(count)
    ]


def _finish(processes: list[subprocess.Popen[str]], timeout: float = 400) -> list[tuple[int, str, str]]:
    results = []
    try:
        for process in processes:
            stdout, stderr = process.communicate(timeout=timeout)
            results.append((process.returncode, stdout, stderr))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    return results


@pytest.mark.slow
def test_two_processes_train_in_lockstep_and_only_the_chief_writes_the_run(tmp_path: Path) -> None:
    pytest.importorskip("jax")
    import keras
    import numpy as np

    spec = _spec(tmp_path, "{mode: machines}")
    out, workers = tmp_path / "runs" / "two", tmp_path / "workers"
    (chief, chief_out, chief_err), (worker, worker_out, worker_err) = _finish(_launch(spec, out, 2, _free_port(), workers))
    assert chief == 0, chief_err[-3000:]
    assert worker == 0, worker_err[-3000:]
    assert f"run complete: {out}" in chief_out
    assert "process 1 of 2 finished; process 0 writes the run directory" in worker_out

    # Only the chief wrote under the output folder; the worker wrote to its own folder.
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["two"]
    assert json.loads((out / "status.json").read_text())["state"] == "completed"
    private = workers / "process-1"
    assert (private / "model.keras").is_file() and not (workers / "process-0").exists()

    placed = json.loads((out / "environment.json").read_text())["distribute"]
    assert placed == {
        "mode": "machines", "engine": "keras.distribution.DataParallel (multi-process)", "backend": "jax",
        "processes": 2, "devices_per_process": 1, "replicas": 2, "global_batch_size": 32, "batch_size_per_process": 16,
    }  # fmt: skip
    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["train_examples"], metrics["validation_examples"]) == (1438, 358)  # 719 and 179 on each process

    # Both processes took the same steps: the same global losses and identical final weights.
    assert _history(out) == _history(private)
    chief_weights = keras.saving.load_model(out / "model.keras").get_weights()
    worker_weights = keras.saving.load_model(private / "model.keras").get_weights()
    assert len(chief_weights) == 4 and all(np.array_equal(a, b) for a, b in zip(chief_weights, worker_weights, strict=True))

    # One process alone, same spec and global batch, reaches a comparable loss.
    alone = tmp_path / "runs" / "one"
    ((code, _, err),) = _finish(_launch(spec, alone, 1, _free_port(), workers))
    assert code == 0, err[-3000:]
    one, two = _history(alone)["loss"][-1], _history(out)["loss"][-1]
    assert abs(one - two) <= 0.15 * one, (one, two)
    assert min(_history(alone)["val_accuracy"][-1], _history(out)["val_accuracy"][-1]) > 0.75
