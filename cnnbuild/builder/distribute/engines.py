"""Data-parallel training on engines that already do it: which one runs a spec's ``distribute`` section.

================  ======================================  ==================================================
``mode``          TensorFlow backend (the default)        JAX backend
================  ======================================  ==================================================
``single``        plain ``model.fit``                     plain ``model.fit``
``devices``       ``tf.distribute.MirroredStrategy``      ``keras.distribution.DataParallel``
``machines``      refused (see below)                     ``keras.distribution.initialize`` + ``DataParallel``
================  ======================================  ==================================================

TensorFlow's MultiWorkerMirroredStrategy breaks inside Keras 3 ``model.fit`` (TF 2.21, Keras 3.15:
"Attempt to convert a value (PerReplica...) to a Tensor"), so ``machines`` runs on Keras's JAX
backend, which ``cnnbuild run`` selects before Keras is imported. The input pipeline is tf.data on
every backend. Why each engine was chosen, with measurements: docs/distributed.md.
"""


from __future__ import annotations

import contextlib
import logging
import sys
from typing import TYPE_CHECKING, Any

from cnnbuild.builder.distribute.cluster import COORDINATOR_ENV, NUM_PROCESSES_ENV, PROCESS_ID_ENV, DistributeError, cluster_settings, select_backend
from cnnbuild.builder.distribute.placement import Placement
from cnnbuild.builder.runtime import import_tensorflow
from cnnbuild.spec.engine import BACKEND_ENV, required_backend

if TYPE_CHECKING:
    from cnnbuild.spec.document import Spec

log = logging.getLogger(__name__)
_machines: Placement | None = None  # JAX joins the processes once per Python process


def setup(spec: Spec) -> Placement:
    """Set up the engine for ``spec.distribute`` in this process and say how it trains."""
    from cnnbuild.data.progress import Step

    if "tensorflow" not in sys.modules:
        with Step("loading TensorFlow"):
            import_tensorflow()
    import_tensorflow()
    import keras

    backend = keras.backend.backend()
    mode = spec.distribute.mode
    if mode == "single":
        return Placement(backend=backend)
    if backend == "tensorflow" and mode == "devices":
        return _tensorflow_devices(spec)
    if backend != "jax":
        needs = "a TensorFlow or JAX" if mode == "devices" else "Keras's JAX"
        raise DistributeError(
            f"distribute.mode {mode} needs {needs} backend; Keras runs on {backend}. "
            f"{'Start it with `cnnbuild run`, which selects JAX, or set KERAS_BACKEND=jax before importing keras or tensorflow' if mode == 'machines' else 'Unset KERAS_BACKEND'}"
        )
    return _jax_machines(spec) if mode == "machines" else _jax_devices(spec)


def _tensorflow_devices(spec: Spec) -> Placement:
    tf = import_tensorflow()
    wanted = spec.distribute.devices
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        if wanted != "auto" and wanted > len(gpus):
            raise DistributeError(f"distribute.devices is {wanted}, but this machine has {len(gpus)} GPU(s)")
        names = [f"/gpu:{i}" for i in range(len(gpus) if wanted == "auto" else wanted)]
    else:
        count = 1 if wanted == "auto" else wanted
        cpu = tf.config.list_physical_devices("CPU")[0]
        current = tf.config.get_logical_device_configuration(cpu) or [None]
        if len(current) != count:
            try:
                tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(count)])
            except RuntimeError as exc:
                raise DistributeError(
                    f"distribute.devices {count}: the CPU can only be split into logical devices before TensorFlow starts; run the spec in a new process"
                ) from exc
        names = [f"/cpu:{i}" for i in range(count)]
    strategy = tf.distribute.MirroredStrategy(names)
    return Placement("devices", "tensorflow", "tf.distribute.MirroredStrategy", local_devices=len(names), replicas=len(names), strategy=strategy)


def _configure_jax(devices: int | str, collectives: bool) -> None:
    """Settings JAX reads once, when its first device is used."""
    import jax

    try:
        if collectives:
            jax.config.update("jax_cpu_collectives_implementation", "gloo")  # cross-process all-reduce on CPUs
        if devices != "auto" and devices > 1:
            jax.config.update("jax_num_cpu_devices", devices)  # only affects machines without accelerators
    except RuntimeError as exc:
        raise DistributeError("JAX was used before cnnbuild could configure its devices; run the spec in a new process") from exc


def _check_batch(spec: Spec, count: int, what: str = "devices") -> None:
    if spec.data.batch_size % count:
        raise DistributeError(
            f"data.batch_size {spec.data.batch_size} is the global batch and must divide evenly over {count} {what}; use a multiple of {count}"
        )


def _jax_devices(spec: Spec) -> Placement:
    _configure_jax(spec.distribute.devices, collectives=False)
    import jax
    import keras

    local = jax.local_devices()
    wanted = len(local) if spec.distribute.devices == "auto" else spec.distribute.devices
    if wanted > len(local):
        raise DistributeError(f"distribute.devices is {wanted}, but JAX sees {len(local)} device(s) here")
    _check_batch(spec, wanted)
    distribution = keras.distribution.DataParallel(devices=local[:wanted], auto_shard_dataset=False)
    return Placement("devices", "jax", "keras.distribution.DataParallel", local_devices=wanted, replicas=wanted, strategy=distribution)


def _jax_machines(spec: Spec) -> Placement:
    global _machines
    if _machines is not None:
        _check_batch(spec, _machines.replicas)
        return _machines
    _configure_jax(spec.distribute.devices, collectives=True)
    import jax
    import keras

    tf = import_tensorflow()
    with contextlib.suppress(RuntimeError):
        tf.config.set_visible_devices([], "GPU")  # TensorFlow only feeds tf.data; the accelerators are JAX's
    cluster = cluster_settings(spec)
    if cluster.num_processes:
        _check_batch(spec, cluster.num_processes, "processes")  # before waiting for the others
    if cluster.num_processes != 1:
        where = cluster.coordinator or "the coordinator Slurm names"
        log.info("process %s: joining %s processes at %s", cluster.process_id if cluster.process_id is not None else "?", cluster.num_processes or "?", where)
        try:
            keras.distribution.initialize(cluster.coordinator, cluster.num_processes, cluster.process_id)
        except (ValueError, RuntimeError, jax.errors.JaxRuntimeError) as exc:
            raise DistributeError(
                f"cannot join the other processes: {exc}. Give --coordinator HOST:PORT (process 0's address), --num-processes N and --process-id I "
                f"(or {COORDINATOR_ENV}, {NUM_PROCESSES_ENV}, {PROCESS_ID_ENV}, or run under Slurm)"
            ) from exc
    by_process: dict[int, list[Any]] = {}
    for device in jax.devices():
        by_process.setdefault(device.process_index, []).append(device)
    per_process = min(len(devices) for devices in by_process.values())
    wanted = per_process if spec.distribute.devices == "auto" else spec.distribute.devices
    if wanted > per_process:
        raise DistributeError(f"distribute.devices is {wanted}, but a process has only {per_process} device(s)")
    chosen = [device for index in sorted(by_process) for device in by_process[index][:wanted]]
    _check_batch(spec, len(chosen))
    distribution = keras.distribution.DataParallel(devices=chosen, auto_shard_dataset=False)
    _machines = Placement(
        "machines", "jax", "keras.distribution.DataParallel (multi-process)", jax.process_index(), jax.process_count(), wanted, len(chosen), distribution
    )
    return _machines


def placement_for(spec: Spec) -> Placement:
    """Select the backend the spec needs (if Keras isn't loaded yet), then :func:`setup`."""
    if not select_backend(spec):
        import keras

        raise DistributeError(
            f"distribute.mode {spec.distribute.mode} needs Keras's {required_backend(spec)} backend, and Keras is already loaded with {keras.backend.backend()}: "
            f"run it with `cnnbuild run`, or set {BACKEND_ENV}={required_backend(spec)} before importing keras or tensorflow"
        )
    return setup(spec)
