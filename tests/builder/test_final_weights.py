"""FinalWeights: the report reuses training's last validation pass and last checkpoint only when they hold the final weights (and the same data)."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from cnnbuild.builder.training.callbacks import FinalWeights  # noqa: E402


def _model_and_data():
    keras.utils.set_random_seed(3)
    images = np.random.default_rng(0).random((24, 6, 6, 1)).astype("float32")
    labels = (images.mean(axis=(1, 2, 3)) > 0.5).astype("int32")
    train = tf.data.Dataset.from_tensor_slices((images[:16], labels[:16])).batch(8)
    validation = tf.data.Dataset.from_tensor_slices((images[16:], labels[16:])).batch(4)
    model = keras.Sequential([keras.Input((6, 6, 1)), keras.layers.Flatten(), keras.layers.Dropout(0.3), keras.layers.Dense(2)])
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    return model, train, validation


class _CountingEvaluate:
    def __init__(self, model):
        self.calls, self.original = 0, model.evaluate

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.original(*args, **kwargs)


def _fitted():
    model, train, validation = _model_and_data()
    last = FinalWeights()
    last.dataset = validation
    model.fit(train, validation_data=validation, epochs=2, callbacks=[last], verbose=0)
    return model, validation, last


def test_unchanged_weights_reuse_the_final_weights_pass_exactly() -> None:
    model, validation, last = _fitted()
    expected = {key: float(value) for key, value in model.evaluate(validation, verbose=0, return_dict=True).items()}
    counting = _CountingEvaluate(model)
    model.evaluate = counting
    assert last.metrics_of(model, validation) == expected  # the same numbers, to the last bit
    assert counting.calls == 0


def test_changed_weights_are_evaluated_again() -> None:
    model, validation, last = _fitted()
    kernel = model.layers[-1].kernel
    kernel.assign(kernel.value * 0.5)  # as EarlyStopping's restore_best_weights or a callback would
    counting = _CountingEvaluate(model)
    model.evaluate = counting
    measured = last.metrics_of(model, validation)
    assert counting.calls == 1
    assert measured == {key: float(value) for key, value in counting.original(validation, verbose=0, return_dict=True).items()}


def test_other_data_is_evaluated() -> None:
    model, validation, last = _fitted()
    other = validation.take(1)
    counting = _CountingEvaluate(model)
    model.evaluate = counting
    last.metrics_of(model, other)
    assert counting.calls == 1


def test_a_validation_pass_cut_short_is_not_reused() -> None:
    model, train, validation = _model_and_data()
    last = FinalWeights()
    last.dataset = validation

    class StopAfterFirstBatch(keras.callbacks.Callback):
        def on_test_batch_end(self, batch, logs=None):
            self.model.stop_evaluating = True

    model.fit(train, validation_data=validation, epochs=1, callbacks=[last, StopAfterFirstBatch()], verbose=0)
    assert last.metrics is None
    counting = _CountingEvaluate(model)
    model.evaluate = counting
    last.metrics_of(model, validation)
    assert counting.calls == 1


def test_the_last_checkpoint_is_named_only_while_it_holds_the_model_s_weights(tmp_path) -> None:
    model, _, last = _fitted()
    assert last.checkpoint_of(model) is None  # nothing saved yet
    last.saved("checkpoints/epoch-0002.keras", model)
    assert last.checkpoint_of(model) == "checkpoints/epoch-0002.keras"
    bias = model.layers[-1].bias
    bias.assign(bias.value + 1.0)
    assert last.checkpoint_of(model) is None
