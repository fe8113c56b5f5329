"""Datasets from in-memory arrays (``cnnbuild.datasets_from_arrays``), for sources that hold their examples as NumPy arrays."""

from __future__ import annotations

import hashlib
from typing import Any

from cnnbuild.contracts.data import DataContext, DataParams, Datasets
from cnnbuild.contracts.values import CHANNELS
from cnnbuild.data.splitting import stratified_split
from cnnbuild.errors import DataError


def _images(x: Any, params: DataParams, where: str) -> Any:
    """uint8-range float32 images in the spec's size and color mode."""
    import numpy as np
    import tensorflow as tf

    x = np.asarray(x)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] not in (1, 3, 4):
        raise DataError(f"{where}: images must have shape (N, height, width) or (N, height, width, 1|3|4), got {x.shape}")
    x = x.astype("float32")
    if x.size and float(x.max()) <= 1.0:
        x = x * 255.0  # arrays in 0..1 are scaled to the 0..255 range every source delivers
    channels = CHANNELS[params.color_mode]
    if x.shape[-1] != channels:
        if x.shape[-1] == 4:
            x = x[..., :3]
        if channels == 1 and x.shape[-1] == 3:
            x = (x @ np.array([0.299, 0.587, 0.114], dtype="float32"))[..., None]
        elif channels >= 3 and x.shape[-1] == 1:
            x = np.repeat(x, 3, axis=-1)
        if channels == 4:
            x = np.concatenate([x, np.full(x.shape[:-1] + (1,), 255.0, dtype="float32")], axis=-1)
    if tuple(x.shape[1:3]) != tuple(params.image_size):
        x = tf.image.resize(x, params.image_size, method=getattr(params, "interpolation", "bilinear")).numpy()
    return x


def labels_array(y: Any, where: str) -> Any:
    import numpy as np

    y = np.asarray(y).reshape(-1)
    if not np.issubdtype(y.dtype, np.integer):
        if np.issubdtype(y.dtype, np.floating) and np.all(np.mod(y, 1) == 0):
            y = y.astype("int64")
        else:
            raise DataError(f"{where}: labels must be integer class indices, got dtype {y.dtype}")
    if y.size and y.min() < 0:
        raise DataError(f"{where}: labels must be non-negative class indices")
    return y.astype("int32")


def from_arrays(x: Any, y: Any, params: DataParams, context: DataContext, class_names: list[str], *, x_val: Any = None, y_val: Any = None, x_test: Any = None, y_test: Any = None, where: str) -> Datasets:
    """Datasets from in-memory arrays; without ``x_val`` the validation split is taken from ``x``."""
    import tensorflow as tf

    x, y = _images(x, params, where), labels_array(y, where)
    if len(x) != len(y):
        raise DataError(f"{where}: {len(x)} images but {len(y)} labels")
    if y.size and int(y.max()) >= len(class_names):
        raise DataError(f"{where}: label {int(y.max())} but only {len(class_names)} class names")
    if x_val is None:
        train_index, validation_index = stratified_split(y.tolist(), params.validation_split, context.seed)
        x_val, y_val = x[validation_index], y[validation_index]
        x, y = x[train_index], y[train_index]
    else:
        x_val, y_val = _images(x_val, params, where), labels_array(y_val, where)
    def dataset(images: Any, labels: Any) -> Any:
        return tf.data.Dataset.from_tensor_slices((images, labels)) if len(images) else None

    test = None
    if x_test is not None:
        x_test, y_test = _images(x_test, params, where), labels_array(y_test, where)
        test = dataset(x_test, y_test)
    fingerprint = hashlib.sha256(x.tobytes() + y.tobytes()).hexdigest()
    return Datasets(
        train=dataset(x, y),
        validation=dataset(x_val, y_val),
        class_names=class_names,
        train_count=len(x),
        validation_count=len(x_val),
        test=test,
        test_count=0 if x_test is None else len(x_test),
        fingerprint=fingerprint,
        train_labels=y.tolist(),
    )
