"""train.fine_tune: the frozen phase changes nothing of the backbone, fine-tuning changes only the
layers it unfreezes and never BatchNormalization, and phases show in the history. (Resuming across
the change of phase: test_fine_tune_resume.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cnnbuild.errors import CnnbuildError

from .fine_tune_spec import fine_tune_images, saved_backbone, spec


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    return fine_tune_images(tmp_path_factory.mktemp("fine-tune"))


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> tuple[Path, list[np.ndarray]]:
    path, core = saved_backbone("MobileNetV3Small", tmp_path_factory.mktemp("weights"))
    return path, [weight.numpy() for weight in core.weights]


def core_weights(path: Path) -> dict[str, list[np.ndarray]]:
    """Weights of every layer inside the saved model's backbone, by layer name."""
    import keras

    from cnnbuild.builder.training.fine_tune import leaves

    model = keras.saving.load_model(path, safe_mode=True)
    return {layer.name: [w.numpy() for w in layer.weights] for layer in leaves(model.get_layer("0_backbone")) if layer.weights}


def same(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_the_frozen_phase_keeps_the_backbone_and_fine_tuning_keeps_batch_normalization(cnnbuild_run_spec, images, weights):
    import keras

    path, initial = weights
    result = cnnbuild_run_spec(spec(images, path))
    assert result.status == "completed"
    assert result.history["phase"] == [1, 2]
    assert result.metrics["phases"] == [{"name": "frozen", "first_epoch": 1, "last_epoch": 1}, {"name": "fine_tune", "first_epoch": 2, "last_epoch": 2}]
    # The phase is written as an int everywhere (the first release wrote 1.0 and 2.0).
    written = json.loads((result.run_dir / "history.json").read_text(encoding="utf-8"))["phase"]
    final = json.loads((result.run_dir / "metrics.json").read_text(encoding="utf-8"))["final"]["phase"]
    assert [type(value) for value in [*written, final]] == [int, int, int]
    assert [row.split(",")[-1] for row in (result.run_dir / "history.csv").read_text(encoding="utf-8").splitlines()] == ["phase", "1", "2"]
    after_frozen = core_weights(result.run_dir / "checkpoints" / "epoch-0001.keras")
    assert same([w for ws in after_frozen.values() for w in ws], initial)  # BatchNormalization statistics included
    after_fine_tune = core_weights(result.run_dir / "model.keras")
    model = keras.saving.load_model(result.run_dir / "model.keras")
    assert float(model.optimizer.learning_rate) == pytest.approx(0.001)  # 0.01 x the default multiplier 0.1
    from cnnbuild.builder.training.fine_tune import leaves

    layers = [layer for layer in leaves(model.get_layer("0_backbone")) if layer.weights]
    unfrozen = {layer.name for layer in layers[-12:]}
    batch_norms = {layer.name for layer in layers if isinstance(layer, keras.layers.BatchNormalization)}
    assert batch_norms & unfrozen, "the last 12 layers should hold some BatchNormalization layers"
    for name, values in after_fine_tune.items():
        changed = not same(values, after_frozen[name])
        assert changed == (name in unfrozen and name not in batch_norms), name
    assert all(not layer.trainable for layer in layers if layer.name in batch_norms)


def test_a_layer_name_the_backbone_lacks_fails_before_training(images, weights):
    from cnnbuild import build_model
    from cnnbuild.builder.training.fine_tune import check_fine_tune
    from cnnbuild.plugins.manager import get_registry
    from cnnbuild.spec import spec_from_text

    path, _ = weights
    text = spec(images, path, fine_tune="{epochs: 1, from_layer: expanded_conv_9_expnad}")
    model_spec = spec_from_text(text)
    model = build_model(model_spec)
    with pytest.raises(CnnbuildError, match=r"train.fine_tune.from_layer: MobileNetV3Small has no layer with weights named 'expanded_conv_9_expnad'; did you mean 'expanded_conv_9_expand'\?"):
        check_fine_tune(model, model_spec, get_registry())
