"""Spec -> tf.data pipelines: the data source's examples cached, shuffled, batched, augmented, label-encoded, prefetched."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cnnbuild.builder.data.augment import batch_augmenter
from cnnbuild.builder.data.task_targets import task_labels
from cnnbuild.builder.model.build import augmentation_layers
from cnnbuild.builder.runtime import import_tensorflow
from cnnbuild.contracts.data import Datasets
from cnnbuild.data.graph_map import graph_map
from cnnbuild.errors import DataError
from cnnbuild.spec.labels import Labels, label_encoding

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from cnnbuild.spec.document import Spec


@dataclass
class PreparedData:
    """Batched pipelines ready for ``fit`` and what is known about the data."""

    train: Any
    validation: Any | None
    test: Any | None
    source: Datasets
    labels: Labels

    @property
    def class_names(self) -> list[str]:
        return self.source.class_names


def _cache(dataset: Any, setting: str, spec: Spec, split: str, fingerprint: str = "") -> Any:
    if setting == "none":
        return dataset
    if setting == "memory":
        return dataset.cache()
    from cnnbuild.builder.data.cache import cache_prefix

    try:
        prefix = cache_prefix(spec.resolve_path(setting), spec.data, fingerprint, split)
    except OSError as exc:
        raise DataError(f"data.cache {setting!r}: cannot use {spec.resolve_path(setting).parent}: {exc.strerror or exc}; choose a writable folder, or cache: memory") from exc
    if prefix is None:
        log.warning("note: the %s cache at %s is in use by another run; this run caches in memory", split, spec.resolve_path(setting))
        return dataset.cache()
    return dataset.cache(str(prefix))


#: How many calls tf.data runs an ``AUTOTUNE`` map with when autotuning is off, at most (TensorFlow 2.21).
AUTOTUNE_DEFAULT_PARALLELISM = 16


def without_autotuning(dataset: Any, spec: Spec, *, training: bool = False) -> Any:
    """``dataset`` without tf.data's autotuning thread, under ``train.continuous_pipeline``.

    With TensorFlow 2.21, dropping an iterator waits for its autotuning thread, and that thread
    first sits out the timed wait it is in (``Model::OptimizeLoop``; the waits grow from 10 ms
    towards a minute as the iterator lives on). The training iterator is dropped after the last
    epoch: that stalled the flowers benchmark by 4 to 18 s in about one run in three (caught with
    gdb), and each epoch's evaluation iterator by up to 0.9 s. Without autotuning, tf.data runs an
    ``AUTOTUNE`` map on the smaller of 16 and the CPU threads it may use, and prefetch buffers
    still grow while the consumer waits; on the 2-core benchmark machine the training speed was
    the same (BENCHMARKS.md, "fifth round"). Where more than 16 CPU threads could work on the
    training pipeline, autotuning could give its maps more than those 16, so the ``training``
    pipeline keeps it there (and its end-of-run wait with it).
    """
    if not spec.train.continuous_pipeline or (training and _cpu_threads() > AUTOTUNE_DEFAULT_PARALLELISM):
        return dataset
    options = import_tensorflow().data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)


def _cpu_threads() -> int:
    """The CPU threads this process may run on (its affinity where the system tells it)."""
    import os

    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def deterministic(spec: Spec) -> bool:
    """Whether the run must repeat exactly: ``train.deterministic``, or ``auto`` with a seed."""
    setting = spec.train.deterministic
    return spec.seed is not None if setting == "auto" else setting


def encode_labels(labels: Labels) -> Any:
    """A tf.data map function turning int labels into what the loss expects."""
    tf = import_tensorflow()

    mean, std = labels.scaling or (None, None)

    def encode(images: Any, label: Any) -> tuple[Any, Any]:
        if labels.mode == "multi_hot":
            return images, tf.cast(label, tf.float32)
        if labels.mode == "values":
            values = tf.cast(label, tf.float32)
            return images, values if mean is None else (values - tf.constant(mean, tf.float32)) / tf.constant(std, tf.float32)
        if labels.mode == "binary":
            return images, tf.cast(tf.reshape(label, (-1, 1)), tf.float32)
        if labels.mode == "categorical":
            return images, tf.one_hot(label, labels.num_classes)
        return images, label

    return encode


def training_augmenter(spec: Spec) -> Any:
    """The ``(images, labels)`` map function of the spec's pipeline augmentation."""
    import keras

    registry = spec.registry
    layers = augmentation_layers(spec, registry)
    mixes = [registry.layers[entry.type].mixes_labels for entry in spec.augmentation]
    for layer, mixing in zip(layers, mixes, strict=True):
        if mixing:
            layer.dtype_policy = keras.DTypePolicy("float32")  # mixed labels exact to float32, whatever the training precision
    return batch_augmenter(layers, mixes, fuse=spec.train.fuse_augmentation)


def build_pipelines(spec: Spec, source: Datasets, *, augment: bool = True) -> PreparedData:
    """Batched ``(images, labels)`` pipelines; augmentation is mapped in when placement is ``pipeline``."""
    if spec.task_row.name == "segmentation":
        from cnnbuild.builder.data.segmentation_pipelines import segmentation_pipelines

        return segmentation_pipelines(spec, source, augment=augment)
    tf = import_tensorflow()
    data = spec.data
    labels = task_labels(spec, source, label_encoding(spec, len(source.class_names)))
    encode = encode_labels(labels)

    train = _cache(source.train, data.cache, spec, "train", source.fingerprint)
    if data.shuffle_buffer > 0:
        train = train.shuffle(min(data.shuffle_buffer, max(source.train_count, 1)), seed=spec.seed, reshuffle_each_iteration=True)
    # labels are encoded before augmentation: MixUp and CutMix mix the one-hot (or binary) labels
    train = graph_map(train.batch(data.batch_size), encode, num_parallel_calls=tf.data.AUTOTUNE)
    if augment and spec.augmentation and spec.augmentation_placement == "pipeline":
        # random layers draw from one shared state: a parallel map makes the draws race
        parallel = 1 if deterministic(spec) else tf.data.AUTOTUNE
        train = graph_map(train, training_augmenter(spec), num_parallel_calls=parallel)
    train = without_autotuning(train.prefetch(tf.data.AUTOTUNE), spec, training=True)

    def evaluation(dataset: Any, split: str) -> Any:
        if dataset is None:
            return None
        dataset = _cache(dataset, data.cache, spec, split, source.fingerprint).batch(data.batch_size)
        return without_autotuning(graph_map(dataset, encode, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE), spec)

    return PreparedData(train, evaluation(source.validation, "validation"), evaluation(source.test, "test"), source, labels)


def class_weights(setting: Any, train_labels: list[int] | None, num_classes: int) -> dict[int, float] | None:
    """``auto``: weights inversely proportional to class frequency (mean weight 1); a mapping is used as given."""
    if setting == "none" or setting is None:
        return None
    if isinstance(setting, dict):
        return {int(k): float(v) for k, v in setting.items()}
    if not train_labels:
        raise DataError("class_weight: auto needs the training labels, and this data source does not report them; give a mapping instead")
    counts = Counter(train_labels)
    total = len(train_labels)
    return {label: total / (num_classes * counts[label]) if counts[label] else 1.0 for label in range(num_classes)}
