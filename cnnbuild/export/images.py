"""Encoded image bytes -> the uint8 pixels training would have decoded, with limits checked first.

Used by ``predict`` on exported models and by ``serve``. The header is read with Pillow (only the
formats training reads), the pixel count is checked before anything is decoded, and the pixels
come from the decoder training uses for that file: TensorFlow's for the formats it reads
natively (so JPEGs decode to the same values as in training), Pillow's for the rest and for
PNG and BMP images already in the wanted colour mode (lossless: both decoders give the same pixels).
"""

from __future__ import annotations

import io
import threading
import warnings
from typing import Any

from cnnbuild.data.image_files import tensorflow_reads

#: the formats training reads (cnnbuild.data.image_files.IMAGE_SUFFIXES); Pillow tries no other decoder
FORMATS = ("PNG", "JPEG", "BMP", "GIF", "WEBP", "TIFF")
PILLOW_MODES = {1: "L", 3: "RGB", 4: "RGBA"}
#: lossless formats whose pixels, when already in the wanted mode, are the same from either decoder
#: (Pillow's is a few times faster for small images: no TensorFlow call)
LOSSLESS = ("PNG", "BMP")


class ImageRejected(Exception):
    """Bytes that are not a usable image; ``too_large`` when the image exceeds the pixel limit."""

    def __init__(self, reason: str, *, too_large: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.too_large = too_large


def decode_image(data: bytes, channels: int, *, max_pixels: int) -> Any:
    """uint8 ``(height, width, channels)`` pixels of ``data``; ImageRejected saying why not."""
    from PIL import Image

    if not data:
        raise ImageRejected("empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the explicit limit below decides
            image = Image.open(io.BytesIO(data), formats=FORMATS)  # reads the header only
    except Image.DecompressionBombError as exc:
        raise ImageRejected(f"image too large: over {max_pixels:,} pixels", too_large=True) from exc
    except Exception as exc:  # UnidentifiedImageError, a cut-off header, ...
        raise ImageRejected(f"not an image cnnbuild reads ({', '.join(FORMATS)})") from exc
    width, height = image.size
    if width * height > max_pixels:
        raise ImageRejected(f"image too large: {width}x{height} is {width * height:,} pixels, over the limit of {max_pixels:,}", too_large=True)
    if width == 0 or height == 0:
        raise ImageRejected(f"image has no pixels ({width}x{height})")
    lossless_as_is = image.format in LOSSLESS and image.mode == PILLOW_MODES[channels]
    if tensorflow_reads(image.format, image.mode, image.info) and not lossless_as_is:
        pixels = _tensorflow_decode(data, channels)
        if pixels is not None:
            return pixels
    return _pillow_decode(image, channels, max_pixels)


def _pillow_decode(image: Any, channels: int, max_pixels: int) -> Any:
    import numpy as np
    from PIL import Image

    from cnnbuild.data.decode import _eight_bit

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image.load()
            converted = _eight_bit(image).convert(PILLOW_MODES[channels])
    except Exception as exc:  # truncated or corrupt pixel data: OSError, ValueError, SyntaxError, ...
        raise ImageRejected(f"cannot decode: {' '.join(str(exc).split())[:200] or type(exc).__name__}") from exc
    return np.asarray(converted, dtype=np.uint8).reshape(converted.size[1], converted.size[0], channels)


_decoders: dict[int, Any] = {}
_decoders_lock = threading.Lock()


def _tensorflow_decode(data: bytes, channels: int) -> Any:
    """Training's native decode (``tf.io.decode_image`` then ``to_channels``), or None when it fails
    (training then falls back to Pillow too)."""
    from cnnbuild.builder.runtime import import_tensorflow

    tf = import_tensorflow()

    with _decoders_lock:
        if channels not in _decoders:
            from cnnbuild.data.decode import to_channels

            signature = [tf.TensorSpec([], tf.string)]
            _decoders[channels] = tf.function(
                lambda encoded: to_channels(tf.io.decode_image(encoded, channels=0, expand_animations=False, dtype=tf.uint8), channels), input_signature=signature
            )
        decoder = _decoders[channels]
    try:
        return decoder(tf.constant(data)).numpy()
    except (tf.errors.OpError, ValueError):
        return None
