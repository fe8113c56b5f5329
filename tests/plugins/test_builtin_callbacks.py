"""The builtin callbacks' factories: what they add to Keras's callbacks."""

from __future__ import annotations

import numpy as np

from cnnbuild.contracts import CallbackContext
from cnnbuild.plugins.manager import get_registry


def _early_stopping(tmp_path, history):
    registration = get_registry().callbacks["EarlyStopping"]
    params = registration.params.model_validate({"type": "EarlyStopping", "monitor": "val_loss", "patience": 3})
    return registration.factory(params, CallbackContext(run_dir=tmp_path, epochs=20, learning_rate=0.0, history=history))


def _epochs_run(callback, initial_epoch):
    """Epochs until the callback stops a model whose val_loss is ln 2 every epoch (zero weights, learning rate 0)."""
    import keras

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, activation="sigmoid", kernel_initializer="zeros")])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0), loss="binary_crossentropy")
    x, y = np.ones((8, 2), "float32"), np.ones((8, 1), "float32")
    done = model.fit(x, y, validation_data=(x, y), epochs=20, initial_epoch=initial_epoch, callbacks=[callback], verbose=0)
    assert np.allclose(done.history["val_loss"], np.log(2), atol=1e-6)
    return len(done.history["val_loss"])


def test_early_stopping_counts_patience_across_a_resume(tmp_path):
    # a new run: epoch 1 sets the best, epochs 2 to 4 do not beat it, so patience 3 stops after 4
    assert _epochs_run(_early_stopping(tmp_path, {}), 0) == 4
    # resumed after 3 epochs whose best (0.5) the constant ln 2 never beats: two of the three misses were already
    # counted before the resume, so the first epoch after it is the third and stops the run
    resumed = _early_stopping(tmp_path, {"val_loss": [0.5, 0.6, 0.7], "loss": [0.4, 0.5, 0.6]})
    assert _epochs_run(resumed, 3) == 1
    assert resumed.best == 0.5 and resumed.stopped_epoch == 3
    # resumed after epochs that were all worse than ln 2: the first epoch after the resume is the new best
    improving = _early_stopping(tmp_path, {"val_loss": [0.9, 0.8, 0.75]})
    assert _epochs_run(improving, 3) == 4


def _restoring(tmp_path, history):
    registration = get_registry().callbacks["EarlyStopping"]
    params = registration.params.model_validate({"type": "EarlyStopping", "monitor": "val_loss", "patience": 5, "restore_best_weights": True})
    return registration.factory(params, CallbackContext(run_dir=tmp_path, epochs=20, learning_rate=0.0, history=history))


def _drive(callback, model, epochs):
    """Call the callback as fit would, with the model's weights all set to the epoch's value."""
    callback.set_model(model)
    callback.on_train_begin()
    for epoch, value in epochs:
        model.set_weights([np.full_like(w, value) for w in model.get_weights()])
        callback.on_epoch_end(epoch, {"val_loss": value})
    callback.on_train_end()
    return round(float(model.get_weights()[0].flat[0]), 6)  # float32 weights


def test_early_stopping_restores_the_best_weights_from_before_a_resume(tmp_path):
    import keras

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    # the first process: epochs 1 to 3, the best (0.3) at epoch 2; then it is killed
    first = _restoring(tmp_path, {})
    callback_files = lambda: sorted(path.name for path in (tmp_path / "checkpoints").glob("early-stopping-*"))  # noqa: E731
    _drive(first, model, [(0, 0.5), (1, 0.3), (2, 0.4)])
    assert callback_files() == ["early-stopping-val_loss-epoch-0001.npz", "early-stopping-val_loss-epoch-0002.npz"]
    # resumed after all three epochs: later epochs are worse, and the weights of epoch 2 come back at the end
    assert _drive(_restoring(tmp_path, {"val_loss": [0.5, 0.3, 0.4]}), model, [(3, 0.45), (4, 0.6)]) == 0.3
    # killed after epoch 2's best was written but before its checkpoint: only epoch 1 counts, and its weights are still there
    assert _drive(_restoring(tmp_path, {"val_loss": [0.5]}), model, [(1, 0.7), (2, 0.8)]) == 0.5
    # a new best after the resume is kept, and only the last two bests stay on disk
    assert _drive(_restoring(tmp_path, {"val_loss": [0.5, 0.3, 0.4]}), model, [(3, 0.2), (4, 0.25)]) == 0.2
    assert callback_files() == ["early-stopping-val_loss-epoch-0002.npz", "early-stopping-val_loss-epoch-0004.npz"]


def test_only_the_last_two_bests_are_kept_past_epoch_9999(tmp_path):
    import keras

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    _drive(_restoring(tmp_path, {}), model, [(9998, 0.5), (9999, 0.4), (10000, 0.3)])
    names = sorted(path.name for path in (tmp_path / "checkpoints").glob("early-stopping-*"))
    assert names == ["early-stopping-val_loss-epoch-10000.npz", "early-stopping-val_loss-epoch-10001.npz"]
