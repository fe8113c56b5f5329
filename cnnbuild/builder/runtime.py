"""Import TensorFlow once, quietly, and set up the process for training."""

from __future__ import annotations

from typing import Any

from cnnbuild.data.native import SHOW_LOGS_ENV, import_tensorflow

__all__ = ["SHOW_LOGS_ENV", "cpu_has_native_bfloat16", "import_keras", "import_tensorflow", "resolve_precision"]

def cpu_has_native_bfloat16() -> bool:
    """Whether the CPU computes bfloat16 natively (AVX512_BF16 or AMX), from /proc/cpuinfo."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        return False
    return False


def resolve_precision(setting: str) -> str:
    """The Keras dtype policy for ``train.precision``.

    ``auto``: mixed_float16 on a GPU of compute capability 7.0 or newer, mixed_bfloat16 on a CPU
    with native bfloat16, float32 otherwise.
    """
    if setting != "auto":
        return setting
    tf = import_tensorflow()
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        capability = tf.config.experimental.get_device_details(gpus[0]).get("compute_capability") or (0, 0)
        return "mixed_float16" if tuple(capability) >= (7, 0) else "float32"
    return "mixed_bfloat16" if cpu_has_native_bfloat16() else "float32"


def import_keras() -> Any:
    """``keras``, imported after TensorFlow (quietly, see :func:`import_tensorflow`).

    Modules that define Keras subclasses call this at import time; they are imported only once
    the backend is chosen (``cnnbuild.builder.distribute.cluster.select_backend``).
    """
    import_tensorflow()
    import keras

    return keras
