"""The parity check of multi-label and regression exports, by the task's own measure.

Multi-label: the exported model must make the Keras model's decision (label present or not, at
the run's thresholds) for each label of each validation image: agreement is the share of those
decisions that match (at least 99% for a float export), and the decisions' accuracy against the
true labels may drop by at most ``max_accuracy_drop`` points. Regression: the exported model's
values, in the targets' original units, must be within :data:`VALUE_TOLERANCE` of a target's
standard deviation of the Keras model's on 99% of the images (float exports), and a quantized export's mean absolute
error may rise by at most ``max_accuracy_drop`` percent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cnnbuild.contracts.tasks import task_named
from cnnbuild.export.parity import FLOAT_AGREEMENT, Parity, compiled_call, exported_probabilities, median_ms

if TYPE_CHECKING:
    from cnnbuild.export.runtimes import ExportedModel
    from cnnbuild.export.samples import Examples

#: a float regression export may differ from Keras by this share of each target's standard deviation (1 where not
#: standardised) on at most 1% of the images: the Keras model may compute in bfloat16 (about 3 significant digits), the export in float32
VALUE_TOLERANCE = 0.05


def keras_answers(call: Any, inputs: Any, output: Any, batch: int = 64) -> Any:
    """The Keras model's outputs as the serving graph gives them: probabilities per label, or values in original units."""
    import numpy as np

    outputs = np.concatenate([np.asarray(call(inputs[start : start + batch]), dtype="float64") for start in range(0, len(inputs), batch)])
    outputs = outputs.reshape(len(outputs), -1)
    if output.applied == "sigmoid":
        outputs = 1 / (1 + np.exp(-outputs))
    if output.target_mean:
        outputs = outputs * np.asarray(output.target_std) + np.asarray(output.target_mean)
    return outputs


def compare_task(model: Any, exported: ExportedModel, examples: Examples, *, keras_bytes: int, latency_runs: int) -> Parity:
    """Measure a multi-label, regression or segmentation export against the Keras model (no judgement yet)."""
    import numpy as np

    output = exported.info.output
    if task_named(output.task).per_pixel:
        from cnnbuild.export.mask_parity import compare_masks

        return compare_masks(model, exported, examples, keras_bytes=keras_bytes, latency_runs=latency_runs)
    call = compiled_call(model, examples.keras_inputs.shape[1:])
    expected = keras_answers(call, examples.keras_inputs, output)
    got = exported_probabilities(exported, examples.raw).reshape(len(expected), -1)
    true = np.asarray(examples.labels, dtype="float64").reshape(len(expected), -1)
    finite = bool(np.isfinite(got).all())
    common: dict[str, Any] = {
        "format": exported.info.format, "quantize": exported.info.quantize, "examples": len(expected), "keras_bytes": keras_bytes,
        "export_bytes": exported.size_bytes(), "latency_runs": latency_runs, "runtime": exported.runtime, "task": output.task,
        "keras_latency_ms": median_ms(lambda: call(examples.keras_inputs[:1]).numpy(), latency_runs),
        "export_latency_ms": median_ms(lambda: exported(examples.raw[0][None]), latency_runs),
    }  # fmt: skip
    if output.task == "multi_label":
        thresholds = np.asarray(output.thresholds or [0.5] * expected.shape[1])
        keras_present, export_present, truth = expected >= thresholds, got >= thresholds, true > 0.5
        return Parity(
            **common, agreement=float(np.mean(keras_present == export_present)),
            keras_accuracy=float(np.mean(keras_present == truth)), export_accuracy=float(np.mean(export_present == truth)),
            max_probability_difference=float(np.max(np.abs(got - expected))) if finite else float("nan"),
        )  # fmt: skip
    scale = np.asarray(output.target_std or [1.0] * expected.shape[1])
    tolerance = VALUE_TOLERANCE * scale
    difference = np.abs(got - expected)
    return Parity(
        **common, agreement=float(np.mean(np.all(difference <= tolerance, axis=1))) if finite else 0.0,
        keras_accuracy=float("nan"), export_accuracy=float("nan"),
        max_probability_difference=float(np.max(difference)) if finite else float("nan"),
        keras_mae=float(np.mean(np.abs(expected - true))), export_mae=float(np.mean(np.abs(got - true))) if finite else float("nan"),
        max_value_difference=float(np.max(difference)) if finite else float("nan"), value_tolerance=float(np.min(tolerance)),
    )  # fmt: skip


def task_problems(parity: Parity, max_accuracy_drop: float) -> list[str]:
    """What fails a multi-label, regression or segmentation export (beyond NaN outputs and unquantized weights, which ``judge`` checks)."""
    if task_named(parity.task).per_pixel:
        from cnnbuild.export.mask_parity import mask_problems

        return mask_problems(parity)
    problems = []
    if parity.task == "multi_label":
        if parity.quantize == "none" and parity.agreement < FLOAT_AGREEMENT:
            problems.append(f"the float export makes the Keras model's decision (label present or not, at the run's thresholds) on only {parity.agreement:.2%} of the labels (at least {FLOAT_AGREEMENT:.0%} expected)")
        return problems
    if parity.quantize == "none" and parity.agreement < FLOAT_AGREEMENT:
        problems.append(
            f"the float export's values differ from the Keras model's by up to {parity.max_value_difference:.3g} (original units), "
            f"more than {parity.value_tolerance:.3g} ({VALUE_TOLERANCE:g} of a standard deviation) on {1 - parity.agreement:.2%} of the validation images"
        )
    if parity.keras_mae is not None and parity.export_mae is not None and parity.export_mae > parity.keras_mae * (1 + max_accuracy_drop / 100):
        problems.append(f"the mean absolute error rises from {parity.keras_mae:.4g} to {parity.export_mae:.4g}, more than the allowed {max_accuracy_drop:g}%")
    return problems


def task_rows(parity: Parity) -> list[tuple[str, str, str]]:
    """The parity table's rows of a multi-label, regression or segmentation export."""
    if task_named(parity.task).per_pixel:
        from cnnbuild.export.mask_parity import mask_rows

        return mask_rows(parity)
    latency = (f"latency, 1 image (median of {parity.latency_runs})", f"{parity.keras_latency_ms:.3f} ms", f"{parity.export_latency_ms:.3f} ms")
    size = ("size", f"{parity.keras_bytes / 1e3:.1f} KB", f"{parity.export_bytes / 1e3:.1f} KB")
    if parity.task == "multi_label":
        return [
            ("label decisions agreeing", "", f"{parity.agreement:.2%}"),
            ("label decisions right", f"{parity.keras_accuracy:.2%}", f"{parity.export_accuracy:.2%}"),
            ("max |probability difference|", "", f"{parity.max_probability_difference:.2e}"),
            size, latency,
        ]  # fmt: skip
    return [
        ("images within tolerance", "", f"{parity.agreement:.2%}"),
        ("mean absolute error", f"{parity.keras_mae:.4g}", f"{parity.export_mae:.4g}"),
        ("max |value difference|", "", f"{parity.max_value_difference:.2e}"),
        size, latency,
    ]  # fmt: skip
