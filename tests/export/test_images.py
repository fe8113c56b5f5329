"""Image bytes -> the pixels training decodes: the same values as TensorFlow's decoder, limits before decoding."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from cnnbuild.export.images import ImageRejected, _tensorflow_decode, decode_image


def encoded(array: np.ndarray, mode: str, image_format: str, **options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array, mode).save(buffer, image_format, **options)
    return buffer.getvalue()


@pytest.mark.parametrize(("mode", "shape", "image_format", "channels"), [
    ("L", (9, 7), "PNG", 1), ("RGB", (9, 7, 3), "PNG", 3), ("RGBA", (9, 7, 4), "PNG", 4), ("RGB", (9, 7, 3), "PNG", 1),
    ("L", (9, 7), "PNG", 3), ("RGB", (9, 7, 3), "BMP", 3), ("RGB", (33, 17, 3), "JPEG", 3), ("RGB", (33, 17, 3), "JPEG", 1), ("L", (33, 17), "JPEG", 1),
])  # fmt: skip
def test_pixels_equal_what_training_decodes(mode, shape, image_format, channels):
    data = encoded(np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8), mode, image_format)
    pixels = decode_image(data, channels, max_pixels=10_000)
    assert pixels.dtype == np.uint8 and pixels.shape == (shape[0], shape[1], channels)
    np.testing.assert_array_equal(pixels, _tensorflow_decode(data, channels))  # training's decode_image + to_channels


@pytest.mark.parametrize("image_format", ["GIF", "PNG"])
def test_a_transparent_colour_is_alpha_0_in_rgba_for_gif_as_for_png(image_format):
    from ..reliability.hostile_images import transparent_palette_image

    pixels = decode_image(transparent_palette_image((200, 30, 60), image_format), 4, max_pixels=1_000)
    assert pixels[0, 0].tolist() == [0, 0, 0, 255] and pixels[0, 19].tolist() == [200, 30, 60, 0]


def test_webp_goes_through_pillow_as_in_training():
    data = encoded(np.full((5, 6, 3), 200, np.uint8), "RGB", "WEBP", lossless=True)
    assert decode_image(data, 3, max_pixels=100).shape == (5, 6, 3)


@pytest.mark.parametrize(("data", "reason", "too_large"), [
    (b"", "empty file (0 bytes)", False),
    (b"GIF89a but not really" * 3, "not an image cnnbuild reads (PNG, JPEG, BMP, GIF, WEBP, TIFF)", False),
    (b"%PDF-1.4 hello", "not an image cnnbuild reads (PNG, JPEG, BMP, GIF, WEBP, TIFF)", False),
])  # fmt: skip
def test_what_is_not_an_image_is_named(data, reason, too_large):
    with pytest.raises(ImageRejected) as caught:
        decode_image(data, 3, max_pixels=1000)
    assert (caught.value.reason, caught.value.too_large) == (reason, too_large)


def test_the_pixel_limit_is_checked_from_the_header_before_decoding():
    bomb = encoded(np.zeros((3000, 4000), np.uint8), "L", "PNG")  # 12 megapixels in a few kilobytes
    assert len(bomb) < 100_000
    with pytest.raises(ImageRejected) as caught:
        decode_image(bomb, 1, max_pixels=1_000_000)
    assert caught.value.too_large and caught.value.reason == "image too large: 4000x3000 is 12,000,000 pixels, over the limit of 1,000,000"


def test_a_truncated_file_is_refused():
    data = encoded(np.random.default_rng(2).integers(0, 256, (40, 40, 3), dtype=np.uint8), "RGB", "PNG")
    with pytest.raises(ImageRejected) as caught:
        decode_image(data[: len(data) // 2], 3, max_pixels=10_000)
    assert caught.value.reason.startswith("cannot decode:") and not caught.value.too_large
