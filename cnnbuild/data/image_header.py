"""What Pillow reads from an image file's header without decoding its pixels: the format, mode,
size and EXIF orientation, or why the file cannot be used.

The image check before training (:func:`cnnbuild.data.image_files.check_header`) and
``cnnbuild init`` read files through :func:`read_header`, so both skip a file for the same reason.
"""

from __future__ import annotations

import stat
import warnings
from dataclasses import dataclass
from pathlib import Path

#: Formats and modes TensorFlow's decoders read directly; anything else is decoded by Pillow.
NATIVE = {
    ("JPEG", "RGB"),
    ("JPEG", "L"),
    ("PNG", "RGB"),
    ("PNG", "RGBA"),
    ("PNG", "L"),
    ("PNG", "LA"),
    ("PNG", "P"),
    ("BMP", "RGB"),
    ("GIF", "P"),
    ("GIF", "L"),
}
#: EXIF tag of the camera's orientation; values 2 to 8 mean the pixels must be flipped or turned.
ORIENTATION_TAG = 0x0112
#: EXIF orientations that turn the picture a quarter: its width and height trade places once applied.
QUARTER_TURNS = frozenset({5, 6, 7, 8})
#: Pillow modes of one channel (grey levels at some bit depth).
SINGLE_CHANNEL_MODES = frozenset({"1", "L", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"})
#: Pillow modes with an alpha channel.
ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})


def tensorflow_reads(image_format: str | None, mode: str, info: dict) -> bool:
    """Whether TensorFlow's decoder gives an image of this format and mode (Pillow's ``info``) the
    pixels training wants. A GIF with a transparent colour is read by Pillow: TensorFlow's GIF
    decoder drops the transparency (alpha 255, the transparent pixels black), while PNG keeps it."""
    return (image_format, mode) in NATIVE and not (image_format == "GIF" and "transparency" in info)


@dataclass(frozen=True)
class ImageHeader:
    """One file's header: ``reason`` is empty for a file training can use. ``width`` and ``height``
    are the picture's as training sees it (after the EXIF orientation is applied)."""

    reason: str
    size: int = 0
    mtime_ns: int = 0
    image_format: str = ""
    mode: str = ""
    width: int = 0
    height: int = 0
    #: an alpha channel, or a palette colour marked transparent (whether any pixel uses it needs a decode: :func:`uses_transparency`)
    has_alpha: bool = False
    #: TensorFlow's decoder reads it as training wants it (False: Pillow does, which applies the EXIF orientation)
    native: bool = False

    @property
    def single_channel(self) -> bool:
        return self.mode in SINGLE_CHANNEL_MODES or self.mode in ("LA", "La")


def read_header(path: Path) -> ImageHeader:
    """The header of the file at ``path``, read by Pillow (no pixels decoded, no hash)."""
    from PIL import Image, UnidentifiedImageError

    try:
        status = path.stat()
    except OSError as exc:
        return ImageHeader(f"cannot read: {exc.strerror}")
    if not stat.S_ISREG(status.st_mode):  # opening a pipe would wait forever, a device never ends
        return ImageHeader("not a regular file (a pipe, device or socket)")
    size, mtime = status.st_size, status.st_mtime_ns
    if size == 0:
        return ImageHeader("empty file (0 bytes)", size, mtime)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                image_format, mode, (width, height), info = image.format or "", image.mode, image.size, dict(image.info)
                orientation = image.getexif().get(ORIENTATION_TAG, 1) if image_format in ("JPEG", "PNG", "WEBP", "TIFF", "MPO") else 1
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return ImageHeader(
            f"image too large: over {Image.MAX_IMAGE_PIXELS:,} pixels, Pillow's limit against a decompression bomb; resize it below that to train on it",
            size,
            mtime,
        )
    except UnidentifiedImageError:
        return ImageHeader("not an image Pillow can read (corrupt or another file type)", size, mtime)
    except (OSError, SyntaxError, ValueError) as exc:
        if "truncated" in str(exc).lower():
            return ImageHeader("truncated image file", size, mtime)
        return ImageHeader(f"cannot decode: {exc}", size, mtime)
    # A turned or mirrored photo goes through Pillow, which applies its EXIF orientation as
    # every photo viewer does; TensorFlow's decoder would train it sideways.
    native = tensorflow_reads(image_format, mode, info) and Path(path).suffix.lower() != ".webp" and orientation in (None, 0, 1)
    if orientation in QUARTER_TURNS:
        width, height = height, width
    has_alpha = mode in ALPHA_MODES or "transparency" in info
    return ImageHeader("", size, mtime, image_format, mode, width, height, has_alpha, native)


def uses_transparency(path: Path) -> bool:
    """Whether any pixel of the image at ``path`` is not fully opaque (decodes the image; False when it cannot be decoded)."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            if image.mode not in ALPHA_MODES and "transparency" not in image.info:
                return False
            low, _ = image.convert("RGBA").getchannel("A").getextrema()
    except Exception:  # Pillow's decoders raise OSError, ValueError, SyntaxError, struct.error, ...: not decodable, not used
        return False
    return low < 255
