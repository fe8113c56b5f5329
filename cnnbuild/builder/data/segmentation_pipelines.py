"""Batched ``(images, masks)`` pipelines of ``task: segmentation``: cached, shuffled, batched,
augmented with each mask moved exactly as its image, prefetched.

Keras 3's image augmentation layers take ``{"images": ..., "segmentation_masks": ...}``, draw one
transformation per image and apply it to both, resampling masks with nearest neighbour (so a mask
keeps class indices); colour layers leave masks alone. Each layer is called on its own (no fused
resampling, which would move the images only).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from cnnbuild.builder.data.pipelines import PreparedData, _cache, deterministic, without_autotuning
from cnnbuild.builder.model.build import augmentation_layers
from cnnbuild.builder.runtime import import_tensorflow
from cnnbuild.contracts.data import Datasets
from cnnbuild.data.graph_map import graph_map
from cnnbuild.errors import DataError
from cnnbuild.spec.labels import label_encoding

if TYPE_CHECKING:
    from cnnbuild.spec.document import Spec


def mask_augmenter(spec: Spec) -> Any:
    """The ``(images, masks)`` map function applying the spec's augmentation to both."""
    from keras.src.layers.preprocessing.image_preprocessing.base_image_preprocessing_layer import BaseImagePreprocessingLayer

    tf = import_tensorflow()
    layers = augmentation_layers(spec, spec.registry)
    for entry, layer in zip(spec.augmentation, layers, strict=True):
        if not isinstance(layer, BaseImagePreprocessingLayer):
            raise DataError(f"augmentation entry {entry.type} cannot move segmentation masks with the images (it is not a Keras image augmentation layer); remove it")

    def augment(images: Any, masks: Any) -> tuple[Any, Any]:
        data = {"images": images, "segmentation_masks": tf.cast(masks[..., None], tf.float32)}
        for layer in layers:
            data = layer(data, training=True)
        return data["images"], tf.cast(tf.round(data["segmentation_masks"][..., 0]), tf.int32)

    return augment


def pixel_class_weights(setting: Any, source: Datasets, ignore_index: int | None) -> tuple[float, ...]:
    """Each class's weight of its pixels in the loss: ``auto`` = total / (classes x the class's
    pixels) over the training masks (a mean weight of 1; a class without pixels gets 1), a mapping
    = its weights (1 for classes it leaves out)."""
    import numpy as np

    count = len(source.class_names)
    if isinstance(setting, dict):
        return tuple(float(setting.get(index, 1.0)) for index in range(count))
    pixels = np.zeros(count, dtype="int64")
    for _, mask in source.train.as_numpy_iterator():
        values = mask[(mask >= 0) & (mask < count) & (mask != (-1 if ignore_index is None else ignore_index))]
        pixels += np.bincount(values.reshape(-1), minlength=count)[:count]
    total = pixels.sum()
    return tuple(round(float(total / (count * n)), 6) if n else 1.0 for n in pixels)


def segmentation_pipelines(spec: Spec, source: Datasets, *, augment: bool = True) -> PreparedData:
    """What :func:`~cnnbuild.builder.data.pipelines.build_pipelines` makes, for masks."""
    tf = import_tensorflow()
    data = spec.data
    labels = label_encoding(spec, len(source.class_names))
    if spec.train.class_weight != "none":
        labels = dataclasses.replace(labels, pixel_weights=pixel_class_weights(spec.train.class_weight, source, getattr(spec.task, "ignore_index", None)))
    train = _cache(source.train, data.cache, spec, "train", source.fingerprint)
    if data.shuffle_buffer > 0:
        train = train.shuffle(min(data.shuffle_buffer, max(source.train_count, 1)), seed=spec.seed, reshuffle_each_iteration=True)
    train = train.batch(data.batch_size)
    if augment and spec.augmentation:
        train = graph_map(train, mask_augmenter(spec), num_parallel_calls=1 if deterministic(spec) else tf.data.AUTOTUNE)
    train = without_autotuning(train.prefetch(tf.data.AUTOTUNE), spec, training=True)

    def evaluation(dataset: Any, split: str) -> Any:
        if dataset is None:
            return None
        return without_autotuning(_cache(dataset, data.cache, spec, split, source.fingerprint).batch(data.batch_size).prefetch(tf.data.AUTOTUNE), spec)

    return PreparedData(train, evaluation(source.validation, "validation"), evaluation(source.test, "test"), source, labels)
