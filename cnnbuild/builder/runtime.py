"""Import TensorFlow once, quietly, and set up the process for training."""

from __future__ import annotations

import os
import sys
import tempfile
from typing import Any

SHOW_LOGS_ENV = "CNNBUILD_TF_LOGS"
_tensorflow: Any = None


def import_tensorflow() -> Any:
    """``tensorflow``, imported with its C++ start-up log lines hidden (set CNNBUILD_TF_LOGS=1 to see them).

    TensorFlow 2.21 writes them through absl before any log level applies, so file
    descriptor 2 is pointed at a temporary file for the import and the first device query;
    if the import fails, what was written is shown with the error.
    """
    global _tensorflow
    if _tensorflow is not None:
        return _tensorflow
    if os.environ.get(SHOW_LOGS_ENV) or "tensorflow" in sys.modules:
        import tensorflow

        _tensorflow = tensorflow
        return tensorflow
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow

            tensorflow.config.list_physical_devices()
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode("utf-8", "replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    _tensorflow = tensorflow
    return tensorflow


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
