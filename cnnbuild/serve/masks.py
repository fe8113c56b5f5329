"""What ``serve`` answers for a segmentation model: each upload resized to the model's size as
training resizes it (Pillow, bilinear), and its mask (the model's map of class probabilities,
each pixel's most probable class) as a palette PNG of class indices at the image's size as
decoded, with each class's share of the pixels. ``?format=png`` asks for the PNG itself."""

from __future__ import annotations

import base64
from typing import Any

from cnnbuild.serve.problems import ApiError

#: ``?format=`` values: the JSON answer (default), or the mask PNG of a segmentation model's one image
FORMATS = ("json", "png")


def answer_format(value: str | None, per_pixel: bool) -> str:
    """The ``format`` query parameter, checked: ``png`` only for a segmentation model."""
    if value is None or value == "json":
        return "json"
    if value not in FORMATS:
        raise ApiError(400, "bad_format", f"format must be json or png, got {value!r}")
    if not per_pixel:
        raise ApiError(400, "bad_format", "format=png answers with a mask, which only a segmentation model gives; leave format out for JSON")
    return value


def model_pixels(pixels: Any, facts: Any) -> Any:
    """uint8 ``(H, W, C)`` pixels resized to the model's input size as training resized them (Pillow bilinear)."""
    import numpy as np
    from PIL import Image

    height, width = facts.image_size
    if pixels.shape[:2] == (height, width):
        return pixels
    channels = pixels.shape[-1]
    picture = Image.fromarray(pixels[..., 0] if channels == 1 else pixels, {1: "L", 3: "RGB", 4: "RGBA"}[channels])
    return np.asarray(picture.resize((width, height), Image.Resampling.BILINEAR), dtype="uint8").reshape(height, width, channels)


def answer_bytes(size: tuple[int, int], info: Any) -> int:
    """What one image's mask answer holds at its peak (``size``: the image's width and height as
    decoded): the model's per-pixel output (float32, one value a class) and its argmax at the
    model's size, then the mask at the image's size (resized, as a palette image, its PNG and that
    PNG in base64: at most six bytes a pixel)."""
    height, width = info.output.mask_size or info.input.image_size
    return height * width * (4 * len(info.class_names) + 8) + 6 * size[0] * size[1]


def mask_answer(output: Any, size: tuple[int, int], info: Any) -> tuple[bytes, dict[str, float]]:
    """The mask PNG of one image (``size``: its width and height as decoded) and each class's share of the pixels."""
    from cnnbuild.data.mask_pngs import class_shares, mask_png
    from cnnbuild.export.answers import pixel_mask

    mask = pixel_mask(output)
    return mask_png(mask, size, len(info.class_names)), class_shares(mask, info.class_names)


def mask_json(name: str, png: bytes, shares: dict[str, float], size: tuple[int, int]) -> dict[str, Any]:
    """One image's JSON answer: ``mask`` (base64 PNG), ``mask_size`` ([height, width]) and ``classes`` (shares of the pixels)."""
    return {"filename": name, "mask": base64.b64encode(png).decode("ascii"), "mask_size": [size[1], size[0]], "classes": shares}


def palette_colours(num_classes: int) -> list[str]:
    """Each class's colour in the mask PNGs, as ``#rrggbb`` (for the page's legend)."""
    from cnnbuild.data.mask_pngs import mask_palette

    flat = mask_palette(num_classes)
    return ["#" + "".join(f"{value:02x}" for value in flat[3 * index : 3 * index + 3]) for index in range(num_classes)]
