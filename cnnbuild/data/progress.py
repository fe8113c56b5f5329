"""Progress of long start-up work (loading TensorFlow, checking every image file), as log records.

Library code says what it is doing through :class:`Step`, on the ``cnnbuild.progress`` logger
(silent unless logging is configured, like the rest of the library). Each record carries a
:class:`Counts` as its ``progress`` attribute; the command line draws them: on a terminal one
line that is rewritten as the counts grow, otherwise only the step's first line.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from types import TracebackType

log = logging.getLogger("cnnbuild.progress")

#: At most this many records a second while a step counts (the first and the last always go out).
RATE = 5


@dataclass(frozen=True)
class Counts:
    """Where a step stands: ``what`` it is doing, ``done`` of ``total`` (None: a step without counts), ``finished``."""

    what: str
    done: int
    total: int | None
    finished: bool = False
    seconds: float = 0.0  # since the step began

    def line(self) -> str:
        """The step as it stands: ``checking image files: 1,200 of 10,000``, and its time once finished."""
        took = f" ({self.seconds:.1f} s)" if self.finished else ""
        if self.total is None:
            return self.what + (took or " ...")
        return f"{self.what}: {min(self.done, self.total):,} of {self.total:,}{took}"

    def first_line(self) -> str:
        """The step as one line written once, where nothing can be rewritten: ``checking image files (10,000)``."""
        return self.what if self.total is None else f"{self.what} ({self.total:,})"


class Step:
    """One step of start-up work: ``with Step("checking image files", total=n) as step: step.advance(k)``.

    Thread-safe: workers of a pool may call :meth:`advance`.
    """

    def __init__(self, what: str, total: int | None = None, *, logger: logging.Logger = log) -> None:
        self.what, self.total, self.done = what, total, 0
        self._log = logger
        self._lock = threading.Lock()
        self._last = 0.0
        self._began = time.monotonic()

    def _emit(self, finished: bool = False) -> None:
        counts = Counts(self.what, self.done, self.total, finished, time.monotonic() - self._began)
        self._log.info(counts.line(), extra={"progress": counts})

    def __enter__(self) -> Step:
        self._began = time.monotonic()
        if self._log.isEnabledFor(logging.INFO):
            self._emit()
            self._last = time.monotonic()
        return self

    def advance(self, count: int = 1) -> None:
        """``count`` more items done."""
        with self._lock:
            self.done += count
            now = time.monotonic()
            if now - self._last < 1 / RATE or not self._log.isEnabledFor(logging.INFO):
                return
            self._last = now
            self._emit()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None) -> None:
        if self._log.isEnabledFor(logging.INFO):
            self._emit(finished=True)
