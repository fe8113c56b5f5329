"""A /predict request's images: multipart ``file`` fields or a raw image body, read within the
limits, decoded (in a worker thread) as training decodes image files."""

from __future__ import annotations

from typing import Any

from cnnbuild.serve.problems import ApiError
from cnnbuild.serve.settings import ServeSettings

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


def decode_uploads(uploads: list[tuple[str, bytes]], channels: int, settings: ServeSettings) -> list[Any]:
    """uint8 pixels of each upload; ApiError naming the first that is not a usable image."""
    from cnnbuild.export.images import ImageRejected, decode_image

    images = []
    for name, data in uploads:
        try:
            images.append(decode_image(data, channels, max_pixels=settings.max_pixels))
        except ImageRejected as exc:
            if exc.too_large:
                raise ApiError(413, "image_too_large", f"{name}: {exc.reason} (cnnbuild serve --max-megapixels)") from exc
            code = "empty_file" if not data else "not_an_image" if exc.reason.startswith("not an image") else "bad_image"
            raise ApiError(400, code, f"{name}: {exc.reason}") from exc
    return images
