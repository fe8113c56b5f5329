"""What a model's outputs mean: class probabilities from logits or probabilities, per the run's label encoding."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cnnbuild.errors import RunError

if TYPE_CHECKING:
    from cnnbuild.spec.labels import Labels


def output_probabilities(outputs: Any, labels: Labels) -> Any:
    """Model outputs (logits or probabilities) as a ``(N, classes)`` array of class probabilities."""
    import numpy as np

    expected = 1 if labels.mode == "binary" else labels.num_classes
    if outputs.ndim != 2 or outputs.shape[1] != expected:
        # a model file that is not the run's own (replaced, or of another spec): never an answer for the wrong classes
        raise RunError(
            f"the model gives outputs of shape {tuple(outputs.shape[1:])} per image where this run's {labels.num_classes} classes "
            f"({labels.mode} labels) need ({expected},): its model file does not match the run; train it again, or restore its model.keras"
        )
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
