"""``image_directory``: a folder of class sub-folders, as flower_photos and cell_images are laid out."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator

from cnnbuild.errors import DataError
from cnnbuild.plugins.builtin.image_files import ImageFile, Scan, class_folders, scan
from cnnbuild.plugins.builtin.splitting import stratified_split
from cnnbuild.plugins.contracts import DataContext, Datasets
from cnnbuild.plugins.hookspecs import hookimpl
from cnnbuild.spec.sections import DataParams
from cnnbuild.spec.types import Interpolation, SpecPath


class ImageDirectoryParams(DataParams):
    path: SpecPath | None = Field(None, description="folder of class sub-folders, relative to the spec file")
    url: str | None = Field(None, description="archive (.tgz, .tar.gz, .zip) downloaded and extracted when path does not exist")
    sha256: str | None = Field(None, pattern=r"^[0-9a-fA-F]{64}$", description="expected checksum of the archive")
    class_names: list[str] | None = Field(None, min_length=2, description="classes to use, in label order; default: every sub-folder, sorted")
    interpolation: Interpolation = "bilinear"
    crop_to_aspect_ratio: bool = Field(False, description="center-crop to the target aspect ratio before resizing instead of stretching")
    test_path: SpecPath | None = Field(None, description="separate folder with the same class sub-folders, evaluated after training")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://", "file://")):
            raise ValueError("must start with https://, http:// or file://")
        return value

    @field_validator("class_names")
    @classmethod
    def _unique(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError("class names must be unique")
        return value

    @model_validator(mode="after")
    def _where(self) -> ImageDirectoryParams:
        if self.path is None and self.url is None:
            raise ValueError("give data.path (a folder of class sub-folders) or data.url (an archive of one)")
        return self


def data_root(params: ImageDirectoryParams, context: DataContext) -> Path:
    """The folder the images are in: ``path``, or where ``url`` is extracted to."""
    if params.path is not None:
        return context.resolve_path(params.path)
    from cnnbuild.plugins.builtin.archives import cache_dir_for

    return cache_dir_for(params.url)


def class_names(params: ImageDirectoryParams, context: DataContext) -> list[str] | None:
    if params.class_names:
        return list(params.class_names)
    root = data_root(params, context)
    return class_folders(root) if root.is_dir() else None


def decode_files(files: list[ImageFile], params: ImageDirectoryParams) -> Any:
    """An unbatched tf.data.Dataset of ``(float32 image, int label)``, decoded in parallel."""
    import numpy as np
    import tensorflow as tf

    from cnnbuild.spec.types import CHANNELS

    channels = CHANNELS[params.color_mode]
    height, width = params.image_size
    pil_mode = {1: "L", 3: "RGB", 4: "RGBA"}[channels]

    def pillow_decode(path: Any) -> np.ndarray:
        from PIL import Image

        with Image.open(os.fsdecode(path.numpy())) as image:
            image = _eight_bit(image)
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
        if params.crop_to_aspect_ratio:
            image = _crop_to_aspect(image, height / width)
        # Resized while still uint8 (resize computes in float32 either way, so the pixels are the
        # same): a large photo in flight then costs its bytes once, not also 4 bytes a value as float32.
        image = tf.cast(tf.image.resize(image, (height, width), method=params.interpolation), tf.float32)
        image.set_shape((height, width, channels))
        return image, label

    paths = [os.fsencode(f.path) for f in files]  # bytes: names that are not valid UTF-8 still open
    natives = [f.native for f in files]
    labels = [f.label for f in files]
    dataset = tf.data.Dataset.from_tensor_slices((paths, natives, tf.constant(labels, dtype=tf.int32)))
    dataset = dataset.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    # The scan already skipped unreadable files; this keeps a file that changed since then
    # from stopping training mid-epoch.
    return dataset.ignore_errors(log_warning=True)


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
    crop_height = tf.minimum(height, width * ratio)
    crop_width = tf.minimum(width, height / ratio)
    top = tf.cast((height - crop_height) / 2, tf.int32)
    left = tf.cast((width - crop_width) / 2, tf.int32)
    return tf.image.crop_to_bounding_box(image, top, left, tf.cast(crop_height, tf.int32), tf.cast(crop_width, tf.int32))


def load(params: ImageDirectoryParams, context: DataContext) -> Datasets:
    root = data_root(params, context)
    if not root.exists() and params.url:
        from cnnbuild.plugins.builtin.archives import fetch_and_extract

        fetch_and_extract(params.url, root, sha256=params.sha256)
    found: Scan = scan(root, params.class_names)
    files = sorted(found.files, key=lambda f: f.path)
    train_index, validation_index = stratified_split([f.label for f in files], params.validation_split, context.seed)
    train, validation = [files[i] for i in train_index], [files[i] for i in validation_index]
    index, count = context.shard
    if count > 1:
        train = train[index::count]
    test = None
    test_files: list[ImageFile] = []
    skipped = list(found.skipped)
    if params.test_path:
        test_root = context.resolve_path(params.test_path)
        test_scan = scan(test_root, found.class_names)
        test_files = test_scan.files
        skipped += test_scan.skipped
        test = decode_files(test_files, params)
    if not train:
        raise DataError(f"{root}: no training images left after the validation split; lower data.validation_split or add images")
    return Datasets(
        train=decode_files(train, params),
        validation=decode_files(validation, params) if validation else None,
        class_names=found.class_names,
        train_count=len(train),
        validation_count=len(validation),
        test=test,
        test_count=len(test_files),
        skipped=skipped,
        fingerprint=found.fingerprint(),
        train_labels=[f.label for f in train],
    )


@hookimpl
def register_data_sources(register) -> None:
    register("image_directory", ImageDirectoryParams, load, class_names=class_names)
