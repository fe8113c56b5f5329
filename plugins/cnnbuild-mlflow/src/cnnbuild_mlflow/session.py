"""One cnnbuild run tracked as one MLflow run: started when training starts, metrics per epoch,
artifacts and the final status when cnnbuild says the run ended (the ``run_ended`` hook).

Tracking never changes a run's outcome: an MLflow error is logged as a warning once and the
session stops tracking. ``mlflow.json`` in the run directory names the MLflow run, so
``cnnbuild run --resume`` continues the same MLflow run.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from pathlib import Path
from typing import Any

import yaml

import cnnbuild
from cnnbuild.contracts import run_layout
from cnnbuild.contracts.atomic import write_atomically
from cnnbuild_mlflow import naming
from cnnbuild_mlflow.sweeps import parent_run

log = logging.getLogger("cnnbuild.plugins.mlflow")
SESSION_FILE = "mlflow.json"
ARTIFACTS = (run_layout.SPEC, run_layout.METRICS, run_layout.HISTORY_CSV, run_layout.SUMMARY, run_layout.CURVES, run_layout.CONFUSION_MATRIX, run_layout.MISCLASSIFIED)
END_STATUS = {"completed": "FINISHED", "interrupted": "KILLED", "failed": "FAILED"}
_SESSIONS: dict[Path, TrackingSession] = {}


class TrackingSession:
    """The MLflow run of one cnnbuild run (``params`` are the callback's ``MLflowTrackingParams``)."""

    def __init__(self, params: Any, run_dir: Path) -> None:
        self.params, self.run_dir = params, run_dir.resolve()
        self.client: Any = None
        self.run_id: str | None = None
        self.broken = False

    def guarded(self, what: str, action: Any) -> Any:
        """Run ``action()``; an MLflow failure becomes one warning and ends tracking for this run."""
        if self.broken:
            return None
        try:
            return action()
        except Exception as exc:
            self.broken = True
            log.warning("warning: MLflow tracking stopped (%s): %s: %s; the run itself goes on", what, type(exc).__name__, str(exc).splitlines()[0][:300] if str(exc) else "")
            return None

    def start(self) -> None:
        from mlflow.tracking import MlflowClient

        for noisy in ("mlflow", "alembic"):  # database migrations and store notes at INFO
            logging.getLogger(noisy).setLevel(logging.WARNING)

        record = cnnbuild.load_run(self.run_dir)
        spec = yaml.safe_load(record.spec_text)
        uri = self.params.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or naming.default_tracking_uri(Path(spec["output"]["dir"]))
        self.client = MlflowClient(tracking_uri=uri)
        experiment = self.params.experiment or str(spec.get("name", "cnnbuild"))
        found = self.client.get_experiment_by_name(experiment)
        experiment_id = found.experiment_id if found else self.client.create_experiment(experiment, artifact_location=naming.artifact_root(uri))
        previous = self.run_dir / SESSION_FILE
        if previous.exists():  # --resume: the same MLflow run
            self.run_id = json.loads(previous.read_text())["run_id"]
            self.client.update_run(self.run_id, status="RUNNING")
            return
        sweep = (record.info.get("tags") or {}).get("sweep")
        tags = {**self.params.tags, **self._tags(record)}
        if sweep:
            tags["mlflow.parentRunId"] = parent_run(self.client, experiment_id, Path(sweep), record.info["tags"].get("study"))
        name = self.params.run_name or (f"trial-{record.info['tags']['trial']:04d}" if sweep else self.run_dir.name)
        self.run_id = self.client.create_run(experiment_id, run_name=name, tags=tags).info.run_id
        write_atomically(previous, lambda path: path.write_text(json.dumps({"tracking_uri": uri, "experiment_id": experiment_id, "run_id": self.run_id}) + "\n"))
        self._log_params(naming.flatten(spec))

    def _tags(self, record: Any) -> dict[str, str]:
        environment = record.environment or {}
        tags = {
            "cnnbuild.version": str(environment.get("versions", {}).get("cnnbuild", "")),
            "cnnbuild.dataset_fingerprint": str(environment.get("data", {}).get("fingerprint", "")),
            "cnnbuild.run_dir": str(self.run_dir),
            "cnnbuild.kind": "trial" if (record.info.get("tags") or {}).get("sweep") else "run",
        }
        for name, item in (record.info.get("tags") or {}).items():
            tags[naming.key(f"cnnbuild.{name}")] = str(item)
        return tags

    def _log_params(self, params: dict[str, str]) -> None:
        from mlflow.entities import Param

        items = [Param(name, item) for name, item in params.items()]
        for start in range(0, len(items), 100):  # MLflow takes at most 100 params per batch
            self.client.log_batch(self.run_id, params=items[start : start + 100])

    def log_epoch(self, epoch: int, logs: dict[str, Any]) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [Metric(naming.key(name), float(item), now, epoch + 1) for name, item in logs.items() if isinstance(item, (int, float)) and math.isfinite(float(item))]
        if metrics:
            self.client.log_batch(self.run_id, metrics=metrics)

    def finish(self, state: str) -> None:
        """Upload the artifacts the run wrote and set the MLflow run's final status."""
        for name in ARTIFACTS:
            if (self.run_dir / name).is_file():
                self.client.log_artifact(self.run_id, str(self.run_dir / name))
        if self.params.log_model and (self.run_dir / run_layout.MODEL).is_file():
            self.client.log_artifact(self.run_id, str(self.run_dir / run_layout.MODEL), artifact_path="model")
        metrics = (cnnbuild.load_run(self.run_dir).metrics or {}) if state == "completed" else {}
        summary = {f"saved_model_val_{name}": item for name, item in (metrics.get("validation") or {}).items()}
        summary.update({"epochs_run": metrics.get("epochs_run"), "wall_seconds": metrics.get("wall_seconds")})
        self.log_epoch(-1, {name: item for name, item in summary.items() if item is not None})
        self.client.set_terminated(self.run_id, status=END_STATUS.get(state, "FAILED"))


def start_session(params: Any, run_dir: Path) -> TrackingSession:
    session = TrackingSession(params, run_dir)
    session.guarded("starting the MLflow run", session.start)
    if session.run_id is not None:
        _SESSIONS[session.run_dir] = session
    return session


def finish_session(run_dir: Path, state: str) -> None:
    """The ``run_ended`` hook: finish the tracked MLflow run of ``run_dir``, if this process tracked one."""
    session = _SESSIONS.pop(run_dir.resolve(), None)
    if session is not None:
        session.guarded("uploading artifacts", lambda: session.finish(state))
