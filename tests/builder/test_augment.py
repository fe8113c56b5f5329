"""Fused pipeline augmentation: the same random transforms as Keras's layers one by one, resampled once."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from cnnbuild.builder.data import augment
from cnnbuild.builder.data.augment import augmenter, plan


def _smooth_batch(count: int = 6, size: int = 64):
    import tensorflow as tf

    yy, xx = np.mgrid[0:size, 0:size].astype("float32")
    image = np.stack([xx * 4, yy * 4, 128 + 100 * np.sin(xx / 9) * np.cos(yy / 7)], axis=-1)
    return tf.constant(np.repeat(image[None], count, axis=0))


def _geometric(seed: int = 0, interpolation: str = "bilinear"):
    import keras

    return [
        keras.layers.RandomFlip("horizontal", seed=seed + 1),
        keras.layers.RandomRotation(0.1, seed=seed + 2, interpolation=interpolation),
        keras.layers.RandomZoom(0.1, seed=seed + 3, interpolation=interpolation),
        keras.layers.RandomTranslation(0.1, 0.1, seed=seed + 4, interpolation=interpolation),
    ]


def test_plan_groups_runs_that_share_resampling_settings():
    import keras

    flip, rotation, zoom, translation = _geometric()
    assert plan([flip, rotation, zoom, translation]) == [[flip, rotation, zoom, translation]]
    assert plan([flip]) == [[flip]]  # no resampling to save: Keras's own flip is cheaper
    contrast = keras.layers.RandomContrast(0.2)
    assert plan([flip, contrast, rotation, zoom]) == [[flip], [contrast], [rotation, zoom]]
    nearest_zoom = keras.layers.RandomZoom(0.1, interpolation="nearest")
    assert plan([rotation, nearest_zoom]) == [[rotation], [nearest_zoom]]
    constant_fill = keras.layers.RandomTranslation(0.1, 0.1, fill_mode="constant")
    assert plan([flip, rotation, constant_fill, translation]) == [[flip, rotation], [constant_fill], [translation]]


def test_pixel_exact_maps_give_exactly_the_layers_result():
    """A flip and a quarter turn move whole pixels, so one resampling must equal two."""
    import keras

    def layers():
        return [keras.layers.RandomFlip("horizontal_and_vertical", seed=5), keras.layers.RandomRotation((0.25, 0.25), seed=6)]

    images = _smooth_batch()
    one_by_one = augmenter(layers(), fuse=False)(images).numpy()
    fused = augmenter(layers(), fuse=True)(images).numpy()
    assert not np.allclose(one_by_one, images.numpy())  # the transform did something
    np.testing.assert_allclose(fused, one_by_one, atol=1e-3)


def test_random_transforms_match_the_layers_applied_in_turn():
    """Same seeds, same draws: away from the borders only the interpolation differs."""
    images = _smooth_batch()
    one_by_one = augmenter(_geometric(), fuse=False)(images).numpy()
    fused = augmenter(_geometric(), fuse=True)(images).numpy()
    interior = (slice(None), slice(16, 48), slice(16, 48))
    assert np.abs(one_by_one[interior] - images.numpy()[interior]).mean() > 5  # the transforms moved pixels
    assert np.abs(fused[interior] - one_by_one[interior]).mean() < 0.5  # on a 0..255 scale
    # With other seeds the fused result differs: it follows the draws, not a fixed transform.
    assert np.abs(augmenter(_geometric(seed=10), fuse=True)(images).numpy()[interior] - fused[interior]).mean() > 1


def test_fused_output_keeps_the_layers_dtype_and_runs_in_tf_data():
    import keras
    import tensorflow as tf

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        layers = _geometric()
    finally:
        keras.config.set_dtype_policy(previous)
    dataset = tf.data.Dataset.from_tensors(_smooth_batch()).map(augmenter(layers, fuse=True))
    (batch,) = list(dataset)
    assert batch.dtype == tf.bfloat16 and tuple(batch.shape) == (6, 64, 64, 3)


@pytest.mark.parametrize("fuse", [True, False])
def test_the_spec_switch_reaches_the_pipeline(image_folder, write_spec, monkeypatch, fuse):
    from cnnbuild.builder.data.pipelines import build_pipelines
    from cnnbuild.builder.data.source import load_source
    from cnnbuild.spec import load_spec
    from tests.conftest import SMALL_MODEL

    calls = []
    original = augment.fused_transform
    monkeypatch.setattr(augment, "fused_transform", lambda group, images: calls.append(len(group)) or original(group, images))
    path = write_spec(
        textwrap.dedent(
            f"""
        name: fused
        seed: 1
        data: {{type: image_directory, path: {image_folder}, image_size: [24, 24], batch_size: 8}}
        augmentation:
          - {{type: RandomFlip, mode: horizontal}}
          - {{type: RandomRotation, factor: 0.1}}
          - {{type: RandomZoom, height_factor: 0.1}}
            """
        )
        + SMALL_MODEL
    )
    spec = load_spec(path, [f"train.fuse_augmentation={str(fuse).lower()}"])
    assert spec.train.fuse_augmentation is fuse
    prepared = build_pipelines(spec, load_source(spec))
    images, _ = next(iter(prepared.train))
    assert tuple(images.shape[1:]) == (24, 24, 3)
    assert calls == ([3] if fuse else [])  # traced once, for the one group of three layers


def _fusable(kind: str, seed: int, fill_mode: str = "reflect"):
    import keras

    layers = {
        "RandomRotation": lambda: keras.layers.RandomRotation(0.1, seed=seed, fill_mode=fill_mode),
        "RandomZoom": lambda: keras.layers.RandomZoom(0.2, seed=seed, fill_mode=fill_mode),
        "RandomTranslation": lambda: keras.layers.RandomTranslation(0.1, 0.1, seed=seed, fill_mode=fill_mode),
        "RandomShear": lambda: keras.layers.RandomShear(x_factor=(0, 0.3), y_factor=(0, 0.2), seed=seed, fill_mode=fill_mode),
        "RandomPerspective": lambda: keras.layers.RandomPerspective(factor=(1, 1), scale=0.4, seed=seed),
    }
    return layers[kind]()


@pytest.mark.parametrize("kind", ["RandomRotation", "RandomZoom", "RandomTranslation", "RandomShear", "RandomPerspective"])
def test_each_fused_layer_matches_the_layer_applied_in_turn(kind):
    """A flip and the layer fuse into one resampling, and give what the two layers give in turn."""
    import keras

    fill = "constant" if kind == "RandomPerspective" else "reflect"  # RandomPerspective always fills with a constant

    def layers():
        return [keras.layers.RandomFlip("horizontal", seed=1), _fusable(kind, 2, fill)]

    assert [len(group) for group in plan(layers())] == [2]
    images = _smooth_batch(count=8)
    one_by_one = augmenter(layers(), fuse=False)(images).numpy()
    fused = augmenter(layers(), fuse=True)(images).numpy()
    interior = (slice(None), slice(20, 44), slice(20, 44))
    assert np.abs(one_by_one[interior] - images.numpy()[interior]).mean() > 2  # the layer moved pixels
    assert np.abs(fused[interior] - one_by_one[interior]).mean() < 0.5  # on a 0..255 scale: only interpolation differs


def test_a_homography_composed_with_affine_maps_is_renormalised():
    """Rotation > Perspective > Zoom > Translation (constant fill): fused, each pixel samples the
    same source position as the four layers in turn. A coordinate image (channels: x, y) is
    reproduced exactly by bilinear sampling, so the positions are compared directly; without
    dividing the composed matrix by its corner entry they are pixels apart."""
    import tensorflow as tf

    def layers():
        return [_fusable("RandomRotation", 3, "constant"), _fusable("RandomPerspective", 4), _fusable("RandomZoom", 5, "constant"), _fusable("RandomTranslation", 6, "constant")]

    assert [len(group) for group in plan(layers())] == [4]
    yy, xx = np.mgrid[0:64, 0:80].astype("float32")
    coordinates = tf.constant(np.repeat(np.stack([xx + 10, yy + 10, np.full_like(xx, 50)], axis=-1)[None], 8, axis=0))
    one_by_one = augmenter(layers(), fuse=False)(coordinates).numpy()
    fused = augmenter(layers(), fuse=True)(coordinates).numpy()
    inside = (np.abs(one_by_one[..., 2] - 50) < 1e-3) & (np.abs(fused[..., 2] - 50) < 1e-3)  # no fill mixed in
    assert inside.mean() > 0.3
    error = np.abs(fused[..., :2] - one_by_one[..., :2])[inside]
    assert np.abs(one_by_one[..., :2] - coordinates.numpy()[..., :2])[inside].mean() > 1  # the transforms moved pixels
    assert error.max() < 0.05, error.max()
