"""Keep converters' C++ chatter (quantizer progress lines, MLIR notes) off the terminal."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import threading
from collections.abc import Iterator

from cnnbuild.builder.runtime import SHOW_LOGS_ENV

_lock = threading.RLock()  # two threads swapping descriptor 2 at once could leave it pointing at a closed file


@contextlib.contextmanager
def quiet_native_output() -> Iterator[None]:
    """Send file descriptor 2 to a temporary file while converters run (CNNBUILD_TF_LOGS=1 shows it)."""
    if os.environ.get(SHOW_LOGS_ENV):
        yield
        return
    tensorflow_logger = logging.getLogger("tensorflow")
    with _lock, tempfile.TemporaryFile() as captured:
        level = tensorflow_logger.level
        tensorflow_logger.setLevel(logging.ERROR)  # "Assets written to ..."
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            tensorflow_logger.setLevel(level)
