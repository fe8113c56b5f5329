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

import atexit
import contextlib
import dataclasses
import importlib.util
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnnbuild.builder.run_directory import RunDirectory
from cnnbuild.builder.runtime import import_tensorflow, resolve_precision
from cnnbuild.errors import RunError

if TYPE_CHECKING:
    from cnnbuild.plugins.contracts import Datasets
    from cnnbuild.spec.document import Spec

BACKEND_ENV = "KERAS_BACKEND"
COORDINATOR_ENV = "KERAS_DISTRIBUTION_JOB_ADDRESSES"
NUM_PROCESSES_ENV = "KERAS_DISTRIBUTION_NUM_PROCESSES"
PROCESS_ID_ENV = "KERAS_DISTRIBUTION_PROCESS_ID"
JOB_INDEX_ENV = "JOB_COMPLETION_INDEX"  # set by Kubernetes in each pod of an Indexed Job
WORKER_DIR_ENV = "CNNBUILD_WORKER_DIR"
INSTALL_HINT = "pip install 'cnnbuild[distributed]'"
#: How often (in batches) the processes agree on whether someone asked to stop.
AGREE_EVERY = 20


class DistributeError(RunError):
    """The spec's ``distribute`` section cannot be carried out in this process."""


def required_backend(spec: Spec) -> str | None:
    """The Keras backend the spec's ``distribute.mode`` needs, or None when any backend will do."""
    return "jax" if spec.distribute.mode == "machines" else None


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
    mode = section.get("mode") if isinstance(section, dict) else None
    return _use_backend("jax" if mode == "machines" else None)


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
        raise DistributeError(f"coordinator: {exc}") from None
    num_processes = _env_int(NUM_PROCESSES_ENV) or spec.distribute.num_processes
    process_id = _env_int(PROCESS_ID_ENV)
    if process_id is None:
        process_id = _env_int(JOB_INDEX_ENV)
    if num_processes is not None and process_id is not None and process_id >= num_processes:
        raise DistributeError(f"process id {process_id} is out of range for {num_processes} processes (ids run from 0 to {num_processes - 1})")
    return Cluster(coordinator, num_processes, process_id)


@dataclass
class Placement:
    """How this process trains: the engine, its place among the processes, its devices."""

    mode: str = "single"
    backend: str = "tensorflow"
    engine: str = "keras fit"
    process_id: int = 0
    num_processes: int = 1
    local_devices: int = 1
    replicas: int = 1
    strategy: Any = None  # a tf.distribute strategy or a keras.distribution.Distribution
    _scratch: Path | None = None
    _whole_validation: tuple[Any, int] = (None, 0)

    @property
    def is_chief(self) -> bool:
        """Process 0 writes the run directory; the others write only to a private scratch folder."""
        return self.process_id == 0

    @property
    def shard(self) -> tuple[int, int]:
        """``(index, count)`` for :class:`~cnnbuild.plugins.contracts.DataContext`."""
        return (self.process_id, self.num_processes)

    def scope(self) -> Any:
        """Build, compile, fit, evaluate and save inside this."""
        return self.strategy.scope() if self.strategy is not None else contextlib.nullcontext()

    def describe(self, spec: Spec) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "engine": self.engine,
            "backend": self.backend,
            "processes": self.num_processes,
            "devices_per_process": self.local_devices,
            "replicas": self.replicas,
            "global_batch_size": spec.data.batch_size,
            "batch_size_per_process": spec.data.batch_size // self.num_processes,
        }

    # -- what each process reads -------------------------------------------------------------
    def pipeline_spec(self, spec: Spec) -> Spec:
        """The spec this process builds its tf.data pipelines from: ``data.batch_size`` stays the
        global batch, so each of N processes batches 1/N of it, and a cache file gets one name per process."""
        if self.num_processes == 1:
            return spec
        update: dict[str, Any] = {"batch_size": spec.data.batch_size // self.num_processes}
        if spec.data.cache not in ("memory", "none"):
            update["cache"] = f"{spec.data.cache}.process-{self.process_id}-of-{self.num_processes}"
        return spec.model_copy(update={"data": spec.data.model_copy(update=update)})

    def balance(self, source: Datasets) -> Datasets:
        """Give every process the same number of examples, a multiple of its device count.

        JAX assembles each global batch from one local batch per process and splits it over the
        devices, so every process must run the same batches of the same sizes. The training split
        is sliced by the data source (``DataContext.shard``); validation and test are whole on every
        process and are divided here. The returned counts are totals over all processes.
        """
        if self.backend != "jax" or self.replicas == 1:
            return source  # MirroredStrategy splits uneven batches itself
        n, k = self.num_processes, self.local_devices
        smallest = int(min(self.gather([source.train_count])[:, 0]))
        train = smallest // k * k
        if train == 0:
            raise DistributeError(f"{n} process(es) x {k} device(s) need at least {k} training example(s) each; the smallest shard has {smallest}")

        def divide(dataset: Any, count: int) -> tuple[Any, int]:
            each = count // n // k * k
            if dataset is None or each == 0:
                return None, 0
            return (dataset.shard(n, self.process_id) if n > 1 else dataset).take(each), each * n

        self._whole_validation = (source.validation, source.validation_count)
        validation, validation_count = divide(source.validation, source.validation_count)
        test, test_count = divide(source.test, source.test_count)
        labels = source.train_labels[:train] if source.train_labels else source.train_labels
        return dataclasses.replace(
            source,
            train=source.train.take(train), train_count=train * n, train_labels=labels,
            validation=validation, validation_count=validation_count, test=test, test_count=test_count,
        )  # fmt: skip

    def for_reports(self, model: Any, prepared: Any, spec: Spec) -> tuple[Any, Any]:
        """The model and pipelines for the figures and per-class table made after training.

        With several processes every process predicts the whole validation split (so each one's
        predictions cover all of it). Under MirroredStrategy, Keras 3.15's ``predict_on_batch``
        gives the whole batch to every replica and concatenates the results (N rows per image),
        so batches are predicted through ``predict``, which splits them.
        """
        if self.strategy is not None and self.backend == "tensorflow" and self.replicas > 1:
            model = _SplitBatches(model)
        if self.num_processes == 1 or self._whole_validation[0] is None:
            return model, prepared
        from cnnbuild.builder.data import build_pipelines

        dataset, count = self._whole_validation
        count = count // self.local_devices * self.local_devices
        local = self.pipeline_spec(spec)
        local = local.model_copy(update={"data": local.data.model_copy(update={"cache": "none"})})  # a cache file holds the shard
        return model, build_pipelines(local, dataclasses.replace(prepared.source, validation=dataset.take(count), validation_count=count, test=None, test_count=0))

    # -- agreeing across processes -------------------------------------------------------------
    def gather(self, values: list[int]) -> Any:
        """``values`` from every process, as an array of shape (processes, len(values))."""
        import numpy as np

        local = np.asarray(values, dtype="int64")[None, :]
        if self.num_processes == 1:
            return local
        from jax.experimental import multihost_utils

        return np.asarray(multihost_utils.process_allgather(local[0])).reshape(self.num_processes, -1)

    def stop_callback(self, interruption: Any) -> Any:
        """Stop on Ctrl-C/SIGTERM: alone, after the current batch; with several processes, all of them
        at the same batch (checked every ``AGREE_EVERY`` batches and at each epoch's end), since one
        process stopping alone would leave the others waiting for it."""
        if self.num_processes == 1:
            return interruption.callback()
        import keras

        placement = self

        class AgreeToStop(keras.callbacks.Callback):
            def _agree(self) -> None:
                if placement.gather([int(interruption.requested)]).max() > 0:
                    interruption.requested = True
                    self.model.stop_training = True

            def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
                if (batch + 1) % AGREE_EVERY == 0:
                    self._agree()

            def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
                self._agree()

        return AgreeToStop()

    def adapt_model(self, model: Any) -> Any:
        """On JAX, always compile with XLA: op-by-op execution is many times slower there."""
        if self.backend == "jax":
            model.jit_compile = True
        return model

    def precision(self, setting: str) -> str:
        """``train.precision``; on JAX, ``auto`` asks JAX about its devices and keeps float32 on CPUs,
        where XLA ran mixed_bfloat16 about 4x slower than float32 (docs/distributed.md)."""
        if self.backend != "jax" or setting != "auto":
            return resolve_precision(setting)
        import jax

        device = jax.devices()[0]
        if device.platform == "tpu":
            return "mixed_bfloat16"
        if device.platform == "gpu":
            major = str(getattr(device, "compute_capability", "0")).split(".")[0]
            return "mixed_float16" if major.isdigit() and int(major) >= 7 else "float32"
        return "float32"

    @property
    def runtime_errors(self) -> tuple[type[BaseException], ...]:
        """Exceptions that mean training failed at run time (data, collectives), not a bug."""
        errors: list[type[BaseException]] = [import_tensorflow().errors.OpError]
        if self.backend == "jax":
            import jax

            errors.append(jax.errors.JaxRuntimeError)
        return tuple(errors)

    # -- where this process writes ---------------------------------------------------------------
    def worker_directory(self) -> RunDirectory:
        """A non-chief process's private folder: ``$CNNBUILD_WORKER_DIR/process-I`` (kept), or a
        temporary folder removed when the process exits."""
        if self._scratch is None:
            given = os.environ.get(WORKER_DIR_ENV)
            if given:
                self._scratch = Path(given).expanduser() / f"process-{self.process_id}"
                if self._scratch.exists() and any(self._scratch.iterdir()):
                    raise DistributeError(f"{self._scratch}: {WORKER_DIR_ENV} folder for process {self.process_id} is not empty")
                self._scratch.mkdir(parents=True, exist_ok=True)
            else:
                self._scratch = Path(tempfile.mkdtemp(prefix=f"cnnbuild-process-{self.process_id}-"))
                atexit.register(shutil.rmtree, self._scratch, True)
        return RunDirectory(self._scratch)

    def resume_directory(self, run: RunDirectory, state_file: str) -> RunDirectory:
        """The chief resumes in ``run``; the others copy what resuming reads into their own folder."""
        if self.is_chief:
            return run
        scratch = self.worker_directory()
        needed = ["run.json", "spec.yaml"]
        if run.file(state_file).exists():
            needed += [state_file, run.read_json(state_file)["checkpoint"]]
        needed += [name for name in ("status.json", "metrics.json") if run.file(name).exists()]  # a finished run stays finished everywhere
        for name in needed:
            if not run.file(name).exists():
                raise DistributeError(f"{run.file(name)}: missing on process {self.process_id}; resuming several machines needs the run directory on storage they all read")
            target = scratch.file(name)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(run.file(name), target)
        return scratch


class _SplitBatches:
    """A model whose ``predict_on_batch`` goes through ``predict`` (see :meth:`Placement.for_reports`)."""

    def __init__(self, model: Any) -> None:
        self._model = model

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    def predict_on_batch(self, images: Any) -> Any:
        return self._model.predict(images, verbose=0)


_machines: Placement | None = None  # JAX joins the processes once per Python process


def setup(spec: Spec) -> Placement:
    """Set up the engine for ``spec.distribute`` in this process and say how it trains."""
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
            except RuntimeError:
                raise DistributeError(f"distribute.devices {count}: the CPU can only be split into logical devices before TensorFlow starts; run the spec in a new process") from None
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
    except RuntimeError:
        raise DistributeError("JAX was used before cnnbuild could configure its devices; run the spec in a new process") from None


def _check_batch(spec: Spec, count: int, what: str = "devices") -> None:
    if spec.data.batch_size % count:
        raise DistributeError(f"data.batch_size {spec.data.batch_size} is the global batch and must divide evenly over {count} {what}; use a multiple of {count}")


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
        print(f"process {cluster.process_id if cluster.process_id is not None else '?'}: joining {cluster.num_processes or '?'} processes at {where}", file=sys.stderr, flush=True)
        try:
            keras.distribution.initialize(cluster.coordinator, cluster.num_processes, cluster.process_id)
        except (ValueError, RuntimeError, jax.errors.JaxRuntimeError) as exc:
            raise DistributeError(
                f"cannot join the other processes: {exc}. Give --coordinator HOST:PORT (process 0's address), --num-processes N and --process-id I "
                f"(or {COORDINATOR_ENV}, {NUM_PROCESSES_ENV}, {PROCESS_ID_ENV}, or run under Slurm)"
            ) from None
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
    _machines = Placement("machines", "jax", "keras.distribution.DataParallel (multi-process)", jax.process_index(), jax.process_count(), wanted, len(chosen), distribution)
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
