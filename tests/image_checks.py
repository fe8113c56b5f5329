"""Checks that a written figure is a real, readable, non-blank PNG."""

from __future__ import annotations

from pathlib import Path


def assert_png(path: Path, *, min_width: int = 200, min_height: int = 150, max_bytes: int = 2_000_000) -> tuple[int, int]:
    """The PNG's size, after checking its signature, dimensions, byte size and that it is not blank."""
    from PIL import Image, ImageStat

    data = Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert 1_000 < len(data) < max_bytes, f"{path} is {len(data)} bytes"
    with Image.open(path) as image:
        image.load()
        width, height = image.size
        spread = ImageStat.Stat(image.convert("L")).stddev[0]
    assert width >= min_width and height >= min_height, f"{path} is only {width}x{height}"
    assert spread > 8, f"{path} looks blank (pixel standard deviation {spread:.1f})"
    return width, height
