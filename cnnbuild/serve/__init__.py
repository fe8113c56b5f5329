"""``cnnbuild serve``: a run's model or an exported model behind an HTTP API and a web page.

Starlette under uvicorn (``pip install 'cnnbuild[serve]'``). Above ``export`` in the layering:
it serves what ``cnnbuild.export.open_model`` opens.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from cnnbuild.serve.settings import ServeSettings

__all__ = ["ServeSettings", "create_app", "serve"]


def create_app(model: Any, settings: ServeSettings | None = None) -> Any:
    """The ASGI app for a model opened with ``cnnbuild.export.open_model``."""
    from cnnbuild.serve.app import create_app as create

    return create(model, settings)


def serve(path: str | Path, *, host: str = "127.0.0.1", port: int = 8000, settings: ServeSettings | None = None, allow_unsafe: bool = False, announce: Callable[[str], Any] | None = None) -> None:
    """Load the model at ``path`` (a run directory or an export) and serve it until interrupted."""
    from cnnbuild.export.packages import require

    uvicorn = require("uvicorn", "cnnbuild serve")
    require("starlette", "cnnbuild serve")
    require("multipart", "cnnbuild serve (multipart uploads)")
    from cnnbuild.export.location import open_model

    import numpy as np

    model = open_model(path, allow_unsafe=allow_unsafe)
    height, width = model.info.input.image_size
    model(np.zeros((1, height, width, model.info.input.channels), np.uint8))  # compiled and allocated before the first request
    _warm_decoder(model.info.input.channels)
    app = create_app(model, settings)
    if announce:
        announce(f"serving {model.info.model_name} ({len(model.info.class_names)} classes, {model.runtime}) from {model.path}")
        announce(f"http://{host}:{port}/  (API: POST /predict, GET /health, /metadata; docs at /docs); Ctrl-C stops")
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)


def _warm_decoder(channels: int) -> None:
    """Decode one tiny PNG, so the first request does not wait for the decoder to be traced."""
    import io

    from PIL import Image

    from cnnbuild.export.images import decode_image

    buffer = io.BytesIO()
    Image.new("RGB", (2, 2)).save(buffer, "PNG")
    decode_image(buffer.getvalue(), channels, max_pixels=4)
