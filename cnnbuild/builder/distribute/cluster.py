"""Where a process stands before any engine starts: the Keras backend a spec needs, and the cluster.

Nothing here imports Keras, TensorFlow or JAX: the backend must be chosen before Keras loads.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cnnbuild.errors import RunError
from cnnbuild.spec.engine import BACKEND_ENV, mode_backend, required_backend

if TYPE_CHECKING:
    from cnnbuild.spec.document import Spec

COORDINATOR_ENV = "KERAS_DISTRIBUTION_JOB_ADDRESSES"
NUM_PROCESSES_ENV = "KERAS_DISTRIBUTION_NUM_PROCESSES"
PROCESS_ID_ENV = "KERAS_DISTRIBUTION_PROCESS_ID"
JOB_INDEX_ENV = "JOB_COMPLETION_INDEX"  # set by Kubernetes in each pod of an Indexed Job
INSTALL_HINT = "pip install 'cnnbuild[distributed]'"


class DistributeError(RunError):
    """The spec's ``distribute`` section cannot be carried out in this process."""


def select_backend(spec: Spec) -> bool:
    """Make the next ``import keras`` load the backend the spec needs.

    Returns False when Keras (or TensorFlow, which imports it) is already loaded with another
    backend: only a new process can switch. Raises :class:`DistributeError` when jax is missing.
    """
    return _use_backend(required_backend(spec))


def select_backend_for_file(path: Path, overrides: tuple[str, ...] = ()) -> bool:
    """:func:`select_backend` from a spec file's raw YAML, for ``cnnbuild run``: it runs before
    plugins load (a plugin may import Keras) and leaves validation, and its errors, to the run."""
    from cnnbuild.errors import CnnbuildError
    from cnnbuild.spec.overrides import apply_overrides
    from cnnbuild.spec.yaml_source import read_yaml

    try:
        source = read_yaml(path)
        if overrides:
            source = apply_overrides(source, overrides)
    except CnnbuildError:
        return True
    section = source.data.get("distribute") if isinstance(source.data, dict) else None
    return _use_backend(mode_backend(section.get("mode")) if isinstance(section, dict) else None)


def _use_backend(needed: str | None) -> bool:
    if needed is None:
        return True
    if importlib.util.find_spec("jax") is None:
        raise DistributeError(f"distribute.mode machines trains on Keras's JAX backend, and jax is not installed: {INSTALL_HINT}")
    if "keras" in sys.modules:
        import keras

        return keras.backend.backend() == needed
    os.environ[BACKEND_ENV] = needed
    return True


@dataclass(frozen=True)
class Cluster:
    """Where the processes meet; None values are left to JAX's own detection (Slurm)."""

    coordinator: str | None = None
    num_processes: int | None = None
    process_id: int | None = None


def _env_int(name: str) -> int | None:
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    if not value.isdigit():
        raise DistributeError(f"environment variable {name}={value!r} is not a non-negative integer")
    return int(value)


def cluster_settings(spec: Spec) -> Cluster:
    """Options and environment variables first (the CLI puts its options there), then the spec."""
    from cnnbuild.spec.sections import check_host_port

    coordinator = os.environ.get(COORDINATOR_ENV, "").split(",")[0].strip() or spec.distribute.coordinator
    try:
        if coordinator:
            check_host_port(coordinator)
    except ValueError as exc:
        raise DistributeError(f"coordinator: {exc}") from exc
    num_processes = _env_int(NUM_PROCESSES_ENV) or spec.distribute.num_processes
    process_id = _env_int(PROCESS_ID_ENV)
    if process_id is None:
        process_id = _env_int(JOB_INDEX_ENV)
    if num_processes is not None and process_id is not None and process_id >= num_processes:
        raise DistributeError(f"process id {process_id} is out of range for {num_processes} processes (ids run from 0 to {num_processes - 1})")
    return Cluster(coordinator, num_processes, process_id)
