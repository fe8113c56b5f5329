"""graph_map: cnnbuild's tf.data functions are traced without AutoGraph, and a function that needs it still works."""

from __future__ import annotations

import pytest

tf = pytest.importorskip("tensorflow")

from tensorflow.python.autograph.core import ag_ctx  # noqa: E402

from cnnbuild.data.graph_map import graph_map  # noqa: E402


def test_a_graph_mode_function_is_traced_without_autograph() -> None:
    seen = []

    def double(value):
        seen.append(ag_ctx.control_status_ctx().status)
        return value * 2

    result = list(graph_map(tf.data.Dataset.range(3), double).as_numpy_iterator())
    assert result == [0, 2, 4]
    assert seen == [ag_ctx.Status.DISABLED]  # traced once, as written


def test_a_function_branching_on_a_tensor_in_python_is_traced_with_autograph() -> None:
    def clip_negative(value):
        if value < 0:  # a Python `if` on a tensor: only AutoGraph can trace this
            return tf.zeros_like(value)
        return value

    assert list(graph_map(tf.data.Dataset.from_tensor_slices([-2, 3, -1, 5]), clip_negative).as_numpy_iterator()) == [0, 3, 0, 5]


def test_keras_augmentation_layers_are_traced_without_autograph() -> None:
    """The flowers augmentation (RandomFlip, RandomRotation, RandomZoom, fused) maps without falling back to AutoGraph."""
    import keras

    from cnnbuild.builder.data.augment import batch_augmenter

    statuses = []
    augment = batch_augmenter([keras.layers.RandomFlip("horizontal"), keras.layers.RandomRotation(0.1), keras.layers.RandomZoom(0.1)], [False] * 3, fuse=True)

    def recorded(images, labels):
        statuses.append(ag_ctx.control_status_ctx().status)
        return augment(images, labels)

    images = tf.data.Dataset.from_tensor_slices((tf.zeros((4, 8, 8, 3)), tf.zeros((4,), tf.int32))).batch(2)
    assert [batch[0].shape for batch in graph_map(images, recorded).as_numpy_iterator()] == [(2, 8, 8, 3), (2, 8, 8, 3)]
    assert statuses == [ag_ctx.Status.DISABLED]


def test_a_function_looping_over_range_of_a_tensor_is_traced_with_autograph() -> None:
    def total(count):
        result = tf.constant(0, tf.int64)
        for number in range(count):  # range() of a tensor: a TypeError without AutoGraph, a while loop with it
            result += number
        return result

    assert list(graph_map(tf.data.Dataset.range(5), total).as_numpy_iterator()) == [0, 0, 1, 3, 6]
