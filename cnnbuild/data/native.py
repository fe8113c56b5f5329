"""TensorFlow imported quietly, and what native libraries print to standard error caught.

TensorFlow's C++ start-up lines and libjpeg's warnings ("Premature end of JPEG data") are
written straight to file descriptor 2, below any Python logging; cnnbuild catches them where it
can attribute them (the import, the image check) instead of letting them reach the terminal.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from typing import Any

SHOW_LOGS_ENV = "CNNBUILD_TF_LOGS"
_tensorflow: Any = None
#: Held while descriptor 2 points elsewhere: two threads swapping it at once could leave it on a closed file.
_stderr_lock = threading.RLock()


@contextlib.contextmanager
def stderr_captured() -> Iterator[list[str]]:
    """Point file descriptor 2 at a temporary file for the block; the list it yields holds what
    was written, once the block ends. ``CNNBUILD_TF_LOGS=1`` lets it through instead.

    The one place cnnbuild redirects standard error: one thread at a time (others wait), and a
    thread may nest blocks."""
    written: list[str] = []
    if os.environ.get(SHOW_LOGS_ENV):
        yield written
        return
    with _stderr_lock, tempfile.TemporaryFile(mode="w+b") as captured:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(captured.fileno(), 2)
        try:
            yield written
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            written.append(captured.read().decode("utf-8", "replace"))


def import_tensorflow() -> Any:
    """``tensorflow``, imported with its C++ start-up log lines hidden (set CNNBUILD_TF_LOGS=1 to see them).

    TensorFlow 2.21 writes them through absl before any log level applies, so file descriptor 2
    is pointed at a temporary file for the import and the first device query; if the import
    fails, what was written is shown with the error.
    """
    global _tensorflow
    if _tensorflow is not None:
        return _tensorflow
    if os.environ.get(SHOW_LOGS_ENV) or "tensorflow" in sys.modules:
        import tensorflow

        _tensorflow = tensorflow
        return tensorflow
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    written: list[str] = []
    try:
        with stderr_captured() as written:
            import tensorflow

            tensorflow.config.list_physical_devices()
    except BaseException:
        sys.stderr.write("".join(written))
        raise
    _tensorflow = tensorflow
    return tensorflow
