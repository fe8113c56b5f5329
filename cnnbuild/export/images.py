"""Encoded image bytes -> the uint8 pixels an exported model is given, with Pillow and NumPy only.

Used by ``predict`` on exported models, by ``serve`` and by the export's parity check (so the
parity record covers exactly what users get). No TensorFlow: the pixels match training's decode
(lossless formats exactly; JPEG without chroma subsampling exactly, with the fast integer DCT
TensorFlow uses; JPEG with subsampled chroma within a few levels; grey from colour with
TensorFlow's weights and rounding; the camera's EXIF orientation applied, as training applies it).

Limits come first: the header gives the size, the pixel count is checked before anything is
decoded, and :meth:`OpenedImage.peak_bytes` says what decoding will cost, so a server can hold
it to a memory budget. An image at least ``2 x REDUCE_MARGIN`` times the model's input size in
both directions is decoded smaller by a whole factor (JPEG: DCT scaling while decoding; other
formats: box averaging right after), leaving at least ``REDUCE_MARGIN`` times the model's size
for the resize inside the model; smaller images are given to the model as decoded.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import Any

from cnnbuild.data.image_files import tensorflow_reads

#: the formats training reads (cnnbuild.data.image_files.IMAGE_SUFFIXES); Pillow tries no other decoder
FORMATS = ("PNG", "JPEG", "BMP", "GIF", "WEBP", "TIFF")
PILLOW_MODES = {1: "L", 3: "RGB", 4: "RGBA"}
#: a reduced image keeps at least this many times the model's input size in each direction
REDUCE_MARGIN = 2
#: bytes Pillow keeps per pixel in each mode (its 3-channel modes take 4); 4 for any other
_STORED = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2}
#: bytes per pixel of the copy a mode is converted to before reducing: "1" to L, P to RGB(A),
#: 16- and 32-bit grey through float64 to L (cnnbuild.data.decode._eight_bit)
_CONVERTED = {"1": 1, "P": 4, "I": 9, "F": 9}
#: bytes per pixel of the reduced image's arrays at their peak: 4 uint8 values and 4 float32 temporaries
_FINAL_ARRAYS = 20
#: EXIF orientations that turn the picture by 90 degrees (width and height swap)
_TURNED = (5, 6, 7, 8)
#: how each EXIF orientation is undone (Pillow's ImageOps.exif_transpose table)
_TRANSPOSE = {2: "FLIP_LEFT_RIGHT", 3: "ROTATE_180", 4: "FLIP_TOP_BOTTOM", 5: "TRANSPOSE", 6: "ROTATE_270", 7: "TRANSVERSE", 8: "ROTATE_90"}
#: TensorFlow's rgb_to_grayscale weights
_GREY = (0.2989, 0.587, 0.114)


class ImageRejected(Exception):
    """Bytes that are not a usable image: ``code`` says which way (``empty_file``, ``not_an_image``,
    ``image_too_large``, ``bad_image``), ``reason`` says it for people."""

    def __init__(self, reason: str, *, code: str = "bad_image") -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code

    @property
    def too_large(self) -> bool:
        return self.code == "image_too_large"


def reduction(width: int, height: int, size: tuple[int, int] | None) -> int:
    """The whole factor an image of ``width x height`` is decoded smaller by, for a model input of ``size`` (height, width)."""
    if size is None:
        return 1
    return max(1, min(width // (REDUCE_MARGIN * size[1]), height // (REDUCE_MARGIN * size[0])))


@dataclass
class OpenedImage:
    """An image whose header was read and checked; nothing decoded yet."""

    image: Any  # the PIL image, draft mode set
    channels: int
    factor: int  # the whole reduction still to apply after decoding
    orientation: int | None = None  # EXIF orientation, undone after decoding
    #: the model input's (height, width), for a PNG whose orientation is known only once it is decoded
    size: tuple[int, int] | None = None

    @property
    def decoded_pixels(self) -> int:
        width, height = self.image.size  # after JPEG's DCT scaling
        return width * height

    def peak_bytes(self) -> int:
        """An upper estimate of the memory decoding takes at its peak: the decoded image, the copy
        its mode is converted to before reducing (none for L, LA, RGB, RGBA), and the reduced image's
        arrays (its pixels, and float32 temporaries when grey is computed from colour)."""
        mode = self.image.mode
        converted = 0 if mode in ("L", "LA", "RGB", "RGBA") else _CONVERTED.get(mode.split(";")[0], 4)
        return self.decoded_pixels * (_STORED.get(mode, 4) + converted) + self.held_bytes() // self.channels * _FINAL_ARRAYS

    def held_bytes(self) -> int:
        """The bytes of the pixels :meth:`decode` returns."""
        return (self.decoded_pixels // (self.factor * self.factor) + 1) * self.channels

    def decode(self) -> Any:
        """uint8 ``(height, width, channels)`` pixels; ImageRejected for truncated or corrupt data."""
        from PIL import Image

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                self.image.load()
                if self.size is not None:  # a PNG's eXIf chunk may follow its pixels: read now, without a second decode
                    self.orientation = _orientation(self.image)
                    width, height = self.image.size
                    self.factor = reduction(height, width, self.size) if self.orientation in _TURNED else reduction(width, height, self.size)
                return _pixels(self.image, self.channels, self.factor, self.orientation)
        except ImageRejected:
            raise
        except Exception as exc:  # truncated or corrupt pixel data: OSError, ValueError, SyntaxError, ...
            raise ImageRejected(f"cannot decode: {' '.join(str(exc).split())[:200] or type(exc).__name__}") from exc


def open_image(data: bytes, channels: int, *, max_pixels: int, size: tuple[int, int] | None = None) -> OpenedImage:
    """Read ``data``'s header, check it against ``max_pixels`` and plan its decode for a model input
    of ``size`` (height, width; None: decode at full size); ImageRejected saying why not."""
    from PIL import Image

    if not data:
        raise ImageRejected("empty file (0 bytes)", code="empty_file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the explicit limit below decides
            image = Image.open(io.BytesIO(data), formats=FORMATS)  # reads the header only
    except Image.DecompressionBombError as exc:
        raise ImageRejected(f"image too large: over {max_pixels:,} pixels", code="image_too_large") from exc
    except Exception as exc:  # UnidentifiedImageError, a cut-off header, ...
        raise ImageRejected(f"not an image cnnbuild reads ({', '.join(FORMATS)})", code="not_an_image") from exc
    width, height = image.size
    if width * height > max_pixels:
        raise ImageRejected(f"image too large: {width}x{height} is {width * height:,} pixels, over the limit of {max_pixels:,}", code="image_too_large")
    if width == 0 or height == 0:
        raise ImageRejected(f"image has no pixels ({width}x{height})")
    # Pillow decodes a whole PNG to look for an eXIf chunk after the pixels: that waits for decode()
    later = image.format == "PNG" and "exif" not in image.info
    orientation = None if later else _orientation(image)
    factor = reduction(height, width, size) if orientation in _TURNED else reduction(width, height, size)
    if image.format == "JPEG":
        scale = next(s for s in (8, 4, 2, 1) if s <= factor)
        if scale > 1:
            image.draft(image.mode, (width // scale, height // scale))
        # Pillow's "draft" decoder flag selects libjpeg's fast integer DCT (TensorFlow's default) and plain
        # chroma upsampling (TensorFlow's is smooth): a JPEG training decoded with TensorFlow and without
        # subsampled chroma then gets its pixels value for value; others keep Pillow's defaults (the
        # accurate DCT, smooth upsampling: within a few levels of TensorFlow's pixels)
        native = tensorflow_reads(image.format, image.mode, image.info) and orientation in (None, 0, 1)
        image.decoderconfig = (scale, int(native and _full_chroma(image)))
        factor //= scale
    return OpenedImage(image, channels, factor, orientation, size if later else None)


def decode_image(data: bytes, channels: int, *, max_pixels: int, size: tuple[int, int] | None = None) -> Any:
    """uint8 ``(height, width, channels)`` pixels of ``data`` (see :func:`open_image`); ImageRejected saying why not."""
    return open_image(data, channels, max_pixels=max_pixels, size=size).decode()


def _full_chroma(image: Any) -> bool:
    """Whether every component of a JPEG has the same sampling (no subsampled colour planes)."""
    layers = getattr(image, "layer", None) or []
    return len({(h, v) for _, h, v, _ in layers}) <= 1


def _orientation(image: Any) -> int | None:
    try:
        return image.getexif().get(0x0112)
    except Exception:  # an unreadable EXIF block: no orientation, as training reads it
        return None


def _pixels(image: Any, channels: int, factor: int, orientation: int | None) -> Any:
    """The loaded image as uint8 pixels of ``channels`` channels, converted as training converts them."""
    import numpy as np
    from PIL import Image

    from cnnbuild.data.decode import _eight_bit

    if image.format == "GIF" and "transparency" not in image.info:
        image = image.convert("RGB")  # TensorFlow's GIF decoder gives RGB (a transparent GIF is read by Pillow, below)
    elif image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif image.mode == "1":
        image = image.convert("L")
    elif image.mode not in ("L", "LA", "RGB", "RGBA"):
        image = _eight_bit(image)
        if image.mode not in ("L", "LA", "RGB", "RGBA"):
            image = image.convert("RGBA" if "A" in image.mode or "a" in image.mode else "RGB")
    if factor > 1:
        image = image.reduce(factor)
    if orientation in _TRANSPOSE:  # the camera's orientation, as a photo viewer shows it (and training reads it)
        image = image.transpose(getattr(Image.Transpose, _TRANSPOSE[orientation]))
    array = np.asarray(image, dtype=np.uint8)
    return _to_channels(array.reshape(array.shape[0], array.shape[1], -1), channels)


def _to_channels(array: Any, channels: int) -> Any:
    """1 to 4 channels (grey, grey+alpha, RGB, RGBA) as ``channels``, as training's ``to_channels`` converts:
    alpha dropped, grey from colour with TensorFlow's weights, opaque alpha added."""
    import numpy as np

    have = array.shape[-1]
    colour = array[..., :3] if have >= 3 else np.repeat(array[..., :1], 3, axis=-1)
    if channels == 3:
        return np.ascontiguousarray(colour)
    if channels == 1:
        if have < 3:
            return np.ascontiguousarray(array[..., :1])
        # tf.image.rgb_to_grayscale in float32, step for step: x * (1/255), the weighted sum, then * 255.5 truncated
        scaled = colour.astype(np.float32) * np.float32(1 / 255)
        grey = scaled[..., 0] * np.float32(_GREY[0]) + scaled[..., 1] * np.float32(_GREY[1]) + scaled[..., 2] * np.float32(_GREY[2])
        return np.clip(grey * np.float32(255.5), 0, 255).astype(np.uint8)[..., None]
    alpha = array[..., 3:4] if have == 4 else array[..., 1:2] if have == 2 else np.full((*array.shape[:2], 1), 255, np.uint8)
    return np.concatenate([colour, alpha], axis=-1)
