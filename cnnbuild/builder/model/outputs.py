"""What a model's outputs mean: class probabilities from logits or probabilities, per the run's label encoding."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cnnbuild.spec.labels import Labels


def output_probabilities(outputs: Any, labels: Labels) -> Any:
    """Model outputs (logits or probabilities) as a ``(N, classes)`` array of class probabilities."""
    import numpy as np

    if labels.mode == "binary":
        positive = outputs.reshape(-1)
        if labels.from_logits:
            positive = 1 / (1 + np.exp(-positive))
        return np.stack([1 - positive, positive], axis=1)
    if labels.from_logits:
        shifted = outputs - outputs.max(axis=1, keepdims=True)
        exp = np.exp(shifted)
        return exp / exp.sum(axis=1, keepdims=True)
    return outputs
