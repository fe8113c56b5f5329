"""Every error the service answers with: a status and ``{"error": {"code", "message"}}``; and the
body-size limit, enforced before a request's body is read."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A request the service refuses; ``code`` is stable for clients, ``message`` says what to do."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Any:
    from starlette.responses import JSONResponse

    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


class BodyTooLarge(ApiError):
    def __init__(self, limit: int) -> None:
        super().__init__(413, "body_too_large", f"the request body is over the limit of {limit:,} bytes (cnnbuild serve --max-body-mb)")


class BodyLimit:
    """ASGI middleware: a Content-Length over the limit (or not a number) is answered with 413 at
    once, without reading the body; a body without one (chunked) is counted as it is read."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            error = BodyTooLarge(self.limit) if length.isdigit() else ApiError(400, "bad_content_length", "the Content-Length header is not a number")
            await error_response(error.status, error.code, error.message)(scope, receive, send)
            return
        seen = 0

        async def counted() -> dict[str, Any]:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        await self.app(scope, counted, send)
