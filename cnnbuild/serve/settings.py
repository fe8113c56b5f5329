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

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
