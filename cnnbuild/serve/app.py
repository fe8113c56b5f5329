"""The ASGI application: Starlette routes over a loaded model and its batcher."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from cnnbuild.contracts.ranking import top_classes
from cnnbuild.serve.batching import Batcher
from cnnbuild.serve.page import docs_page, index_page, openapi
from cnnbuild.serve.problems import ApiError, BodyLimit, error_response
from cnnbuild.serve.settings import ServeSettings
from cnnbuild.serve.uploads import decode_uploads, read_uploads

log = logging.getLogger(__name__)


def create_app(model: Any, settings: ServeSettings | None = None) -> Any:
    """A Starlette app serving ``model`` (an ``ExportedModel``: uint8 images of any size -> probabilities)."""
    from importlib.metadata import version

    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.responses import HTMLResponse, JSONResponse
    from starlette.routing import Route

    settings = settings or ServeSettings()
    info = model.info
    batcher = Batcher(model, settings.max_batch, settings.batch_wait_ms)
    document = openapi(info.model_name, version("cnnbuild"))

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        batcher.start()
        yield
        await batcher.stop()

    async def predict(request: Any) -> Any:
        top_k = _top_k(request.query_params.get("top_k"), settings.default_top_k, len(info.class_names))
        batcher.arriving()
        try:
            uploads = await read_uploads(request, settings)
            images = await asyncio.to_thread(decode_uploads, uploads, info.input.channels, settings)
        finally:
            batcher.arrived()
        rows = await batcher.predict(images)
        return JSONResponse({"model": info.model_name, "predictions": [_prediction(name, row, info.class_names, top_k) for (name, _), row in zip(uploads, rows)]})

    async def health(request: Any) -> Any:
        return JSONResponse({"status": "ok"})

    async def metadata(request: Any) -> Any:
        return JSONResponse({
            **info.model_dump(mode="json"), "path": str(model.path), "runtime": model.runtime, "limits": settings.as_dict(),
            "batching": {"model_calls": batcher.calls, "images": batcher.images},
        })  # fmt: skip

    async def page(request: Any) -> Any:
        return HTMLResponse(index_page(info.model_name, len(info.class_names), info.input.image_size))

    async def docs(request: Any) -> Any:
        return HTMLResponse(docs_page(document))

    async def openapi_json(request: Any) -> Any:
        return JSONResponse(document)

    async def api_error(request: Any, exc: ApiError) -> Any:
        return error_response(exc.status, exc.code, exc.message)

    async def http_error(request: Any, exc: HTTPException) -> Any:
        return error_response(exc.status_code, {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error"), str(exc.detail))

    async def server_error(request: Any, exc: Exception) -> Any:
        log.error("internal error: %s: %s", type(exc).__name__, exc)
        return error_response(500, "internal_error", f"the server failed on this request ({type(exc).__name__}); the next one is served")

    routes = [
        Route("/", page), Route("/predict", predict, methods=["POST"]), Route("/health", health), Route("/metadata", metadata),
        Route("/docs", docs), Route("/openapi.json", openapi_json),
    ]  # fmt: skip
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={ApiError: api_error, HTTPException: http_error, Exception: server_error})
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    app.state.batcher = batcher
    return app


def _top_k(value: str | None, default: int, classes: int) -> int:
    if value is None:
        return min(default, classes)
    if not value.isdigit() or int(value) < 1:
        raise ApiError(400, "bad_top_k", f"top_k must be a whole number of at least 1, got {value!r}")
    return min(int(value), classes)


def _prediction(name: str, row: Any, class_names: list[str], top_k: int) -> dict[str, Any]:
    order = top_classes(row, top_k)
    return {
        "filename": name,
        "top": [{"class": class_names[i], "probability": round(float(row[i]), 6)} for i in order],
        "probabilities": {name: round(float(p), 6) for name, p in zip(class_names, row)},
    }
