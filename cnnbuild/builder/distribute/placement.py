"""How one process takes part in a run: the engine, its place among the processes, its devices, its precision."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cnnbuild.builder.runtime import import_tensorflow, resolve_precision
from cnnbuild.spec.engine import several_steps_per_call

if TYPE_CHECKING:
    from cnnbuild.spec.document import Spec


@dataclass
class Placement:
    """How this process trains: the engine, its place among the processes, its devices.

    What follows from it lives beside it: the share of the data each process reads
    (:mod:`~cnnbuild.builder.distribute.sharing`), agreeing across processes
    (:mod:`~cnnbuild.builder.distribute.collectives`) and where each process writes
    (:mod:`~cnnbuild.builder.distribute.workers`).
    """

    mode: str = "single"
    backend: str = "tensorflow"
    engine: str = "keras fit"
    process_id: int = 0
    num_processes: int = 1
    local_devices: int = 1
    replicas: int = 1
    strategy: Any = None  # a tf.distribute strategy or a keras.distribution.Distribution

    @property
    def is_chief(self) -> bool:
        """Process 0 writes the run directory; the others write only to a private scratch folder."""
        return self.process_id == 0

    @property
    def runs_several_steps_per_call(self) -> bool:
        """Whether fit can take ``steps_per_execution`` above 1 here (the rule the spec check uses too)."""
        return several_steps_per_call(self.mode, self.backend)

    @property
    def shard(self) -> tuple[int, int]:
        """``(index, count)``: this process's share of the training split."""
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
