"""Augmentation in the tf.data pipeline, with consecutive geometric layers resampled once.

RandomFlip, RandomRotation, RandomZoom and RandomTranslation each resample the whole batch; on
a CPU that is most of the augmentation's cost (flip, rotation and zoom take about 95 ms of CPU
for 32 images of 180x180, a third of a training step). Fused, each layer still draws its own
random parameters with Keras's ``get_random_transformation``, but the maps from output to input
pixel coordinates are multiplied into one, and the batch is resampled once (about 47 ms): the
same distribution of transforms, one interpolation instead of three, and at the borders one
fill from the original image instead of fills of fills. RandomShear (an affine map) and
RandomPerspective (a homography, always with a constant fill) join the runs they match.

Label-mixing layers (MixUp, CutMix) are called on ``{"images": ..., "labels": ...}``, so the
labels are mixed with the weights of the pixels (:func:`batch_augmenter`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_RESAMPLING = ("RandomRotation", "RandomZoom", "RandomTranslation", "RandomShear", "RandomPerspective")


def _resampling_settings(layer: Any) -> tuple[str, str, float] | None:
    """``(interpolation, fill_mode, fill_value)`` of a layer the fused transform can stand in for."""
    if type(layer).__name__ in _RESAMPLING and type(layer).__module__.startswith("keras.") and getattr(layer, "data_format", None) == "channels_last":
        fill_mode = "constant" if type(layer).__name__ == "RandomPerspective" else layer.fill_mode  # it has no fill_mode: it always fills
        return layer.interpolation, fill_mode, float(layer.fill_value)
    return None


def _is_flip(layer: Any) -> bool:
    return type(layer).__name__ == "RandomFlip" and type(layer).__module__.startswith("keras.") and getattr(layer, "data_format", None) == "channels_last"


def plan(layers: list[Any]) -> list[list[Any]]:
    """The layers in order, in groups: a group of two or more is applied as one transform.

    A group is a run of flips and resampling layers that share interpolation, fill mode and fill
    value (a flip maps pixels onto pixels, so it joins any run); a run without a resampling
    layer is left to the layers themselves, whose flip is cheaper than a resampling.
    """
    groups: list[list[Any]] = []
    run: list[Any] = []
    settings: tuple[str, str, float] | None = None

    def close() -> None:
        nonlocal run, settings
        if settings is not None and len(run) > 1:
            groups.append(run)
        else:
            groups.extend([layer] for layer in run)
        run, settings = [], None

    for layer in layers:
        own = _resampling_settings(layer)
        if own is None and not _is_flip(layer):
            close()
            groups.append([layer])
            continue
        if own is not None and settings is not None and own != settings:
            close()
        run.append(layer)
        settings = settings or own
    close()
    return groups


def augmenter(layers: list[Any], *, fuse: bool = True) -> Callable[[Any], Any]:
    """A function for ``tf.data`` ``map`` that applies ``layers`` (training mode) to a batch of images.

    With ``fuse``, groups from :func:`plan` are resampled once; otherwise each layer runs in turn.
    """
    groups = plan(layers) if fuse else [[layer] for layer in layers]

    def augment(images: Any) -> Any:
        for group in groups:
            images = fused_transform(group, images) if len(group) > 1 else group[0](images, training=True)
        return images

    return augment


def batch_augmenter(layers: list[Any], mixes_labels: list[bool], *, fuse: bool = True) -> Callable[[Any, Any], tuple[Any, Any]]:
    """A function for ``tf.data`` ``map`` over ``(images, labels)`` batches: ``layers`` in order,
    those marked in ``mixes_labels`` called on images and labels together (labels one-hot, or
    ``(batch, 1)`` floats for binary labels), the others on the images (fused as :func:`augmenter`)."""
    steps: list[tuple[bool, Any]] = []
    run: list[Any] = []
    for layer, mixes in zip(layers, mixes_labels, strict=True):
        if mixes:
            if run:
                steps.append((False, augmenter(run, fuse=fuse)))
                run = []
            steps.append((True, layer))
        else:
            run.append(layer)
    if run:
        steps.append((False, augmenter(run, fuse=fuse)))

    def augment(images: Any, labels: Any) -> tuple[Any, Any]:
        for mixes, step in steps:
            if mixes:
                mixed = step({"images": images, "labels": labels}, training=True)
                images, labels = mixed["images"], mixed["labels"]
            else:
                images = step(images)
        return images, labels

    return augment


def fused_transform(group: list[Any], images: Any) -> Any:
    """``images`` (a batch, channels last) through every layer of ``group``, resampled once."""
    import tensorflow as tf

    shape = tf.shape(images)
    batch = shape[0]
    height = tf.cast(shape[1], tf.float32)
    width = tf.cast(shape[2], tf.float32)
    matrix = tf.eye(3, batch_shape=[batch])
    for layer in group:
        layer.backend.set_backend("tensorflow")  # as Keras's own tf.data path does, whatever the Keras backend
        try:
            transformation = layer.get_random_transformation(images, training=True)
            # Output-to-input maps compose left to right: the first layer's map is applied last.
            matrix = tf.linalg.matmul(matrix, _matrix(layer, transformation, batch, height, width))
        finally:
            layer.backend.reset()
    interpolation, fill_mode, fill_value = next(s for s in map(_resampling_settings, group) if s is not None)
    # a product with a homography can leave the corner entry != 1, which the op assumes
    flat = tf.reshape(matrix / matrix[:, 2:3, 2:3], (-1, 9))
    transformed = tf.raw_ops.ImageProjectiveTransformV3(
        images=tf.cast(images, tf.float32),
        transforms=flat[:, :8],
        output_shape=shape[1:3],
        fill_value=fill_value,
        interpolation=interpolation.upper(),
        fill_mode=fill_mode.upper(),
    )
    # what the last layer would have returned; the static shape too (later layers such as RandomPerspective need it)
    return tf.ensure_shape(tf.cast(transformed, group[-1].compute_dtype), images.shape)


def _rows(a0: Any, a1: Any, a2: Any, b0: Any, b1: Any, b2: Any) -> Any:
    """Per-image 3x3 matrices ``[[a0 a1 a2] [b0 b1 b2] [0 0 1]]`` from per-image values."""
    import tensorflow as tf

    zero, one = tf.zeros_like(a0), tf.ones_like(a0)
    return tf.stack([tf.stack([a0, a1, a2], axis=1), tf.stack([b0, b1, b2], axis=1), tf.stack([zero, zero, one], axis=1)], axis=1)


def _matrix(layer: Any, transformation: dict[str, Any], batch: Any, height: Any, width: Any) -> Any:
    """The output-to-input pixel map of one layer's transformation, as Keras applies it."""
    import tensorflow as tf

    def column(value: Any) -> Any:
        return tf.reshape(tf.cast(value, tf.float32), [batch])

    zero, one = tf.zeros([batch]), tf.ones([batch])
    kind = type(layer).__name__
    if kind == "RandomFlip":
        flipped = column(transformation["flips"])
        matrix = tf.eye(3, batch_shape=[batch])
        if layer.mode in ("horizontal", "horizontal_and_vertical"):
            matrix = tf.linalg.matmul(matrix, _rows(1 - 2 * flipped, zero, flipped * (width - 1), zero, one, zero))
        if layer.mode in ("vertical", "horizontal_and_vertical"):
            matrix = tf.linalg.matmul(matrix, _rows(one, zero, zero, zero, 1 - 2 * flipped, flipped * (height - 1)))
        return matrix
    if kind == "RandomRotation":
        flat = tf.cast(tf.reshape(transformation["rotation_matrix"], [batch, 8]), tf.float32)
        return _rows(*(flat[:, i] for i in range(6)))
    if kind == "RandomZoom":
        zoom_x, zoom_y = column(transformation["width_zoom"]), column(transformation["height_zoom"])
        return _rows(zoom_x, zero, (width - 1) / 2 * (1 - zoom_x), zero, zoom_y, (height - 1) / 2 * (1 - zoom_y))
    if kind == "RandomTranslation":
        shift = tf.cast(tf.reshape(transformation["translations"], [batch, 2]), tf.float32)
        return _rows(one, zero, -shift[:, 0], zero, one, -shift[:, 1])
    if kind == "RandomShear":
        shear = tf.cast(tf.reshape(transformation["shear_factor"], [batch, 2]), tf.float32)
        return _rows(one, shear[:, 0], zero, shear[:, 1], one, zero)
    if kind == "RandomPerspective":
        # Keras's own homography (output -> input pixel), as its perspective_transform computes it
        flat = tf.cast(layer.backend.image.compute_homography_matrix(transformation["start_points"], transformation["end_points"]), tf.float32)
        homography = tf.reshape(tf.concat([flat, tf.ones([batch, 1])], axis=1), [batch, 3, 3])
        applied = tf.reshape(tf.cast(transformation["apply_perspective"], tf.bool), [batch, 1, 1])
        return tf.where(applied, homography, tf.eye(3, batch_shape=[batch]))
    raise TypeError(f"no pixel map for {kind}")
