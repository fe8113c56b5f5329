"""The parity check of segmentation exports, by mask IoU.

The Keras model's masks and the export's (the argmax of each pixel's probabilities) are counted
into one pixel confusion matrix over all the validation images; ``agreement`` is their pooled IoU
(each class's shared pixels summed, over each class's union summed: ``(N - d) / (N + d)`` for ``d``
of ``N`` pixels differing), and a float export needs at least :data:`MASK_IOU`. Pooled, a pixel or
two flipped into a class neither mask otherwise shows cannot fail a correct export the way a
per-image mean over classes would with few validation images; the lowest image's mean IoU (over
the classes either of its masks shows) is recorded beside it, for information. Against the true
masks, each model's pixel accuracy (``keras_accuracy``, ``export_accuracy``: a quantized export may
lose at most ``max_accuracy_drop`` points, as a classifier's accuracy) and mean IoU are recorded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cnnbuild.export.parity import Parity, compiled_call, exported_probabilities, median_ms

if TYPE_CHECKING:
    from cnnbuild.export.metadata import OutputFacts
    from cnnbuild.export.runtimes import ExportedModel
    from cnnbuild.export.samples import Examples

#: a float export's masks must have at least this pooled IoU with the Keras model's, over all the validation pixels
MASK_IOU = 0.99


def mask_confusion(first: Any, second: Any, classes: int) -> Any:
    """The ``(classes, classes)`` pixel counts of masks ``first`` (rows) against ``second`` (columns), any shapes alike."""
    import numpy as np

    pairs = np.asarray(first, dtype="int64").reshape(-1) * classes + np.asarray(second, dtype="int64").reshape(-1)
    return np.bincount(pairs, minlength=classes * classes).reshape(classes, classes)


def pooled_iou(confusion: Any) -> float:
    """Every class's shared pixels summed over every class's union summed (1.0 for no pixels)."""
    import numpy as np

    shared, total = float(np.trace(confusion)), float(np.sum(confusion))
    return shared / (2 * total - shared) if total else 1.0


def pixel_probabilities(outputs: Any, output: OutputFacts) -> Any:
    """The Keras model's ``(N, height, width, units)`` outputs as the serving graph gives them:
    each pixel's class probabilities (softmax or sigmoid applied as the metadata says, a one-unit
    output as the two columns ``[1 - p, p]``)."""
    import numpy as np

    outputs = np.asarray(outputs, dtype="float32")
    if output.applied == "softmax":
        shifted = np.exp(outputs - outputs.max(axis=-1, keepdims=True))
        outputs = shifted / shifted.sum(axis=-1, keepdims=True)
    elif output.applied == "sigmoid":
        outputs = np.exp(-np.logaddexp(0, -outputs))  # the sigmoid, without overflow
    if output.binary_two_columns:
        outputs = np.concatenate([1 - outputs, outputs], axis=-1)
    return outputs


def compare_masks(model: Any, exported: ExportedModel, examples: Examples, *, keras_bytes: int, latency_runs: int, batch: int = 32) -> Parity:
    """Measure a segmentation export against the Keras model (no judgement yet)."""
    import numpy as np

    from cnnbuild.builder.reports.segmentation_report import image_measures

    info = exported.info
    classes = len(info.class_names)
    call = compiled_call(model, examples.keras_inputs.shape[1:])
    inputs = examples.keras_inputs
    truths = np.asarray(examples.labels)
    ignore = info.output.ignore_index
    between: list[float] = []
    confusion = np.zeros((classes, classes), dtype="int64")
    keras_true: list[tuple[float, float]] = []
    export_true: list[tuple[float, float]] = []
    finite, largest = True, 0.0
    for start in range(0, len(inputs), batch):  # batch by batch in float32: never all the probability maps at once
        expected = pixel_probabilities(np.asarray(call(inputs[start : start + batch])), info.output)
        got = exported_probabilities(exported, examples.raw[start : start + batch], dtype="float32")
        finite = finite and bool(np.isfinite(got).all())
        if finite:
            largest = max(largest, float(np.max(np.abs(got - expected))))
        keras_masks, export_masks = expected.argmax(axis=-1), got.argmax(axis=-1)
        confusion += mask_confusion(keras_masks, export_masks, classes)
        for offset, truth in enumerate(truths[start : start + batch].astype("int64")):
            between.append(image_measures(keras_masks[offset], export_masks[offset], classes, None)[0])
            keras_true.append(image_measures(truth, keras_masks[offset], classes, ignore))
            export_true.append(image_measures(truth, export_masks[offset], classes, ignore))
    return Parity(
        format=info.format, quantize=info.quantize, examples=len(truths), task=info.output.task,
        agreement=pooled_iou(confusion) if finite else 0.0, min_mask_iou=float(np.min(between)) if finite else 0.0, mask_iou_threshold=MASK_IOU,
        keras_accuracy=float(np.mean([accuracy for _, accuracy in keras_true])), export_accuracy=float(np.mean([accuracy for _, accuracy in export_true])),
        keras_mean_iou=float(np.mean([iou for iou, _ in keras_true])), export_mean_iou=float(np.mean([iou for iou, _ in export_true])),
        max_probability_difference=largest if finite else float("nan"),
        keras_bytes=keras_bytes, export_bytes=exported.size_bytes(), latency_runs=latency_runs, runtime=exported.runtime,
        keras_latency_ms=median_ms(lambda: call(inputs[:1]).numpy(), latency_runs),
        export_latency_ms=median_ms(lambda: exported(examples.raw[0][None]), latency_runs),
    )  # fmt: skip


def mask_problems(parity: Parity) -> list[str]:
    """What fails a segmentation export beyond NaN outputs, the pixel accuracy drop and unquantized weights (``judge`` checks those)."""
    if parity.quantize == "none" and parity.agreement < MASK_IOU:
        return [
            f"the float export's masks have a pooled IoU of {parity.agreement:.4f} with the Keras model's over all the validation pixels "
            f"(the lowest image's mean IoU {parity.min_mask_iou:.4f}), under the {MASK_IOU:g} expected"
        ]
    return []


def mask_rows(parity: Parity) -> list[tuple[str, str, str]]:
    """The parity table's rows of a segmentation export."""
    return [
        ("mask IoU with Keras (pooled / lowest image)", "", f"{parity.agreement:.4f} / {parity.min_mask_iou:.4f}"),
        ("mean IoU against the true masks", f"{parity.keras_mean_iou:.4f}", f"{parity.export_mean_iou:.4f}"),
        ("pixel accuracy", f"{parity.keras_accuracy:.2%}", f"{parity.export_accuracy:.2%}"),
        ("max |probability difference|", "", f"{parity.max_probability_difference:.2e}"),
        ("size", f"{parity.keras_bytes / 1e3:.1f} KB", f"{parity.export_bytes / 1e3:.1f} KB"),
        (f"latency, 1 image (median of {parity.latency_runs})", f"{parity.keras_latency_ms:.3f} ms", f"{parity.export_latency_ms:.3f} ms"),
    ]
