"""The parity check every export passes: the exported model against the Keras model on the
validation split (top-1 agreement, accuracy of each, largest probability difference), and the
size and single-image latency of both."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cnnbuild.export.runtimes import ExportedModel
    from cnnbuild.export.samples import Examples
    from cnnbuild.spec.labels import Labels

#: a float export must give the Keras model's top-1 class on at least this share of the validation images
FLOAT_AGREEMENT = 0.99
#: the dtype most weight values must have in each mode (a "quantized" model that is secretly float fails)
WEIGHT_DTYPES = {"none": ("float32",), "float16": ("float16",), "dynamic": ("int8",), "int8": ("int8",)}
WEIGHT_SHARE = 0.8


@dataclass
class Parity:
    """What the check measured, and what it found wrong (``problems``; none when it passed)."""

    format: str
    quantize: str
    examples: int
    agreement: float
    keras_accuracy: float
    export_accuracy: float
    max_probability_difference: float
    keras_bytes: int
    export_bytes: int
    keras_latency_ms: float
    export_latency_ms: float
    latency_runs: int
    runtime: str
    weights: dict[str, int] = field(default_factory=dict)
    int8_activations: int | None = None
    problems: list[str] = field(default_factory=list)
    #: multi-label: agreement and accuracy are of (image, label) decisions at the run's thresholds;
    #: regression: agreement is the share of images whose value is within ``value_tolerance`` of Keras's,
    #: accuracy is not measured (NaN) and the mean absolute errors and the largest difference are in original units
    task: str = "single_label"
    keras_mae: float | None = None
    export_mae: float | None = None
    max_value_difference: float | None = None
    value_tolerance: float | None = None
    #: segmentation: agreement is the Keras and export masks' IoU pooled over all the validation pixels, judged against
    #: ``mask_iou_threshold`` (``min_mask_iou``: the lowest image's mean IoU, information); accuracy is pixel accuracy against the true masks
    min_mask_iou: float | None = None
    mask_iou_threshold: float | None = None
    keras_mean_iou: float | None = None
    export_mean_iou: float | None = None

    @property
    def passed(self) -> bool:
        return not self.problems

    @property
    def accuracy_drop_points(self) -> float:
        if self.task == "regression":
            return 0.0  # judged by the values' differences instead
        return 100 * (self.keras_accuracy - self.export_accuracy)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "accuracy_drop_points": round(self.accuracy_drop_points, 3), "passed": self.passed}

    def table(self) -> str:
        """The comparison as a small text table, Keras beside the export."""
        name = f"{self.format}" + ("" if self.quantize == "none" else f" {self.quantize}")
        if self.task != "single_label":
            from cnnbuild.export.task_parity import task_rows

            rows = [("", "keras", name), *task_rows(self)]
        else:
            rows = self._class_rows(name)
        first = max(len(row[0]) for row in rows)
        second = max(len(row[1]) for row in rows)
        lines = [f"{label:<{first}}  {keras:>{second}}  {export}" for label, keras, export in rows]
        lines.append(f"({self.examples} validation images; export run with {self.runtime}; Keras latency: the compiled model call on a pre-resized image)")
        return "\n".join(lines)

    def _class_rows(self, name: str) -> list[tuple[str, str, str]]:
        return [
            ("", "keras", name),
            ("top-1 agreement", "", f"{self.agreement:.2%}"),
            ("accuracy", f"{self.keras_accuracy:.2%}", f"{self.export_accuracy:.2%}"),
            ("max |probability difference|", "", f"{self.max_probability_difference:.2e}"),
            ("size", _size(self.keras_bytes), _size(self.export_bytes)),
            (f"latency, 1 image (median of {self.latency_runs})", f"{self.keras_latency_ms:.3f} ms", f"{self.export_latency_ms:.3f} ms"),
        ]


def _size(count: int) -> str:
    return f"{count / 1e6:.2f} MB" if count >= 1e6 else f"{count / 1e3:.1f} KB"


def median_ms(call: Callable[[], Any], runs: int, warmup: int = 3) -> float:
    """Median wall time of ``call()`` over ``runs`` calls, in milliseconds."""
    for _ in range(warmup):
        call()
    times = []
    for _ in range(max(1, runs)):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def exported_probabilities(exported: ExportedModel, images: list[Any], batch: int = 32, dtype: str = "float64") -> Any:
    """Probabilities for images of any sizes: one call per run of equal-sized images (as ``dtype``)."""
    import numpy as np

    rows: list[Any] = [None] * len(images)
    by_shape: dict[tuple[int, ...], list[int]] = {}
    for index, image in enumerate(images):
        by_shape.setdefault(image.shape, []).append(index)
    for indices in by_shape.values():
        for start in range(0, len(indices), batch):
            chunk = indices[start : start + batch]
            for index, row in zip(chunk, exported(np.stack([images[i] for i in chunk])), strict=True):
                rows[index] = row
    return np.asarray(rows, dtype=dtype)


def compiled_call(model: Any, shape: tuple[int, ...]) -> Any:
    """The Keras model's forward pass as one traced function (``model.predict`` retraces per model and adds its own overhead)."""
    import tensorflow as tf

    return tf.function(lambda x: model(x, training=False), input_signature=[tf.TensorSpec([None, *shape], tf.float32)])


def keras_probabilities(call: Any, inputs: Any, labels: Labels, batch: int = 64) -> Any:
    import numpy as np

    from cnnbuild.builder.model.outputs import output_probabilities

    outputs = np.concatenate([np.asarray(call(inputs[start : start + batch]), dtype="float64") for start in range(0, len(inputs), batch)])
    return output_probabilities(outputs, labels)


def compare(model: Any, labels: Labels, exported: ExportedModel, examples: Examples, *, keras_bytes: int, latency_runs: int) -> Parity:
    """Measure the exported model against the Keras model (no judgement yet)."""
    import numpy as np

    call = compiled_call(model, examples.keras_inputs.shape[1:])
    expected = keras_probabilities(call, examples.keras_inputs, labels)
    got = exported_probabilities(exported, examples.raw)
    first, first_keras = examples.raw[0][None], examples.keras_inputs[:1]
    return Parity(
        format=exported.info.format,
        quantize=exported.info.quantize,
        examples=len(examples.labels),
        agreement=float(np.mean(got.argmax(1) == expected.argmax(1))),
        keras_accuracy=float(np.mean(expected.argmax(1) == examples.labels)),
        export_accuracy=float(np.mean(got.argmax(1) == examples.labels)),
        max_probability_difference=float(np.nanmax(np.abs(got - expected))) if np.isfinite(got).all() else float("nan"),
        keras_bytes=keras_bytes,
        export_bytes=exported.size_bytes(),
        keras_latency_ms=median_ms(lambda: call(first_keras).numpy(), latency_runs),
        export_latency_ms=median_ms(lambda: exported(first), latency_runs),
        latency_runs=latency_runs,
        runtime=exported.runtime,
    )


def judge(parity: Parity, *, max_accuracy_drop: float, facts: dict[str, Any]) -> None:
    """Fill ``parity.problems``: NaN outputs, an accuracy drop past ``max_accuracy_drop`` points,
    a float export that changes answers, a quantized export that is not quantized (``facts``:
    the format's ``quantization_facts``)."""
    import math

    weights = parity.weights = facts.get("weights", {})
    parity.int8_activations = facts.get("int8_activations")
    if math.isnan(parity.max_probability_difference):
        parity.problems.append("the exported model outputs NaN or infinite probabilities")
    if parity.accuracy_drop_points > max_accuracy_drop:
        measure = "pixel accuracy" if parity.min_mask_iou is not None else "accuracy"  # segmentation: against the true masks
        parity.problems.append(f"{measure} drops {parity.accuracy_drop_points:.2f} points ({parity.keras_accuracy:.2%} -> {parity.export_accuracy:.2%}), more than the allowed {max_accuracy_drop:g}")
    if parity.task != "single_label":
        from cnnbuild.export.task_parity import task_problems

        parity.problems += task_problems(parity, max_accuracy_drop)
    elif parity.quantize == "none" and parity.agreement < FLOAT_AGREEMENT:
        parity.problems.append(f"the float export gives the Keras model's top-1 class on only {parity.agreement:.2%} of the validation images (at least {FLOAT_AGREEMENT:.0%} expected)")
    total = sum(weights.values())
    expected = WEIGHT_DTYPES[parity.quantize]
    share = sum(count for dtype, count in weights.items() if dtype in expected) / total if total else 1.0
    if share < WEIGHT_SHARE:
        held = ", ".join(f"{dtype} {count:,}" for dtype, count in sorted(weights.items(), key=lambda item: -item[1]))
        parity.problems.append(f"--quantize {parity.quantize} should store most weights as {'/'.join(expected)}, but only {share:.0%} are ({held} values): the conversion did not quantize the model")
    if parity.quantize == "int8" and not parity.int8_activations:
        parity.problems.append("--quantize int8 should compute in int8, but no activation is quantized: the conversion fell back to float")
