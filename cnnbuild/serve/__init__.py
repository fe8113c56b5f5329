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


def serve(
    path: str | Path, *, host: str = "127.0.0.1", port: int = 8000, settings: ServeSettings | None = None, allow_unsafe: bool = False,
    allow_modified: bool = False, announce: Callable[[str], Any] | None = None,
) -> None:  # fmt: skip
    """Load the model at ``path`` (a run directory or an export) and serve it until interrupted.

    The port is taken first (a port in use is refused before any model loads); ``/health``
    answers only once the model is loaded and the request path warmed. Ctrl-C (or SIGTERM) stops
    it within a few seconds: requests in progress get that long to finish.
    """
    from cnnbuild.errors import CnnbuildError
    from cnnbuild.export.packages import require
    from cnnbuild.serve.connections import ACCEPT_BATCH, Guard, connection_limit, protocol_class
    from cnnbuild.serve.listening import listen
    from cnnbuild.serve.log_limits import limit_server_logs
    from cnnbuild.serve.memory import tune_allocator

    settings = settings or ServeSettings()
    if settings.max_body_bytes > settings.memory_budget_bytes:  # a body is held whole in the budget: one of the largest allowed size could never fit
        raise CnnbuildError(
            f"--max-body-mb {settings.max_body_bytes / 1e6:g} is over --memory-budget-mb {settings.memory_budget_bytes / 1e6:g}: a request's body is held "
            "within the memory budget, so a body of the largest size allowed could never be read; "
            "lower --max-body-mb to at most the budget, or raise --memory-budget-mb"
        )
    uvicorn = require("uvicorn", "cnnbuild serve")
    require("starlette", "cnnbuild serve")
    require("multipart", "cnnbuild serve (multipart uploads)")
    sock = listen(host, port)
    try:
        from cnnbuild.export.location import open_model
        from cnnbuild.serve.app import create_app as create

        tune_allocator()
        model = open_model(path, allow_unsafe=allow_unsafe, allow_modified=allow_modified)
        model.warm()
        guard = Guard(connection_limit(settings.max_connections), settings.header_timeout_s, settings.body_timeout_s)
        app = create(model, settings, extra_metadata=lambda: {"connections": guard.as_dict()})
        config = uvicorn.Config(app, log_level="warning", access_log=False, http=protocol_class(guard), timeout_graceful_shutdown=3, lifespan="on", backlog=ACCEPT_BATCH)
        server = uvicorn.Server(config)
        limit_server_logs()
        if announce:
            announce(f"serving {model.info.model_name} ({len(model.info.class_names)} classes, {model.runtime}) from {model.path}")
            announce(f"http://{host}:{sock.getsockname()[1]}/  (API: POST /predict, GET /health, /metadata; docs at /docs); Ctrl-C stops")
        try:
            server.run(sockets=[sock])
        except KeyboardInterrupt:  # uvicorn stops on the signal, then raises it again once it is done
            pass
        if not server.started:
            raise CnnbuildError("cnnbuild serve could not start (see the messages above)")
    finally:
        sock.close()
    if announce:
        announce("cnnbuild serve stopped")
