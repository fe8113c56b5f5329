"""Keep converters' C++ chatter (quantizer progress lines, MLIR notes) off the terminal."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator

from cnnbuild.data.native import SHOW_LOGS_ENV, stderr_captured


@contextlib.contextmanager
def quiet_native_output() -> Iterator[None]:
    """Send file descriptor 2 to a temporary file while converters run, and TensorFlow's Python
    logger to errors only ("Assets written to ..."); CNNBUILD_TF_LOGS=1 shows both."""
    if os.environ.get(SHOW_LOGS_ENV):
        yield
        return
    tensorflow_logger = logging.getLogger("tensorflow")
    level = tensorflow_logger.level
    with stderr_captured():
        tensorflow_logger.setLevel(logging.ERROR)
        try:
            yield
        finally:
            tensorflow_logger.setLevel(level)
