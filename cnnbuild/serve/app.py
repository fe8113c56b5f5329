"""The ASGI application: Starlette routes over a loaded model, its batcher and the memory budget."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from cnnbuild.contracts.ranking import top_classes
from cnnbuild.contracts.tasks import task_named
from cnnbuild.export.answers import task_answer
from cnnbuild.serve.batching import Batcher
from cnnbuild.serve.budget import MemoryBudget, MeteredRequest
from cnnbuild.serve.masks import answer_bytes, answer_format, mask_answer, mask_json, model_pixels, palette_colours
from cnnbuild.serve.page import docs_page, index_page, openapi
from cnnbuild.serve.problems import ApiError, BodyLimit, error_response
from cnnbuild.serve.settings import ServeSettings
from cnnbuild.serve.uploads import decode_uploads, read_uploads
from cnnbuild.serve.warmup import warm_up

log = logging.getLogger(__name__)


def create_app(model: Any, settings: ServeSettings | None = None, *, extra_metadata: Callable[[], dict[str, Any]] | None = None) -> Any:
    """A Starlette app serving ``model`` (an ``ExportedModel``: uint8 images of any size -> probabilities).

    Its startup warms the whole request path (multipart parsing, decoding, the model call) with
    a request of its own, so the first client request is as fast as the hundredth.
    """
    from importlib.metadata import version

    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.requests import ClientDisconnect
    from starlette.responses import HTMLResponse, JSONResponse, Response
    from starlette.routing import Route

    settings = settings or ServeSettings()
    info = model.info
    batcher = Batcher(model, settings.max_batch, settings.batch_wait_ms)
    budget = MemoryBudget(settings.memory_budget_bytes, settings.budget_wait_s)
    document = openapi(info.model_name, version("cnnbuild"))

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        batcher.start()
        await warm_up(app, info)
        yield
        await batcher.stop()

    per_pixel = task_named(info.output.task).per_pixel
    if per_pixel:
        from cnnbuild.data.mask_pngs import check_mask_classes

        check_mask_classes(len(info.class_names))  # refused at the start, not with every request

    async def predict(request: Any) -> Any:
        top_k = _top_k(request.query_params.get("top_k"), settings.default_top_k, len(info.class_names))
        answer = answer_format(request.query_params.get("format"), per_pixel)
        length = request.headers.get("content-length")
        if length and length.isdigit():
            budget.check_fits(int(length))  # a body over the whole budget: 413 at once, before a byte is read
        async with budget.request() as reservation:
            batcher.arriving()
            try:
                # the body's bytes are taken from the budget as they arrive, not as the client claims
                # them: a slow client holds only what it has sent
                metered = MeteredRequest(request, reservation)
                uploads = await read_uploads(metered.request, settings)
                if answer == "png" and len(uploads) > 1:  # refused before any upload is decoded
                    raise ApiError(400, "bad_format", f"format=png answers with one image's mask, and the request holds {len(uploads)} files; send one, or leave format out for JSON")
                results = await decode_uploads(uploads, info.input, settings, reservation)
            finally:
                batcher.arrived()
            await reservation.release(metered.taken)
            images = [result for result in results if not isinstance(result, ApiError)]
            if not images:  # nothing usable: the (first) file's error is the answer
                raise results[0]
            if per_pixel:  # masks: resized as training resized, answered at the size decoded
                sizes = [(image.shape[1], image.shape[0]) for image in images]
                await reservation.take(sum(answer_bytes(size, info) for size in sizes))  # the per-pixel outputs and the masks built from them
                images = await asyncio.to_thread(lambda: [model_pixels(image, info.input) for image in images])
            rows = iter(await batcher.predict(images))
            if per_pixel:  # built while the reservation still holds their bytes
                masks = iter(await asyncio.to_thread(lambda: [mask_answer(row, size, info) for row, size in zip(rows, sizes, strict=True)]))
                if answer == "png":
                    return Response(next(masks)[0], media_type="image/png")
                sizes_left = iter(sizes)
                answers = [_failure(name, result) if isinstance(result, ApiError) else mask_json(name, *next(masks), next(sizes_left)) for (name, _), result in zip(uploads, results, strict=True)]
                return JSONResponse({"model": info.model_name, "predictions": answers})
        answers = [_failure(name, result) if isinstance(result, ApiError) else _prediction(name, next(rows), info, top_k) for (name, _), result in zip(uploads, results, strict=True)]
        return JSONResponse({"model": info.model_name, "predictions": answers})

    async def health(request: Any) -> Any:
        return JSONResponse({"status": "ok"})

    async def metadata(request: Any) -> Any:
        from cnnbuild.serve.memory import resident_bytes

        return JSONResponse({
            **info.model_dump(mode="json"), "path": model.path.name, "runtime": model.runtime, "limits": settings.as_dict(),
            "batching": {"model_calls": batcher.calls, "images": batcher.images},
            "memory": {**budget.as_dict(), "resident_bytes": resident_bytes()}, **(extra_metadata() if extra_metadata else {}),
        })  # fmt: skip

    async def page(request: Any) -> Any:
        return HTMLResponse(index_page(info.model_name, info.class_names, info.input.image_size, task_named(info.output.task), palette_colours(len(info.class_names)) if per_pixel else []))

    async def docs(request: Any) -> Any:
        return HTMLResponse(docs_page(document))

    async def openapi_json(request: Any) -> Any:
        return JSONResponse(document)

    async def api_error(request: Any, exc: ApiError) -> Any:
        return error_response(exc.status, exc.code, exc.message, getattr(exc, "headers", None))

    async def http_error(request: Any, exc: HTTPException) -> Any:
        return error_response(exc.status_code, {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error"), str(exc.detail))

    async def gone(request: Any, exc: ClientDisconnect) -> Any:
        return Response(status_code=499)  # the client left (or was cut off at a deadline): no one reads this

    async def server_error(request: Any, exc: Exception) -> Any:
        log.error("internal error: %s: %s", type(exc).__name__, exc)
        return error_response(500, "internal_error", f"the server failed on this request ({type(exc).__name__}); the next one is served")

    routes = [
        Route("/", page), Route("/predict", predict, methods=["POST"]), Route("/health", health), Route("/metadata", metadata),
        Route("/docs", docs), Route("/openapi.json", openapi_json),
    ]  # fmt: skip
    handlers = {ApiError: api_error, HTTPException: http_error, ClientDisconnect: gone, Exception: server_error}
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers=handlers)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    app.state.batcher = batcher
    app.state.budget = budget
    return app


def _top_k(value: str | None, default: int, classes: int) -> int:
    if value is None:
        return min(default, classes)
    if not value.isdigit() or int(value) < 1:
        raise ApiError(400, "bad_top_k", f"top_k must be a whole number of at least 1, got {value!r}")
    return min(int(value), classes)


def _prediction(name: str, row: Any, info: Any, top_k: int) -> dict[str, Any]:
    answer = task_answer(row, info, digits=6)
    if answer is not None:  # multi-label: labels at their thresholds; regression: values in original units
        return {"filename": name, **answer}
    class_names = info.class_names
    order = top_classes(row, top_k)
    return {
        "filename": name,
        "top": [{"class": class_names[i], "probability": round(float(row[i]), 6)} for i in order],
        "probabilities": {name: round(float(p), 6) for name, p in zip(class_names, row, strict=True)},
    }


def _failure(name: str, error: ApiError) -> dict[str, Any]:
    return {"filename": name, "error": {"code": error.code, "message": error.message, "status": error.status}}
