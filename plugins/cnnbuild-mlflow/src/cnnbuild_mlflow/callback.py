"""The Keras callback behind ``MLflowTracking`` (imported when a run that lists it starts)."""

from __future__ import annotations

from typing import Any

import keras

import cnnbuild
from cnnbuild_mlflow.session import TrackingSession, start_session


class MLflowTracking(keras.callbacks.Callback):
    """Starts the MLflow run when training starts and logs every epoch's metrics; the ``run_ended``
    hook uploads the artifacts once cnnbuild has written them."""

    def __init__(self, params: Any, context: cnnbuild.CallbackContext) -> None:
        super().__init__()
        self.settings, self.context = params, context  # Keras's own set_params takes self.params
        self.session: TrackingSession | None = None

    def on_train_begin(self, logs: Any = None) -> None:
        self.session = start_session(self.settings, self.context.run_dir)

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        session = self.session
        if session is not None and session.run_id is not None:
            session.guarded(f"logging epoch {epoch + 1}", lambda: session.log_epoch(epoch, dict(logs or {})))
