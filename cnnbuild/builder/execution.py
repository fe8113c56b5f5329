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
from typing import Literal

#: Estimated training work per call that ``auto`` allows: about 0.1 s at the 170 to 190 GFLOP/s
#: the benchmark machine's CPU reaches (BENCHMARKS.md); a GPU gets through far more in that time.
CPU_CALL_FLOPS = 20e9
GPU_CALL_FLOPS = 2e12  # a guess: not yet measured on a GPU
#: Past 8 batches per call the gain flattens (malaria model, 2-core CPU: 3,824 img/s at 1,
#: 4,090 at 4, 4,135 at 8, 4,150 at 16); 16 keeps some margin for faster machines.
MAX_AUTO_STEPS = 16


@dataclass(frozen=True)
class ExecutionPlan:
    """What the fit runs: batches per call, and whether epochs stay passes over one repeated iterator."""

    steps_per_execution: int
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
    batches_per_epoch: int | None,
    exact_epochs: bool,
    continuous_pipeline: bool,
    on_gpu: bool,
) -> ExecutionPlan:
    """Batches per call for ``train.steps_per_execution``.

    ``batches_per_epoch`` is the count of an epoch when known; ``exact_epochs`` says the epoch is
    counted in batches of a repeated dataset (``steps_per_epoch``, or the continuous pipeline),
    where Keras would run whole calls past the epoch's end, so the count must divide it. With a
    per-epoch iterator the last call of an epoch simply stops when the data runs out.
    """
    if setting != "auto":
        if exact_epochs and batches_per_epoch and batches_per_epoch % setting and continuous_pipeline:
            # The spec check already refuses a steps_per_epoch it does not divide; here the count
            # comes from the data, so keep the user's value and let each epoch end on its own iterator.
            return ExecutionPlan(setting, False, f"steps_per_execution {setting} does not divide the {batches_per_epoch} batches of an epoch: a new iterator each epoch")
        return ExecutionPlan(setting, continuous_pipeline, "set in the spec")
    budget = GPU_CALL_FLOPS if on_gpu else CPU_CALL_FLOPS
    steps = max(1, min(MAX_AUTO_STEPS, int(budget // max(training_flops_per_batch, 1.0))))
    if batches_per_epoch:
        steps = _largest_divisor_up_to(batches_per_epoch, steps) if exact_epochs else min(steps, batches_per_epoch)
    work = training_flops_per_batch / 1e9
    return ExecutionPlan(steps, continuous_pipeline, f"auto: about {work:.3g} GFLOP of training per batch, {budget / 1e9:,.0f} GFLOP per call at most")
