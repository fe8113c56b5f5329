"""Image bytes -> the pixels training decodes, without TensorFlow: the same values as training's
TensorFlow decoder, limits before decoding, large images decoded smaller by a whole factor."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from cnnbuild.export.images import REDUCE_MARGIN, ImageRejected, decode_image, open_image


def encoded(array: np.ndarray, mode: str, image_format: str, **options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array, mode).save(buffer, image_format, **options)
    return buffer.getvalue()


@pytest.mark.parametrize(("mode", "shape", "image_format", "channels"), [
    ("L", (9, 7), "PNG", 1), ("RGB", (9, 7, 3), "PNG", 3), ("RGBA", (9, 7, 4), "PNG", 4), ("RGB", (9, 7, 3), "PNG", 1),
    ("L", (9, 7), "PNG", 3), ("RGB", (9, 7, 3), "BMP", 3), ("RGB", (33, 17, 3), "JPEG", 3), ("RGB", (33, 17, 3), "JPEG", 1), ("L", (33, 17), "JPEG", 1),
])  # fmt: skip
def test_pixels_equal_what_training_decodes(mode, shape, image_format, channels):
    options = {"subsampling": 0} if image_format == "JPEG" else {}  # 4:4:4 chroma
    data = encoded(np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8), mode, image_format, **options)
    pixels = decode_image(data, channels, max_pixels=10_000)
    assert pixels.dtype == np.uint8 and pixels.shape == (shape[0], shape[1], channels)
    np.testing.assert_array_equal(pixels, training_decode(data, channels))


def test_a_jpeg_with_subsampled_chroma_is_within_a_few_levels_of_training():
    data = encoded(np.random.default_rng(1).integers(0, 256, (33, 17, 3), dtype=np.uint8), "RGB", "JPEG")  # 4:2:0, Pillow's default
    difference = np.abs(decode_image(data, 3, max_pixels=10_000).astype(int) - training_decode(data, 3).astype(int))
    assert difference.max() <= 6 and difference.mean() < 1


def training_decode(data: bytes, channels: int) -> np.ndarray:
    """What training's native path decodes (cnnbuild.data.decode: tf.io.decode_image, then to_channels)."""
    import tensorflow as tf

    from cnnbuild.data.decode import to_channels

    return to_channels(tf.io.decode_image(data, channels=0, expand_animations=False, dtype=tf.uint8), channels).numpy()


def test_photos_decode_to_training_pixels_value_for_value():
    """Real JPEG photos: TensorFlow decodes them with libjpeg's fast integer DCT, and so does this decoder
    (Pillow's default, the accurate DCT, differs by up to 20 levels on these files)."""
    from pathlib import Path

    photos = sorted(Path(__file__).resolve().parents[3].joinpath("shared", "data", "flowers").glob("*/*.jpg"))[::60]
    if not photos:
        pytest.skip("needs ../shared/data/flowers")
    for path in photos:
        data = path.read_bytes()
        for channels in (3, 1):
            np.testing.assert_array_equal(decode_image(data, channels, max_pixels=10**8), training_decode(data, channels), err_msg=str(path))


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


def test_a_large_image_is_decoded_smaller_and_its_cost_is_known_before_decoding():
    """A 4000x3000 photo for a 180x180 model: JPEG decodes at 1/8 scale (500x375), a PNG is box-reduced
    by 8 right after decoding; both leave at least REDUCE_MARGIN times the model's size for the resize inside the model."""
    photo = np.random.default_rng(3).integers(0, 256, (3000, 4000, 3), dtype=np.uint8)
    jpeg, png = encoded(photo, "RGB", "JPEG"), encoded(photo, "RGB", "PNG")
    opened = open_image(jpeg, 3, max_pixels=50_000_000, size=(180, 180))
    assert opened.image.size == (500, 375) and opened.peak_bytes() < 6_000_000  # the full decode would hold 48 MB and more
    assert opened.decode().shape == (375, 500, 3)
    opened = open_image(png, 3, max_pixels=50_000_000, size=(180, 180))
    assert opened.factor == 8 and opened.peak_bytes() > 12_000_000 * 4  # decoded whole, then reduced
    pixels = opened.decode()
    assert pixels.shape == (375, 500, 3) and min(pixels.shape[:2]) >= REDUCE_MARGIN * 180
    np.testing.assert_allclose(pixels[:2, :2].astype(float), photo[:16, :16].reshape(2, 8, 2, 8, 3).mean(axis=(1, 3)), atol=1)
    small = encoded(photo[:700, :700], "RGB", "PNG")  # under 4 times the model's size: decoded as it is
    assert decode_image(small, 3, max_pixels=10**7, size=(180, 180)).shape == (700, 700, 3)


def test_the_camera_orientation_is_applied_as_training_applies_it():
    from PIL import Image

    picture = np.zeros((10, 30, 3), np.uint8)
    picture[:, :5] = 255  # a white band on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # turned: show it rotated 90 degrees clockwise
    pixels = decode_image(encoded(picture, "RGB", "PNG", exif=exif), 3, max_pixels=10_000)
    assert pixels.shape == (30, 10, 3) and pixels[:5].min() == 255 and pixels[5:].max() == 0  # the band is on top
