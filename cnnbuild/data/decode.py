"""Decode image files into the float32 examples every data source delivers, in parallel.

TensorFlow's decoders read JPEG, PNG, BMP and GIF in the tf.data graph; what they cannot read
(WebP, TIFF, CMYK JPEG, 16-bit PNG, ...) goes through Pillow in a ``py_function``. Either way
the image is converted to the spec's colour mode and resized while still uint8.
"""

from __future__ import annotations

import os
from typing import Any

from cnnbuild.contracts.values import CHANNELS
from cnnbuild.data.image_files import ImageFile


def decode_files(files: list[ImageFile], params: Any) -> Any:
    """An unbatched tf.data.Dataset of ``(float32 image, int label)``, decoded in parallel.

    ``params`` gives ``image_size`` and ``color_mode`` (any ``DataParams``) and, where it has
    them, ``interpolation`` and ``crop_to_aspect_ratio`` (default bilinear, no crop).
    """
    import numpy as np
    import tensorflow as tf

    channels = CHANNELS[params.color_mode]
    height, width = params.image_size
    interpolation = getattr(params, "interpolation", "bilinear")
    crop = bool(getattr(params, "crop_to_aspect_ratio", False))
    pil_mode = {1: "L", 3: "RGB", 4: "RGBA"}[channels]

    def pillow_decode(path: Any) -> np.ndarray:
        from PIL import Image

        from PIL import ImageOps

        with Image.open(os.fsdecode(path.numpy())) as image:
            image = _eight_bit(ImageOps.exif_transpose(image))  # the camera's orientation, as a photo viewer shows it
            return np.asarray(image.convert(pil_mode), dtype=np.uint8).reshape(image.size[1], image.size[0], channels)

    def load(path: Any, native: Any, label: Any) -> tuple[Any, Any]:
        def native_decode() -> Any:
            # channels=0 keeps the file's own channels: asking JPEG for 4 or BMP and GIF for 1
            # fails inside TensorFlow, so the conversion to the spec's color_mode is done here.
            image = tf.io.decode_image(tf.io.read_file(path), channels=0, expand_animations=False, dtype=tf.uint8)
            return to_channels(image, channels)

        def fallback_decode() -> Any:
            image = tf.py_function(pillow_decode, [path], tf.uint8)
            return tf.ensure_shape(image, [None, None, channels])

        image = tf.cond(native, native_decode, fallback_decode)
        if crop:
            image = _crop_to_aspect(image, height / width)
        # Resized while still uint8 (resize computes in float32 either way, so the pixels are the
        # same): a large photo in flight then costs its bytes once, not also 4 bytes a value as float32.
        image = tf.cast(tf.image.resize(image, (height, width), method=interpolation), tf.float32)
        image.set_shape((height, width, channels))
        return image, label

    paths = [os.fsencode(f.path) for f in files]  # bytes: names that are not valid UTF-8 still open
    natives = [f.native for f in files]
    labels = [f.label for f in files]
    dataset = tf.data.Dataset.from_tensor_slices((paths, natives, tf.constant(labels, dtype=tf.int32)))
    dataset = dataset.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    # The scan already skipped unreadable files; this keeps a file that changed since then from
    # stopping training mid-epoch. Such files are found and listed after training
    # (cnnbuild.data.recheck), so none is lost without a word.
    return dataset.ignore_errors(log_warning=False)


def _eight_bit(image: Any) -> Any:
    """16- and 32-bit grey images scaled to 8 bits by their bit depth (not by their brightest pixel)."""
    import numpy as np
    from PIL import Image

    if image.mode.startswith("I;16") or image.mode == "I":
        array = np.asarray(image, dtype=np.float64)
        scale = 257.0 if image.mode.startswith("I;16") or float(array.max(initial=0)) <= 65535 else float(array.max()) / 255.0
        return Image.fromarray(np.clip(np.round(array / scale), 0, 255).astype(np.uint8))
    if image.mode == "F":
        return Image.fromarray(np.clip(np.asarray(image), 0, 255).astype(np.uint8))
    return image


def to_channels(image: Any, channels: int) -> Any:
    """A uint8 image of 1 to 4 channels (grey, grey+alpha, RGB, RGBA) as ``channels`` channels,
    converting the way Pillow's ``convert`` does: alpha dropped, grey = ITU-R 601 luma."""
    import tensorflow as tf

    have = tf.shape(image)[-1]
    colour = tf.cond(have >= 3, lambda: image[..., :3], lambda: tf.repeat(image[..., :1], 3, axis=-1))
    if channels == 3:
        return tf.ensure_shape(colour, [None, None, 3])
    if channels == 1:
        grey = tf.cond(have >= 3, lambda: tf.image.rgb_to_grayscale(image[..., :3]), lambda: image[..., :1])
        return tf.ensure_shape(grey, [None, None, 1])
    opaque = tf.fill(tf.concat([tf.shape(image)[:-1], [1]], 0), tf.constant(255, tf.uint8))
    alpha = tf.case([(tf.equal(have, 4), lambda: image[..., 3:4]), (tf.equal(have, 2), lambda: image[..., 1:2])], default=lambda: opaque)
    return tf.ensure_shape(tf.concat([colour, alpha], -1), [None, None, 4])


def _crop_to_aspect(image: Any, ratio: float) -> Any:
    import tensorflow as tf

    shape = tf.shape(image)
    height, width = tf.cast(shape[0], tf.float32), tf.cast(shape[1], tf.float32)
    # At least one pixel either way: a very thin image still gives a (stretched) picture instead of an error
    crop_height = tf.maximum(tf.floor(tf.minimum(height, width * ratio)), 1.0)
    crop_width = tf.maximum(tf.floor(tf.minimum(width, height / ratio)), 1.0)
    top = tf.cast((height - crop_height) / 2, tf.int32)
    left = tf.cast((width - crop_width) / 2, tf.int32)
    return tf.image.crop_to_bounding_box(image, top, left, tf.cast(crop_height, tf.int32), tf.cast(crop_width, tf.int32))


