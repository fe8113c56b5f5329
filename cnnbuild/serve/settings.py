"""What ``cnnbuild serve`` may be told: batching and the limits every request is held to."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class ServeSettings:
    """Batching and limits of the service (the command's options; defaults for a small CPU server)."""

    #: most images in one model call
    max_batch: int = 32
    #: how long a model call waits for more images while other requests are still being read or decoded
    batch_wait_ms: float = 5.0
    #: largest request body (a bigger Content-Length is refused before the body is read)
    max_body_bytes: int = 20_000_000
    #: largest image, width x height, checked from its header before it is decoded
    max_pixels: int = 50_000_000
    #: most images in one request
    max_files: int = 16
    #: most classes a response lists per image (``?top_k=`` picks fewer)
    default_top_k: int = 5
    #: bytes every request in flight may hold together: bodies, images while decoding, decoded pixels (cnnbuild.serve.budget)
    memory_budget_bytes: int = 1_000_000_000
    #: how long a request waits for room in the memory budget before it is answered 503 with Retry-After
    budget_wait_s: float = 5.0
    #: a connection must send a whole request head within this many seconds (after connecting, or after its previous response)
    header_timeout_s: float = 10.0
    #: a request's body must arrive within this many seconds after its head
    body_timeout_s: float = 60.0
    #: most open connections (kept below the process's descriptor limit; cnnbuild.serve.connections)
    max_connections: int = 512

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
