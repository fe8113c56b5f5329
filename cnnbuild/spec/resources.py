"""How much memory a spec's training needs, estimated from the shape inference (no TensorFlow)."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cnnbuild.spec.sections import Adam, AdamW, RMSprop

if TYPE_CHECKING:
    from cnnbuild.spec.document import Spec
    from cnnbuild.spec.shapes import LayerRow

def _optimizer_slots(spec: Spec) -> int:
    """Optimizer state per parameter: Adam and AdamW keep two moments (three with amsgrad); RMSprop one, more when centered or with momentum; SGD one with momentum."""
    optimizer = spec.compile.optimizer
    if isinstance(optimizer, Adam):
        return 3 if optimizer.amsgrad else 2
    if isinstance(optimizer, AdamW):
        return 2
    if isinstance(optimizer, RMSprop):
        return 1 + int(optimizer.centered) + int(optimizer.momentum > 0)
    return int(optimizer.momentum > 0)


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes a training step needs: weights, their gradients, the optimizer's state, and a batch's activations."""

    weights: int
    gradients: int
    optimizer: int
    activations: int
    batch_size: int
    #: networks trained whose inner activations are not counted (a backbone while it is trained)
    not_counted: tuple[str, ...] = ()

    @property
    def total(self) -> int:
        return self.weights + self.gradients + self.optimizer + self.activations

    def text(self) -> str:
        return (
            f"about {size(self.total)} to train: weights {size(self.weights)}, gradients {size(self.gradients)}, "
            f"optimizer state {size(self.optimizer)}, activations of a batch of {self.batch_size} {size(self.activations)} (kept for the backward pass)"
            + (f"; not counted: the activations inside {', '.join(self.not_counted)}, which training it keeps too (often more than all of the above)" if self.not_counted else "")
        )


def size(count: int) -> str:
    """Bytes as MiB or GiB, whichever reads better."""
    return f"{count / 2**30:,.1f} GiB" if count >= 2**30 else f"{count / 2**20:,.1f} MiB"


def estimate_memory(spec: Spec, rows: list[LayerRow]) -> MemoryEstimate:
    """The memory a training step of ``spec`` needs (weights in float32; activations in float32, or
    16 bits under mixed precision, counted twice: kept for the backward pass, and their gradients)."""
    registry = spec.registry
    backbones = [row for row in rows if (r := registry.layers.get(row.type)) is not None and r.backbone]
    params = sum(row.params or 0 for row in rows)
    trainable = params - sum(row.non_trainable or 0 for row in rows)
    trained_backbones = backbones if spec.train.fine_tune is not None else [row for row in backbones if row.non_trainable != row.params]
    if spec.train.fine_tune is not None:  # the fine-tuning phase trains the frozen backbones' weights too: the larger need
        trainable += sum(row.params or 0 for row in backbones if row.non_trainable == row.params)
    width = 2 if spec.train.precision in ("mixed_float16", "mixed_bfloat16") else 4
    batch = spec.data.batch_size
    elements = math.prod(spec.data.input_shape) + sum(math.prod(d or 1 for d in row.output_shape) for row in rows if row.output_shape)
    not_counted = tuple(f"the {row.type} {row.name}" if row.name else f"the {row.type} at model.layers[{row.index}]" for row in trained_backbones)
    return MemoryEstimate(4 * params, 4 * trainable, 4 * trainable * _optimizer_slots(spec), 2 * width * elements * batch, batch, not_counted)


def machine_memory() -> int | None:
    """This machine's physical memory in bytes, or None where the system does not tell."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None
