"""How one process takes part in a data-parallel run: its data, its batch, where it writes, when it stops."""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnnbuild.builder.cluster import DistributeError
from cnnbuild.builder.run_directory import RunDirectory
from cnnbuild.builder.runtime import import_tensorflow, resolve_precision

if TYPE_CHECKING:
    from cnnbuild.plugins.contracts import Datasets
    from cnnbuild.spec.document import Spec

WORKER_DIR_ENV = "CNNBUILD_WORKER_DIR"
#: How often (in batches) the processes agree on whether someone asked to stop.
AGREE_EVERY = 20


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
    def runs_several_steps_per_call(self) -> bool:
        """Whether fit can take ``steps_per_execution`` above 1 here: Keras 3.15's multi-step loop
        fails under a tf.distribute strategy (InvalidArgumentError: "You must feed a value for
        placeholder tensor" in ``multi_step_on_iterator``), so MirroredStrategy runs one step per call."""
        return not (self.backend == "tensorflow" and self.strategy is not None)

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
        return model, build_pipelines(
            local, dataclasses.replace(prepared.source, validation=dataset.take(count), validation_count=count, test=None, test_count=0)
        )

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
        """Stop on Ctrl-C/SIGTERM: alone, after the current call; with several processes, all of them
        at the same call (checked once every ``AGREE_EVERY`` batches and at each epoch's end), since one
        process stopping alone would leave the others waiting for it."""
        if self.num_processes == 1:
            return interruption.callback()
        import keras

        placement = self

        class AgreeToStop(keras.callbacks.Callback):
            agreed_at = 0  # batches of this epoch, in whole AGREE_EVERY blocks, last agreed on

            def _agree(self) -> None:
                if placement.gather([int(interruption.requested)]).max() > 0:
                    interruption.requested = True
                    self.model.stop_training = True

            def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
                self.agreed_at = 0

            def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
                # ``batch`` is the last index of a call of train.steps_per_execution batches; every
                # process sees the same indices, so all of them agree at the same calls.
                if (batch + 1) // AGREE_EVERY > self.agreed_at:
                    self.agreed_at = (batch + 1) // AGREE_EVERY
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
        """A non-chief process's private folder: ``$CNNBUILD_WORKER_DIR/process-I`` (``process-I-2``, ...
        when that one is taken; kept), or a temporary folder removed when the process exits."""
        if self._scratch is None:
            given = os.environ.get(WORKER_DIR_ENV)
            if given:
                base = Path(given).expanduser() / f"process-{self.process_id}"
                self._scratch = next(
                    p for n in range(1, 10_000) if not (p := base.with_name(base.name + (f"-{n}" if n > 1 else ""))).exists() or not any(p.iterdir())
                )
                try:
                    self._scratch.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise DistributeError(
                        f"{self._scratch}: cannot create the folder for process {self.process_id} ({WORKER_DIR_ENV}): {exc.strerror or exc}"
                    ) from None
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
                raise DistributeError(
                    f"{run.file(name)}: missing on process {self.process_id}; resuming several machines needs the run directory on storage they all read"
                )
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
