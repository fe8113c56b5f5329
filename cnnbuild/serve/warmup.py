"""Warm the whole request path before the server says it is ready: one request of its own
through the app (multipart parsing, the memory budget, decoding a PNG and a JPEG, the batcher,
the model call at the model's input size), so that the first client request is as fast as the hundredth."""

from __future__ import annotations

import io
import logging
from typing import Any

log = logging.getLogger(__name__)

BOUNDARY = "cnnbuild-warm-up"


def warm_up_body(info: Any) -> bytes:
    """A multipart body with two images of the model's input size: a PNG and a JPEG."""
    import numpy as np
    from PIL import Image

    height, width = info.input.image_size
    mode = {1: "L", 3: "RGB", 4: "RGBA"}[info.input.channels]
    pixels = np.random.default_rng(0).integers(0, 256, (height, width, info.input.channels), dtype=np.uint8)
    image = Image.fromarray(pixels.squeeze(-1) if info.input.channels == 1 else pixels, mode)
    parts = []
    for name, kind in (("warm.png", "PNG"), ("warm.jpg", "JPEG")):
        buffer = io.BytesIO()
        (image.convert("RGB") if kind == "JPEG" and mode == "RGBA" else image).save(buffer, kind)
        head = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\nContent-Type: image/{kind.lower()}\r\n\r\n'
        parts.append(head.encode() + buffer.getvalue() + b"\r\n")
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


async def warm_up(app: Any, info: Any) -> None:
    """Send the warm-up request through ``app``; a failure is logged, never fatal (the server still serves)."""
    body = warm_up_body(info)
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": "/predict", "raw_path": b"/predict", "root_path": "", "query_string": b"", "client": ("127.0.0.1", 0), "server": ("127.0.0.1", 0),
        "headers": [(b"content-type", f"multipart/form-data; boundary={BOUNDARY}".encode()), (b"content-length", str(len(body)).encode())],
    }  # fmt: skip
    sent = False
    status: list[int] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    await app(scope, receive, send)
    if status != [200]:
        log.warning("warning: the warm-up request got %s; the first requests may be slow", status or "no answer")
