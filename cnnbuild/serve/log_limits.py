"""Logging a flood of requests cannot turn into a flood of log lines.

Every handler of the server's loggers (cnnbuild's, uvicorn's, asyncio's) gets a :class:`RateLimit`
filter: the first record of a kind (logger, level, the message's first line before its
arguments) passes; more of the same kind within ``window_s`` are counted, not written, and the
next one to pass says how many were left out. Tracebacks of a repeated kind are dropped too.
"""

from __future__ import annotations

import logging
import threading
import time

#: the loggers a serving process writes to (asyncio's "socket.accept() out of system resource" included)
SERVER_LOGGERS = ("", "cnnbuild", "uvicorn", "uvicorn.error", "asyncio")


class RateLimit(logging.Filter):
    """At most one record of each kind per ``window_s`` seconds, then a count of those left out."""

    def __init__(self, window_s: float = 10.0, kinds: int = 1000) -> None:
        super().__init__()
        self.window_s = window_s
        self.kinds = kinds
        self.last: dict[tuple[str, int, str], tuple[float, int]] = {}
        self.lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.levelno, str(record.msg).split("\n", 1)[0][:200])
        now = time.monotonic()
        with self.lock:
            shown_at, left_out = self.last.get(key, (-float("inf"), 0))
            if now - shown_at < self.window_s:
                self.last[key] = (shown_at, left_out + 1)
                return False
            if len(self.last) >= self.kinds:
                self.last.clear()  # a flood of distinct messages: start counting again rather than grow
            self.last[key] = (now, 0)
        if left_out:
            record.msg = f"{record.msg} ({left_out} more like this in the last {now - shown_at:.0f} s were not logged)"
            record.exc_info = record.exc_text = None
        return True


def limit_server_logs(window_s: float = 10.0) -> RateLimit:
    """Put one shared :class:`RateLimit` on every handler of the server's loggers (and on logging's last resort)."""
    limit = RateLimit(window_s)
    handlers = {handler for name in SERVER_LOGGERS for handler in logging.getLogger(name).handlers}
    if logging.lastResort is not None:
        handlers.add(logging.lastResort)
    for handler in handlers:
        if not any(isinstance(existing, RateLimit) for existing in handler.filters):
            handler.addFilter(limit)
    return limit
