"""Every augmentation type through the pipeline and the model, repeatable with a seed; the
registrations that correct Keras 3.15 (RandomContrast, RandomCrop, AugMix, probabilities)."""

from __future__ import annotations

import numpy as np
import pytest

from cnnbuild.builder.data.pipelines import training_augmenter
from cnnbuild.builder.model.build import augmentation_layers, augmentation_seeds, build_model, load_saved_model
from cnnbuild.builder.reports.preview import augmentation_draws
from cnnbuild.spec import spec_from_dict

from ..spec.test_augmentation_spec import EXAMPLES

SINGLE = [name for name in EXAMPLES if name not in ("MixUp", "CutMix", "RandomCrop")]
#: their examples transform every image the same way every time (probability 1, or exactly 2 bits)
ALWAYS_ALIKE = ("RandomGrayscale", "RandomInvert", "RandomPosterization")


def spec_with(entries: list[dict], *, seed: int | None = 7, size: int = 24, placement: str = "pipeline", layers: list | None = None):
    return spec_from_dict(
        {
            "seed": seed,
            "data": {"type": "digits", "image_size": [size, size], "color_mode": "rgb", "batch_size": 4},
            "augmentation": entries,
            "augmentation_placement": placement,
            "model": {"layers": layers or ["Flatten", {"type": "Dense", "units": "auto"}]},
        }
    )


def textured(count: int = 4, size: int = 24) -> np.ndarray:
    """Colourful, smooth, non-symmetric images in 0..255 (so every layer visibly changes them)."""
    yy, xx = np.mgrid[0:size, 0:size].astype("float32") / size
    images = [np.stack([255 * xx, 255 * (1 - yy), 128 + 100 * np.sin(6 * xx + 3 * yy + k)], axis=-1) for k in range(count)]
    return np.clip(np.stack(images), 0, 255).astype("float32")


def through_tf_data(spec, images: np.ndarray, labels: np.ndarray, batches: int = 2) -> list[tuple[np.ndarray, np.ndarray]]:
    """``batches`` copies of the batch through the spec's augmentation in a tf.data map (batch size unknown, as in training)."""
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(len(images)).repeat(batches)
    return [(x.numpy(), y.numpy()) for x, y in dataset.map(training_augmenter(spec))]


@pytest.mark.parametrize("name", SINGLE)
def test_each_type_changes_training_images_in_the_pipeline_and_the_model(name):
    import keras

    images = textured(8)
    spec = spec_with([{"type": name, **EXAMPLES[name]}])
    labels = np.eye(10, dtype="float32")[np.arange(8)]
    (first, kept_labels), (second, _) = through_tf_data(spec, images, labels)
    assert first.shape == images.shape and np.isfinite(first).all()
    assert first.min() >= -1e-3 and first.max() <= 255 + 1e-3, (first.min(), first.max())
    assert np.abs(first - images).mean() > 0.5, "the layer did not change the images"
    if name not in ALWAYS_ALIKE:
        assert not np.array_equal(first, second), "the second batch got the same draw"
    assert np.array_equal(kept_labels, labels)
    # the same layer inside the model: training changes images, inference leaves them alone
    model = build_model(spec_with([{"type": name, **EXAMPLES[name]}], placement="model"), num_classes=10)
    augmenting = keras.Sequential(model.layers[:1])
    assert np.abs(np.asarray(augmenting(images, training=True)) - images).mean() > 0.5
    np.testing.assert_allclose(np.asarray(augmenting(images, training=False)), images, atol=1e-3)
    # what preview draws: nine distinct, not blank
    draws = augmentation_draws(spec, images[0])
    assert len(draws) == 9 and min(float(np.std(draw)) for draw in draws) > 5
    assert len({draw.tobytes() for draw in draws}) > (1 if name not in ALWAYS_ALIKE else 0)


def test_the_pipeline_is_bit_exact_with_a_seed_for_every_type():
    """Two pipelines from the same seeded spec give identical batches, with every type in one list."""
    entries = [{"type": name, **EXAMPLES[name]} for name in SINGLE if name not in ("RandAugment", "AugMix")]  # the policies: below
    entries += [{"type": "RandAugment", "num_ops": 1}, {"type": "AugMix", "num_chains": 2, "chain_depth": 2}, {"type": "MixUp"}, {"type": "CutMix"}]
    images, labels = textured(), np.eye(10, dtype="float32")[[0, 1, 2, 3]]
    first, second = (through_tf_data(spec_with(entries, seed=5), images, labels) for _ in range(2))  # another seed: test_each_entry_draws_...
    for (x1, y1), (x2, y2) in zip(first, second):
        assert np.array_equal(x1, x2) and np.array_equal(y1, y2)
    assert not np.array_equal(first[0][0], first[1][0]) and not np.allclose(first[0][1], labels)  # the batches were augmented and mixed


def test_each_entry_draws_from_its_own_stream():
    """Seeds follow the spec's seed, the entry's type and its count: inserting another type changes nothing else."""
    rotation = {"type": "RandomRotation", "factor": 0.2}
    alone = spec_with([rotation, rotation])
    inserted = spec_with([{"type": "RandomFlip"}, rotation, {"type": "RandomShear", "x_factor": 0.1}, rotation])
    assert augmentation_seeds(alone) == [augmentation_seeds(inserted)[i] for i in (1, 3)]
    assert len(set(augmentation_seeds(inserted))) == 4 and augmentation_seeds(spec_with([rotation], seed=None)) == [None]
    states = [np.asarray(layer.generator.state) for layer in augmentation_layers(alone)]
    inserted_states = [np.asarray(layer.generator.state) for layer in augmentation_layers(inserted)]
    assert np.array_equal(states[0], inserted_states[1]) and np.array_equal(states[1], inserted_states[3])
    assert not np.array_equal(states[0], states[1])


def test_random_contrast_lowers_and_raises_contrast():
    """Keras 3.15 reads factor 0.5 as [1, 1.5]: cnnbuild passes (0.5, 0.5), [0.5, 1.5] as documented."""
    images = np.repeat(textured(1), 64, axis=0)
    spec = spec_with([{"type": "RandomContrast", "factor": 0.5}])
    (out, _), = through_tf_data(spec, images, np.zeros((64, 10), "float32"), batches=1)
    ratios = out.reshape(64, -1).std(axis=1) / images.reshape(64, -1).std(axis=1)
    assert ratios.min() < 0.8 and ratios.max() > 1.2


def test_probabilities_mean_what_they_say():
    """RandomInvert factor 1: every image (Keras would invert about half of them)."""
    images = np.repeat(textured(1), 32, axis=0)
    (out, _), = through_tf_data(spec_with([{"type": "RandomInvert", "factor": 1}]), images, np.zeros((32, 10), "float32"), batches=1)
    np.testing.assert_allclose(out, 255 - images, atol=1e-3)


def test_random_saturation_keeps_pixels_in_range_and_posterization_keeps_the_bits_asked():
    images = textured(8)
    (saturated, _), = through_tf_data(spec_with([{"type": "RandomSaturation", "factor": [0, 0.2]}]), images, np.zeros((8, 10), "float32"), batches=1)
    assert saturated.min() >= 0 and saturated.max() <= 255  # Keras's default value_range gives values far below 0
    (posterized, _), = through_tf_data(spec_with([{"type": "RandomPosterization", "factor": 2}]), images, np.zeros((8, 10), "float32"), batches=1)
    assert set(np.unique(posterized)) <= {0.0, 64.0, 128.0, 192.0}


def test_aug_mix_draws_its_operations_per_batch():
    """Keras's AugMix picks its operations once, when traced; cnnbuild's draws new picks every batch."""
    import tensorflow as tf

    (layer,) = augmentation_layers(spec_with([{"type": "AugMix"}]))
    images = tf.constant(textured())
    picks = tf.data.Dataset.from_tensors(images).repeat(6).map(lambda x: layer.get_random_transformation(x, training=True)["picks"])
    drawn = [p.numpy().tolist() for p in picks]
    assert len({str(p) for p in drawn}) > 1, drawn


def test_random_crop_crops_the_centre_at_inference_and_saves(tmp_path):
    spec = spec_with([], layers=[{"type": "RandomCrop", "height": 16, "width": 12}, "Flatten", {"type": "Dense", "units": "auto"}])
    model = build_model(spec, num_classes=10)
    images = textured()
    crop = model.layers[0]
    np.testing.assert_array_equal(np.asarray(crop(images, training=False)), images[:, 4:20, 6:18])
    assert model.predict(images, verbose=0).shape == (4, 10)  # Keras's RandomCrop fails here: 1728 inputs expected, 1728 * 3 given
    path = tmp_path / "crop.keras"
    model.save(path)
    np.testing.assert_allclose(load_saved_model(path).predict(images, verbose=0), model.predict(images, verbose=0), atol=1e-6)


def test_policies_in_the_model_save_and_load(tmp_path):
    entries = [
        {"type": "RandAugment", "num_ops": 1},
        {"type": "AugMix", "num_chains": 2},
        {"type": "Pipeline", "layers": [{"type": "RandomShear", "x_factor": 0.2}, {"type": "RandomPerspective", "factor": 0.5}]},
        {"type": "RandomColorJitter", "saturation_factor": 0.5, "hue_factor": 0.1},
    ]
    model = build_model(spec_with(entries, placement="model"), num_classes=10)
    path = tmp_path / "policies.keras"
    model.save(path)
    loaded = load_saved_model(path)
    assert [type(layer).__name__ for layer in loaded.layers[:4]] == ["RandAugment", "AugMix", "Pipeline", "Pipeline"]
    images = textured()
    np.testing.assert_allclose(loaded.predict(images, verbose=0), model.predict(images, verbose=0), atol=1e-5)
