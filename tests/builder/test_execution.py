"""train.steps_per_execution: how many batches one call runs, and that epochs stay exact."""

from __future__ import annotations

import json

import pytest

from cnnbuild.builder.training.execution import CPU_CALL_FLOPS, MAX_AUTO_STEPS, plan_execution
from tests.conftest import REPO

MALARIA_BATCH = 3 * 17_383_746 * 64  # training FLOPs of a batch of 64 through the malaria model (3x forward)
FLOWERS_BATCH = 3 * 187_038_602 * 32


def plan(setting="auto", flops=MALARIA_BATCH, passes=30, steps=None, gpu=False, several=True):
    return plan_execution(setting, training_flops_per_batch=flops, steps_per_epoch=steps, batches_per_pass=passes, on_gpu=gpu, several_per_call=several)


def test_auto_groups_cheap_batches_up_to_the_budget():
    assert int(CPU_CALL_FLOPS // MALARIA_BATCH) == 5
    assert (plan().steps_per_execution, plan().steps_per_epoch, plan().continuous_pipeline) == (5, 30, True)  # 5 divides 30
    assert plan(passes=28).steps_per_execution == 4  # the largest divisor of 28 not above 5: epochs stay 28 batches
    assert plan(passes=29).steps_per_execution == 1  # a prime count of batches: one at a time
    assert plan(passes=3).steps_per_execution == 3  # never more than an epoch
    by_spec = plan(passes=None, steps=28)  # the spec's steps_per_epoch over the repeated data
    assert (by_spec.steps_per_execution, by_spec.steps_per_epoch, by_spec.continuous_pipeline) == (4, 28, False)


def test_auto_leaves_expensive_batches_alone_and_caps_tiny_ones():
    assert plan(flops=FLOWERS_BATCH, passes=15).steps_per_execution == 1
    assert plan(flops=1e6, passes=1000).steps_per_execution == 10  # capped at 16, then the largest divisor of 1000
    assert plan(flops=1e6, passes=None).steps_per_execution == MAX_AUTO_STEPS
    assert plan(flops=FLOWERS_BATCH, passes=15, gpu=True).steps_per_execution == 15  # a GPU gets through far more per call


def test_auto_with_per_epoch_iterators_needs_no_divisor():
    # continuous pipeline off: the last call of an epoch stops where the data ends, so any count works
    per_epoch = plan(passes=None)
    assert (per_epoch.steps_per_execution, per_epoch.steps_per_epoch) == (5, None)


def test_a_set_count_is_kept_even_when_it_does_not_divide_the_epoch():
    kept = plan(setting=4)
    assert (kept.steps_per_execution, kept.steps_per_epoch, kept.continuous_pipeline) == (4, None, False)  # epochs end on their own iterator
    assert "does not divide the 30 batches" in kept.reason
    divides = plan(setting=6)
    assert (divides.steps_per_execution, divides.steps_per_epoch, divides.continuous_pipeline) == (6, 30, True)


def test_one_step_per_call_where_the_engine_cannot_run_more():
    mirrored = plan(several=False)
    assert (mirrored.steps_per_execution, mirrored.steps_per_epoch, mirrored.continuous_pipeline) == (1, 30, True)


def test_a_count_that_does_not_divide_steps_per_epoch_is_a_spec_error(write_spec):
    from cnnbuild.spec import SpecError, load_spec

    path = write_spec("name: x\ndata: {type: digits}\nmodel: {layers: [Flatten, {type: Dense, units: auto}]}\ntrain:\n  steps_per_epoch: 10\n  steps_per_execution: 4\n")
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    message = str(caught.value)
    assert f"{path}:6:24: train.steps_per_execution: 4 does not divide steps_per_epoch (10)" in message
    assert "epochs would run 12 batches instead of 10; use a divisor of 10 such as 2 or 5, or auto" in message


def test_runs_use_the_plan_and_give_the_same_history(tmp_path, monkeypatch):
    """Grouping batches changes how often Keras is called, not what it trains on."""
    import keras

    import cnnbuild

    seen: list[dict] = []
    original_fit = keras.Model.fit

    def recording_fit(self, x=None, *args, **kwargs):
        seen.append({"per_call": self.steps_per_execution, "steps": kwargs.get("steps_per_epoch")})
        return original_fit(self, x, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "fit", recording_fit)
    overrides = ["train.epochs=2", "data.image_size=[8,8]", "train.verbose=quiet", "train.callbacks=[]"]
    runs = {
        name: cnnbuild.run(REPO / "examples" / "digits.yaml", overrides=[*overrides, *sets], output=tmp_path / name)
        for name, sets in {
            "1": ["train.steps_per_execution=1"],
            "auto": [],
            "4": ["train.steps_per_execution=4"],
            "1-per-epoch-iterators": ["train.steps_per_execution=1", "train.continuous_pipeline=false"],
        }.items()
    }
    # 1,438 training digits in batches of 32: 45 batches a pass; auto takes all 16 a call allows, as the largest divisor: 15.
    # 4 does not divide 45: epochs get their own iterators, and each epoch's last call runs the one batch left.
    assert seen == [{"per_call": 1, "steps": 45}, {"per_call": 15, "steps": 45}, {"per_call": 4, "steps": None}, {"per_call": 1, "steps": None}]
    assert json.loads((tmp_path / "4" / "environment.json").read_text())["execution"]["continuous_pipeline"] is False
    for name, reference in (("auto", "1"), ("4", "1-per-epoch-iterators")):
        for key, values in runs[reference].history.items():
            assert runs[name].history[key] == pytest.approx(values, rel=1e-4), (name, key)



def test_more_than_one_step_per_call_is_refused_with_mirrored_strategy(write_spec):
    from cnnbuild.spec import SpecError, load_spec

    path = write_spec("name: x\ndata: {type: digits}\nmodel: {layers: [Flatten, {type: Dense, units: auto}]}\ntrain: {steps_per_execution: 2}\ndistribute: {mode: devices}\n")
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert f"{path}:4:30: train.steps_per_execution: 2 batches per call do not work with distribute.mode: devices" in str(caught.value)


def test_huge_steps_per_epoch_is_checked_at_once(write_spec):
    from cnnbuild.spec import SpecError, load_spec

    # 2**31 - 1 is prime: the only divisors are 1 and itself, and the search for one above 3 is bounded
    path = write_spec("name: x\ndata: {type: digits}\nmodel: {layers: [Flatten, {type: Dense, units: auto}]}\ntrain: {steps_per_epoch: 2147483647, steps_per_execution: 3}\n")
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert "use a divisor of 2147483647 such as 1, or auto" in str(caught.value)


@pytest.mark.parametrize("asked_after, validation_calls", [(7, [1, 3]), (3, [1])])
def test_ctrl_c_in_an_epochs_last_call_keeps_its_whole_validation(asked_after, validation_calls):
    """Asked during the last call, training has run to the end and the epoch is kept, so its validation runs whole;
    asked earlier, the epoch is repeated on resume and its validation stops after one batch."""
    import keras
    import numpy as np

    from cnnbuild.builder.training.callbacks import Interruption

    interruption = Interruption()
    seen: list[int] = []

    class AskAt(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch >= asked_after:
                interruption.requested = True

        def on_test_batch_end(self, batch, logs=None):
            seen.append(batch)

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse", steps_per_execution=2)
    x = np.ones((32, 2), "float32")
    model.fit(x, x[:, :1], batch_size=4, validation_data=(x[:12], x[:12, :1]), epochs=3, callbacks=[AskAt(), interruption.callback()], verbose=0)
    # 8 training batches in calls of 2 (the last call ends at index 7); 3 validation batches in two calls,
    # which Keras reports as ending at indices 1 and 3. Before the fix, a stop asked in the last call cut validation to [1].
    assert seen == validation_calls
