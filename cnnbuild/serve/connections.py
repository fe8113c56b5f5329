"""Connections a slow or hostile client cannot pile up (slowloris): a deadline for a request's
headers and one for its body, and a limit on open connections kept below the process's descriptor limit.

uvicorn's HTTP/1.1 protocol (h11) with three additions: a connection that has not sent a whole
request head within ``header_timeout_s`` (after connecting, or after its previous response) is
closed; so is one whose body has not arrived within ``body_timeout_s`` after its head; and at the
connection limit, the connection that has waited longest without sending a whole head is closed
to make room (a new client is never locked out by idle ones). The limit is at most the
descriptor limit (``RLIMIT_NOFILE``) less a reserve that covers three accept batches (asyncio accepts
up to the listen backlog at once, before any connection is seen; a connection closed to make room
frees its descriptor an event-loop turn later, so in a burst three batches can be open beyond the
limit), so ``accept`` never runs out of descriptors.
"""

from __future__ import annotations

import logging
import resource
import time
from collections import OrderedDict
from typing import Any

log = logging.getLogger(__name__)

#: connections asyncio accepts in one go before any of them is seen (and closed, at the limit); with 64,
#: 260 connections opened at once under a limit of 200 descriptors ran out of them on a busy machine
ACCEPT_BATCH = 32
#: descriptors kept besides the connection limit: three accept batches, model files, uploads spooled to disk, logs
RESERVED_DESCRIPTORS = 128


def connection_limit(wanted: int) -> int:
    """``wanted``, lowered to stay :data:`RESERVED_DESCRIPTORS` below the process's descriptor limit."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(8, min(wanted, soft - RESERVED_DESCRIPTORS))


class Guard:
    """The state the connections of one server share: those still waiting for a whole request head, oldest first."""

    def __init__(self, limit: int, header_timeout_s: float, body_timeout_s: float) -> None:
        self.limit = limit
        self.header_timeout_s = header_timeout_s
        self.body_timeout_s = body_timeout_s
        self.open = 0
        self.waiting: OrderedDict[Any, float] = OrderedDict()
        self.closed = {"header_timeout": 0, "body_timeout": 0, "over_limit": 0}

    def as_dict(self) -> dict[str, Any]:
        return {"open": self.open, "limit": self.limit, "header_timeout_s": self.header_timeout_s, "body_timeout_s": self.body_timeout_s, "closed": dict(self.closed)}

    def make_room(self) -> bool:
        """At the limit: close the longest-waiting connection without a whole head; False when there is none."""
        if self.open < self.limit:
            return True
        while self.waiting:
            oldest, _ = self.waiting.popitem(last=False)
            if not oldest.transport.is_closing():
                self.closed["over_limit"] += 1
                oldest.transport.close()
                return True
        return False


def protocol_class(guard: Guard) -> type:
    """uvicorn's h11 protocol class with ``guard``'s deadlines and limit (for ``uvicorn.Config(http=...)``)."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class GuardedProtocol(H11Protocol):
        deadline: Any = None

        def connection_made(self, transport: Any) -> None:  # type: ignore[override]
            if not guard.make_room():
                guard.closed["over_limit"] += 1
                transport.write(b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 2\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                transport.close()
                self.transport = transport
                return
            guard.open += 1
            super().connection_made(transport)
            self._expect_head()

        def connection_lost(self, exc: Exception | None) -> None:
            self._clear()
            if self.flow is None:  # refused at the limit: uvicorn never saw it
                return
            guard.open -= 1
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.conn.their_state is h11.SEND_BODY and self in guard.waiting:
                del guard.waiting[self]  # the head is in: now the body's deadline
                self._arm(guard.body_timeout_s, "body_timeout")
            elif self.conn.their_state is not h11.IDLE and self.conn.their_state is not h11.SEND_BODY:
                self._clear()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._expect_head()  # a kept-alive connection: the next head has the same deadline

        def _expect_head(self) -> None:
            guard.waiting[self] = time.monotonic()
            self._arm(guard.header_timeout_s, "header_timeout")

        def _arm(self, seconds: float, reason: str) -> None:
            if self.deadline is not None:
                self.deadline.cancel()
            self.deadline = self.loop.call_later(seconds, self._expired, reason)

        def _clear(self) -> None:
            guard.waiting.pop(self, None)
            if self.deadline is not None:
                self.deadline.cancel()
                self.deadline = None

        def _expired(self, reason: str) -> None:
            self.deadline = None
            guard.waiting.pop(self, None)
            state = self.conn.their_state
            if self.transport.is_closing() or (reason == "header_timeout" and state is not h11.IDLE) or (reason == "body_timeout" and state is not h11.SEND_BODY):
                return
            guard.closed[reason] += 1
            log.warning("closed a connection from %s: its request %s did not arrive in time", _client(self.client), "head" if reason == "header_timeout" else "body")
            self.transport.close()

    return GuardedProtocol


def _client(address: Any) -> str:
    return f"{address[0]}:{address[1]}" if address else "an unknown address"
