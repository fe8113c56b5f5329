"""The plugin module named by the ``cnnbuild`` entry point: the ``MLflowTracking`` callback type and
the ``run_ended`` hook that uploads a finished run's artifacts.

Nothing heavy is imported here: MLflow (6-8 s to import) and Keras load when a run that lists
the callback starts, so ``cnnbuild validate`` and ``--help`` stay fast with the plugin installed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

import cnnbuild


class MLflowTrackingParams(cnnbuild.Params):
    tracking_uri: str | None = Field(
        None,
        description="where runs are tracked: http://HOST:PORT, sqlite:////abs/mlflow.db, ...; "
        "default: $MLFLOW_TRACKING_URI, else sqlite:///OUTPUT_DIR/mlflow.db beside the runs (artifacts in OUTPUT_DIR/mlartifacts)",
    )
    experiment: str | None = Field(None, description="MLflow experiment; default: the spec's name")
    run_name: str | None = Field(None, description="default: the run directory's name (trial-NNNN in a sweep)")
    log_model: bool = Field(True, description="upload model.keras with the other artifacts")
    tags: dict[str, str] = Field(default_factory=dict, description="extra tags on every run")


def tracking(params: MLflowTrackingParams, context: cnnbuild.CallbackContext) -> Any:
    from cnnbuild_mlflow.callback import MLflowTracking

    return MLflowTracking(params, context)


@cnnbuild.hookimpl
def register_callbacks(register):
    register("MLflowTracking", MLflowTrackingParams, tracking)


@cnnbuild.hookimpl
def run_ended(run_dir: Path, state: str) -> None:
    from cnnbuild_mlflow.session import finish_session

    finish_session(Path(run_dir), state)
