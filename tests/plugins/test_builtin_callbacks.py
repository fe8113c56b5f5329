"""The builtin callbacks' factories: what they add to Keras's callbacks."""

from __future__ import annotations

import numpy as np

from cnnbuild.plugins.contracts import CallbackContext
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
