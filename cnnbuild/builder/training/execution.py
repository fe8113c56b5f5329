"""How many training batches one call into TensorFlow runs (``train.steps_per_execution``).

Keras pays a fixed cost per training step outside the model's own work (a Python loop, a call
into the traced function, the callbacks): about 1.3 ms on the 2-core benchmark machine. For
the malaria model (3.3 GFLOP a batch of 64, a 16.7 ms step) that is 8% of the step, for the
flowers model (18 GFLOP a batch of 32, about 110 ms) about 1%. Running several batches per call spreads that cost; in
exchange, callbacks see only every Nth batch, and Ctrl-C stops after the call in progress. So
``auto`` groups batches only while a call stays short: up to ``CPU_CALL_FLOPS`` of estimated
training work (about a tenth of a second on that CPU), at most ``MAX_AUTO_STEPS`` batches.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

#: Estimated training work per call that ``auto`` allows: about 0.1 s at the 170 to 190 GFLOP/s
#: the benchmark machine's CPU reaches (BENCHMARKS.md); a GPU gets through far more in that time.
CPU_CALL_FLOPS = 20e9
GPU_CALL_FLOPS = 2e12  # a guess: not yet measured on a GPU
#: Past 8 batches per call the gain flattens (malaria model, 2-core CPU: 3,824 img/s at 1,
#: 4,090 at 4, 4,135 at 8, 4,150 at 16); 16 keeps some margin for faster machines.
MAX_AUTO_STEPS = 16


@dataclass(frozen=True)
class ExecutionPlan:
    """What ``fit`` runs: batches per call, and the epoch's batch count over a repeated dataset
    (``steps_per_epoch``, or one pass of the continuous pipeline; None: a new iterator each epoch)."""

    steps_per_execution: int
    steps_per_epoch: int | None
    continuous_pipeline: bool
    reason: str

    def as_dict(self) -> dict[str, object]:
        return {"steps_per_execution": self.steps_per_execution, "continuous_pipeline": self.continuous_pipeline, "reason": self.reason}


def _largest_divisor_up_to(number: int, limit: int) -> int:
    return next(n for n in range(min(number, limit), 0, -1) if number % n == 0)


def plan_execution(
    setting: Literal["auto"] | int,
    *,
    training_flops_per_batch: float,
    steps_per_epoch: int | None,
    batches_per_pass: int | None,
    on_gpu: bool,
    several_per_call: bool = True,
) -> ExecutionPlan:
    """Batches per call for ``train.steps_per_execution``, and the steps per epoch ``fit`` gets.

    ``steps_per_epoch`` is the spec's, ``batches_per_pass`` one pass of the continuous pipeline
    (None when it is off). Over a repeated dataset Keras would run whole calls past the epoch's
    end, so the count must divide the epoch; with a per-epoch iterator the last call of an epoch
    simply stops when the data runs out. ``several_per_call`` False (MirroredStrategy) means 1.
    """
    epoch = steps_per_epoch or batches_per_pass
    continuous = steps_per_epoch is None and batches_per_pass is not None
    if not several_per_call:
        return ExecutionPlan(1, epoch, continuous, "one step per call under tf.distribute (Keras 3.15 fails with more)")
    if setting != "auto":
        if continuous and batches_per_pass % setting:
            # The spec check already refuses a steps_per_epoch it does not divide; here the count
            # comes from the data, so keep the user's value and let each epoch end on its own iterator.
            return ExecutionPlan(setting, None, False, f"steps_per_execution {setting} does not divide the {batches_per_pass} batches of an epoch: a new iterator each epoch")
        return ExecutionPlan(setting, epoch, continuous, "set in the spec")
    budget = GPU_CALL_FLOPS if on_gpu else CPU_CALL_FLOPS
    steps = max(1, min(MAX_AUTO_STEPS, int(budget // max(training_flops_per_batch, 1.0))))
    if epoch:
        steps = _largest_divisor_up_to(epoch, steps)
    work = training_flops_per_batch / 1e9
    return ExecutionPlan(steps, epoch, continuous, f"auto: about {work:.3g} GFLOP of training per batch, {budget / 1e9:,.0f} GFLOP per call at most")


def batches_per_pass(spec: Any, train_count: int, num_processes: int) -> int | None:
    """Batches in one pass over the training data, when epochs run as passes over one repeated pipeline.

    Keras otherwise makes a new tf.data iterator every epoch and drops the old one; dropping
    an autotuned iterator while tf.data's autotuner is at work stalled epochs by up to 0.9 s,
    and each new iterator refills the shuffle buffer before its first batch
    (BENCHMARKS.md). One iterator keeps preparing the next epoch's batches while an
    epoch ends and validation runs. Only in a single process, where the batch count is exact
    (``train.continuous_pipeline: false`` turns it off).
    """
    if not spec.train.continuous_pipeline or num_processes != 1 or not train_count:
        return None
    return -(-train_count // spec.data.batch_size)
