"""train.fine_tune: the frozen phase changes nothing of the backbone, fine-tuning changes only the
layers it unfreezes and never BatchNormalization, phases show in the history, and a run resumed
at the change of phase has the history of an uninterrupted one."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import numpy as np
import pytest

import cnnbuild
from cnnbuild.errors import CnnbuildError

from ..conftest import make_images


class StopAfterEpochParams(cnnbuild.Params):
    epoch: int


class StopAfterEpoch:
    """A test plugin: a callback that presses Ctrl-C at the end of one epoch (0-based)."""

    @cnnbuild.hookimpl
    def register_callbacks(self, register):
        import keras

        class Stop(keras.callbacks.Callback):
            def __init__(self, epoch: int) -> None:
                super().__init__()
                self.epoch = epoch

            def on_epoch_end(self, epoch, logs=None):
                if epoch == self.epoch:
                    os.kill(os.getpid(), signal.SIGINT)

        register("StopAfterEpoch", StopAfterEpochParams, lambda params, context: Stop(params.epoch))


class StopInEpochParams(cnnbuild.Params):
    epoch: int
    once: str  # a file made when it fires: it fires in one run only, not again in the resumed one


class StopInEpoch:
    """A test plugin: a callback that presses Ctrl-C after the first batch of one epoch (0-based), once."""

    @cnnbuild.hookimpl
    def register_callbacks(self, register):
        import keras

        class Stop(keras.callbacks.Callback):
            def __init__(self, epoch: int, once: str) -> None:
                super().__init__()
                self.epoch, self.once, self.current = epoch, Path(once), -1

            def on_epoch_begin(self, epoch, logs=None):
                self.current = epoch

            def on_train_batch_end(self, batch, logs=None):
                if self.current == self.epoch and not self.once.exists():
                    self.once.touch()
                    os.kill(os.getpid(), signal.SIGINT)

        register("StopInEpoch", StopInEpochParams, lambda params, context: Stop(params.epoch, params.once))


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    return make_images(tmp_path_factory.mktemp("fine-tune") / "images", {"red": 8, "green": 8, "blue": 8}, size=(32, 32))


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> tuple[Path, list[np.ndarray]]:
    import keras

    core = keras.applications.MobileNetV3Small(include_top=False, weights=None, input_shape=(32, 32, 3), pooling="avg")
    path = tmp_path_factory.mktemp("weights") / "backbone.weights.h5"
    core.save_weights(path)
    return path, [weight.numpy() for weight in core.weights]


def spec(images: Path, weights: Path, *, epochs: int = 1, fine_tune: str = "{epochs: 1, last_layers: 12}", callbacks: str = "[]") -> str:
    return f"""
name: transfer
seed: 5
data: {{type: image_directory, path: {images}, image_size: [32, 32], batch_size: 8}}
model:
  layers:
    - {{type: Backbone, architecture: MobileNetV3Small, weights: {weights}}}
    - {{type: Dropout, rate: 0.2}}
    - {{type: Dense, units: auto}}
compile: {{optimizer: {{type: adam, learning_rate: 0.01}}}}
train:
  epochs: {epochs}
  verbose: quiet
  fine_tune: {fine_tune}
  callbacks: {callbacks}
output: {{keep_checkpoints: 5}}
"""


def core_weights(path: Path) -> dict[str, list[np.ndarray]]:
    """Weights of every layer inside the saved model's backbone, by layer name."""
    import keras

    from cnnbuild.builder.training.fine_tune import leaves

    model = keras.saving.load_model(path, safe_mode=True)
    return {layer.name: [w.numpy() for w in layer.weights] for layer in leaves(model.get_layer("0_backbone")) if layer.weights}


def same(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a, b))


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


def test_a_run_resumed_at_the_change_of_phase_or_in_the_first_fine_tuning_epoch_has_the_history_of_an_uninterrupted_run(cnnbuild_run_spec, plugin, images, weights, tmp_path):
    """Two interruptions against one uninterrupted run: Ctrl-C at the end of the frozen phase (with the
    state as the first release wrote it), and Ctrl-C inside the first fine-tuning epoch. EarlyStopping's
    restore_best_weights puts an earlier epoch's weights back at the end of the frozen phase (mode: max
    makes the first epoch the best); fine-tuning starts from those, and so must a resume whose last
    checkpoint is the frozen phase's last epoch."""
    plugin(StopAfterEpoch(), "stop-after-epoch")
    plugin(StopInEpoch(), "stop-in-epoch")
    path, _ = weights
    early = "{type: EarlyStopping, monitor: val_loss, mode: max, patience: 10, restore_best_weights: true}"
    one_batch_a_call = "  verbose: quiet\n  steps_per_execution: 1"  # so that Ctrl-C can land inside an epoch

    def two_phases(after_epoch: int, in_epoch: int, once: str) -> str:
        callbacks = f"[{early}, {{type: StopAfterEpoch, epoch: {after_epoch}}}, {{type: StopInEpoch, epoch: {in_epoch}, once: {tmp_path / once}}}]"
        return spec(images, path, epochs=2, fine_tune="{epochs: 2}", callbacks=callbacks).replace("  verbose: quiet", one_batch_a_call)

    whole = cnnbuild_run_spec(two_phases(99, 99, "never"))
    assert whole.status == "completed" and whole.history["phase"] == [1, 1, 2, 2]

    at_change = cnnbuild_run_spec(two_phases(1, 99, "never"))
    assert at_change.status == "interrupted" and len(at_change.history["loss"]) == 2
    # The state as the first release wrote it (phases 1.0): a run it interrupted resumes here.
    state_file = at_change.run_dir / "checkpoints" / "state.json"
    state = json.loads(state_file.read_text(encoding="utf-8"))
    state_file.write_text(json.dumps({**state, "history": {**state["history"], "phase": [1.0, 1.0]}}), encoding="utf-8")
    resumed = cnnbuild.run(resume=at_change.run_dir)
    assert resumed.status == "completed"
    assert resumed.history == whole.history
    assert json.loads((resumed.run_dir / "history.json").read_text(encoding="utf-8"))["phase"] == [1, 1, 2, 2]
    assert [type(value) for value in resumed.history["phase"]] == [int] * 4

    in_fine_tuning = cnnbuild_run_spec(two_phases(99, 2, "fired"))
    assert in_fine_tuning.status == "interrupted" and len(in_fine_tuning.history["loss"]) == 2
    resumed = cnnbuild.run(resume=in_fine_tuning.run_dir)
    assert resumed.status == "completed"
    assert resumed.history == whole.history
