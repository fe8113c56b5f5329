"""An exported model's output row as an answer, by the export's task (no TensorFlow): the labels
at or above their thresholds with every label's probability (multi-label), or each target's value
in its original units (regression), or each pixel's class (segmentation: :func:`pixel_mask`).
Single-label answers stay as ``predict`` and ``serve`` give them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cnnbuild.export.metadata import ExportMetadata


def task_answer(row: Any, info: ExportMetadata, digits: int | None = None) -> dict[str, Any] | None:
    """``{"labels": [...], "probabilities": {...}}`` or ``{"values": {...}}`` for a multi-label or
    regression export's output ``row``; None for single-label exports. ``digits`` rounds the numbers."""
    output, names = info.output, info.class_names

    def number(value: Any) -> float:
        return round(float(value), digits) if digits is not None else float(value)

    if output.task == "regression":
        return {"values": {name: number(value) for name, value in zip(names, row, strict=True)}}
    if output.task != "multi_label":
        return None
    thresholds = output.thresholds or [0.5] * len(names)
    present = sorted((i for i in range(len(names)) if row[i] >= thresholds[i]), key=lambda i: (-float(row[i]), i))
    return {
        "labels": [{"label": names[i], "probability": number(row[i])} for i in present],
        "probabilities": {name: number(p) for name, p in zip(names, row, strict=True)},
    }


def pixel_mask(output: Any) -> Any:
    """A segmentation export's output for one image, ``(height, width, classes)`` probabilities, as
    its mask: each pixel's most probable class (ties: the lowest index), int32 ``(height, width)``."""
    import numpy as np

    return np.asarray(output).argmax(axis=-1).astype("int32")
