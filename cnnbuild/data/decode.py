"""Decode image files into the float32 examples every data source delivers, in parallel.

TensorFlow's decoders read JPEG, PNG, BMP and GIF in the tf.data graph; what they cannot read
(WebP, TIFF, CMYK JPEG, 16-bit PNG, ...) goes through Pillow in a ``py_function``. Either way
the image is converted to the spec's colour mode and resized while still uint8.
"""

from __future__ import annotations

import os
from typing import Any

from cnnbuild.contracts.values import CHANNELS
from cnnbuild.data.graph_map import graph_map
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
        from PIL import Image, ImageOps

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
            image = _crop_to_aspect(image, height, width)
        # Resized while still uint8 (resize computes in float32 either way, so the pixels are the
        # same): a large photo in flight then costs its bytes once, not also 4 bytes a value as float32.
        image = tf.cast(tf.image.resize(image, (height, width), method=interpolation), tf.float32)
        image.set_shape((height, width, channels))
        return image, label

    paths = [os.fsencode(f.path) for f in files]  # bytes: names that are not valid UTF-8 still open
    natives = [f.native for f in files]
    labels = [f.label for f in files]
    dataset = tf.data.Dataset.from_tensor_slices((paths, natives, tf.constant(labels, dtype=tf.int32)))
    dataset = graph_map(dataset, load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
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


def aspect_window(in_height: Any, in_width: Any, height: int, width: int) -> tuple[Any, Any, Any, Any]:
    """``(top, left, crop_height, crop_width)``: the largest centred window of ``height:width``
    aspect in an image of ``in_height x in_width`` (int tensors), at least one pixel either way
    (a very thin image still gives a stretched picture rather than an error). Integer arithmetic,
    so training and every export (full-int8 TFLite quantizes float scalars) crop the same pixels."""
    import tensorflow as tf

    crop_height = tf.maximum(tf.minimum(in_height, (in_width * height) // width), 1)
    crop_width = tf.maximum(tf.minimum(in_width, (in_height * width) // height), 1)
    return (in_height - crop_height) // 2, (in_width - crop_width) // 2, crop_height, crop_width


def _crop_to_aspect(image: Any, height: int, width: int) -> Any:
    import tensorflow as tf

    shape = tf.shape(image)
    top, left, crop_height, crop_width = aspect_window(shape[0], shape[1], height, width)
    return image[top : top + crop_height, left : left + crop_width, :]


