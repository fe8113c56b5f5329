"""A /predict request's images: multipart ``file`` fields or a raw image body, read within the
limits, decoded (in worker threads, within the memory budget) as training decodes image files;
each upload's result or error on its own, so one bad file does not spoil the others."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cnnbuild.export.images import ImageRejected, open_image
from cnnbuild.serve.problems import ApiError
from cnnbuild.serve.settings import ServeSettings

if TYPE_CHECKING:
    from cnnbuild.export.metadata import InputFacts
    from cnnbuild.serve.budget import Reservation

RAW_TYPES = ("application/octet-stream",)


async def read_uploads(request: Any, settings: ServeSettings) -> list[tuple[str, bytes]]:
    """``(name, bytes)`` of each image in the request; ApiError for anything else."""
    from starlette.exceptions import HTTPException

    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        try:
            async with request.form(max_files=settings.max_files, max_fields=settings.max_files) as form:
                files = form.getlist("file")
                if not files:
                    raise ApiError(400, "no_file", "the multipart body has no field named 'file'; send each image as a 'file' field")
                uploads = []
                for index, item in enumerate(files):
                    if isinstance(item, str):
                        raise ApiError(400, "not_a_file", f"'file' field {index + 1} is text, not a file upload")
                    uploads.append((item.filename or f"file {index + 1}", await item.read()))
                return uploads
        except HTTPException as exc:  # Starlette's multipart errors: malformed body, too many files or fields
            if exc.status_code == 413:
                raise
            raise ApiError(400, "bad_multipart", f"cannot read the multipart body: {exc.detail}") from exc
    if content_type.startswith("image/") or content_type in RAW_TYPES:
        body = await request.body()
        if not body:
            raise ApiError(400, "empty_body", "the request body is empty; send the image's bytes")
        return [("body", body)]
    shown = content_type or "none"
    raise ApiError(415, "unsupported_media_type", f"Content-Type {shown} is not accepted: send multipart/form-data with 'file' fields, or the image's bytes as image/* or application/octet-stream")


async def decode_uploads(uploads: list[tuple[str, bytes]], facts: InputFacts, settings: ServeSettings, reservation: Reservation) -> list[Any]:
    """For each upload, in order: its uint8 pixels, or the ApiError saying why it is not a usable image.

    Each image's decoding peak is taken from the memory budget before it is decoded (in a worker
    thread), and only what the decoded pixels keep stays taken; OverBudget (503) when there is no room in time.
    """
    import asyncio

    from cnnbuild.serve.budget import MODEL_COPIES

    results: list[Any] = []
    for name, data in uploads:
        try:
            opened = await asyncio.to_thread(open_image, data, facts.channels, max_pixels=settings.max_pixels, size=facts.image_size)
            peak = opened.peak_bytes()
            await reservation.take(peak)
            try:
                pixels = await asyncio.to_thread(opened.decode)
            except BaseException:
                await reservation.release(peak)
                raise
            await reservation.release(max(0, peak - pixels.nbytes * MODEL_COPIES))
            results.append(pixels)
        except ImageRejected as exc:
            results.append(rejection(name, exc))
        except ApiError as exc:
            if exc.status != 413:  # 503: no room in the budget for now, which is the whole request's answer
                raise
            results.append(ApiError(exc.status, exc.code, f"{name}: {exc.message}"))  # this image alone can never fit
    return results


def rejection(name: str, exc: ImageRejected) -> ApiError:
    """The error a client gets for one upload that is not a usable image."""
    if exc.too_large:
        return ApiError(413, exc.code, f"{name}: {exc.reason} (cnnbuild serve --max-megapixels)")
    return ApiError(400, exc.code, f"{name}: {exc.reason}")
