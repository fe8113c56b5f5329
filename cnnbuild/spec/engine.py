"""Which engine trains a spec, decided without importing Keras: the rules the spec check and the
builder must agree on."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cnnbuild.spec.document import Spec

BACKEND_ENV = "KERAS_BACKEND"
#: The Keras backend a ``distribute.mode`` needs; a mode not listed trains on any backend.
_MODE_BACKENDS = {"machines": "jax"}


def mode_backend(mode: object) -> str | None:
    """The Keras backend ``distribute.mode`` ``mode`` needs, or None when any backend will do;
    ``mode`` may be a raw YAML value (``cnnbuild run`` chooses the backend before validating)."""
    return _MODE_BACKENDS.get(mode) if isinstance(mode, str) else None


def required_backend(spec: Spec) -> str | None:
    """The Keras backend the spec's ``distribute.mode`` needs, or None when any backend will do."""
    return mode_backend(spec.distribute.mode)


def expected_backend(spec: Spec) -> str:
    """The backend the spec will train on: the one it needs, else ``KERAS_BACKEND``, else TensorFlow."""
    return required_backend(spec) or os.environ.get(BACKEND_ENV, "tensorflow")


def several_steps_per_call(mode: str, backend: str) -> bool:
    """Whether ``fit`` may run more than one batch per call (``train.steps_per_execution`` above 1).

    Keras 3.15's multi-step loop fails under TensorFlow's MirroredStrategy (InvalidArgumentError:
    "You must feed a value for placeholder tensor" in ``multi_step_on_iterator``), which
    ``distribute.mode: devices`` uses on the TensorFlow backend.
    """
    return not (mode == "devices" and backend == "tensorflow")
