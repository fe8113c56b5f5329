"""Checks that need the whole spec: shapes through the layer stack and loss/label consistency."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cnnbuild.spec.engine import expected_backend, several_steps_per_call
from cnnbuild.spec.errors import SpecIssue, format_path
from cnnbuild.spec.labels import PROBABILITY_ACTIVATIONS, binary_labels, class_count, label_mode
from cnnbuild.spec.shapes import LayerRow, ShapeFunctionFailed, ShapeProblem, infer_layers, infer_spec
from cnnbuild.spec.yaml_source import SpecSource

if TYPE_CHECKING:
    from cnnbuild.plugins.registry import Registry
    from cnnbuild.spec.document import Spec

#: Above this, building the model would allocate gigabytes of weights (4 GiB at the limit).
MAX_PARAMETERS = 1_000_000_000


class _Issues:
    def __init__(self, spec: Spec) -> None:
        self.source = spec.source or SpecSource(None, "<dict>")
        self.items: list[SpecIssue] = []

    def add(self, path: tuple[Any, ...], message: str, *, key: bool = False) -> None:
        where, line, column = self.source.locate(path, key=key)
        self.items.append(SpecIssue(where, line, column, format_path(path), message))


def _size_issues(rows: list[LayerRow], issues: _Issues) -> None:
    """A model too large to allocate fails here, by name, instead of inside Keras (or the kernel's OOM killer)."""
    total = sum(row.params or 0 for row in rows)
    if total <= MAX_PARAMETERS:
        return
    largest = max(rows, key=lambda row: row.params or 0)
    issues.add(
        (*largest.section.split("."), largest.index),
        f"the model would have {total:,} parameters ({total * 4 / 2**30:,.1f} GiB as float32), above the limit of {MAX_PARAMETERS:,}; "
        f"this {largest.type} alone has {largest.params:,}: use fewer units or filters, pool before Flatten, or a smaller image_size",
    )


def _shape_issues(spec: Spec, registry: Registry, num_classes: int | None, issues: _Issues) -> None:
    try:
        _size_issues(infer_spec(spec, registry, num_classes), issues)
    except ShapeFunctionFailed as problem:
        row = problem.row
        issues.add((*row.section.split("."), row.index), f"{problem.message}; {problem.hint}")
    except ShapeProblem as problem:
        row = problem.row
        section = tuple(row.section.split("."))
        hint = f"; {problem.hint}" if problem.hint else ""
        issues.add((*section, row.index), f"{row.type} cannot take input shape {row.input_shape}: {problem.message}{hint}")
    for index, entry in enumerate(spec.augmentation):
        try:
            rows = infer_layers([entry], spec.data.input_shape, registry, section="augmentation")
        except ShapeProblem:
            continue
        output = rows[0].output_shape
        if output is not None and output != spec.data.input_shape:
            issues.add(("augmentation", index), f"{entry.type} changes the image shape from {spec.data.input_shape} to {output}; augmentation must keep the shape (put it in model.layers instead)")


def _label_issues(spec: Spec, num_classes: int | None, issues: _Issues) -> None:
    layers = spec.model.layers
    last = layers[-1]
    for index, layer in enumerate(layers[:-1]):
        if getattr(layer, "units", None) == "auto":
            issues.add(("model", "layers", index, "units"), "'auto' is only allowed on the last layer (it means the number of classes)")
    binary = binary_labels(spec, num_classes)
    activation = getattr(last, "activation", None)
    units = getattr(last, "units", None)
    loss = spec.compile.loss
    last_path = ("model", "layers", len(layers) - 1)
    if activation in PROBABILITY_ACTIVATIONS and loss.from_logits:
        issues.add(("compile", "loss", "from_logits"), f"the last layer applies {activation}, so its outputs are probabilities, not logits; set from_logits: false or remove the activation")
    if activation == "softmax" and units == 1:
        issues.add((*last_path, "activation"), "softmax over one unit always outputs 1; use sigmoid for a single binary output")
    if binary and isinstance(units, int) and units != 1:
        issues.add((*last_path, "units"), f"binary labels need one output unit, got {units}; use units: 1 (or auto) with sigmoid, or label_mode: int")
    if num_classes is not None:
        if spec.data.label_mode == "binary" and num_classes != 2:
            issues.add(("data", "label_mode"), f"binary labels need exactly 2 classes, the data has {num_classes}")
        if not binary and isinstance(units, int) and units != num_classes:
            issues.add((*last_path, "units"), f"the data has {num_classes} classes but the last layer has {units} units; use units: auto")
    expected = {"sparse_categorical_crossentropy": "int", "categorical_crossentropy": "categorical", "binary_crossentropy": "binary"}.get(loss.type)
    actual = label_mode(spec, num_classes)
    if expected and actual and expected != actual:
        issues.add(("compile", "loss", "type"), f"{loss.type} expects {expected} labels but the labels are {actual}; use loss: auto or set data.label_mode: {expected}")
    for index, metric in enumerate(spec.compile.metrics):
        if metric in ("auc", "precision", "recall") and not binary and (num_classes or 3) > 2:
            issues.add(("compile", "metrics", index), f"{metric} needs binary labels; for several classes the run reports per-class precision and recall itself")
    weights = spec.train.class_weight
    if isinstance(weights, dict) and num_classes is not None:
        for key in weights:
            if not 0 <= key < num_classes:
                issues.add(("train", "class_weight", key), f"class index {key} is outside 0..{num_classes - 1}", key=True)


#: Builtin callbacks that need an optional package: type -> (module, what to install).
OPTIONAL_PACKAGES = {"TensorBoard": ("tensorboard", "pip install 'cnnbuild[tensorboard]'")}


def _training_issues(spec: Spec, issues: _Issues) -> None:
    import importlib.util

    for index, entry in enumerate(spec.train.callbacks):
        needed = OPTIONAL_PACKAGES.get(entry.type)
        if needed and importlib.util.find_spec(needed[0]) is None:
            issues.add(("train", "callbacks", index), f"the {entry.type} callback needs the {needed[0]} package: {needed[1]} (or remove the callback)")
    steps, per_execution = spec.train.steps_per_epoch, spec.train.steps_per_execution
    if isinstance(per_execution, int) and per_execution > 1 and not several_steps_per_call(spec.distribute.mode, expected_backend(spec)):
        issues.add(
            ("train", "steps_per_execution"),
            f"{per_execution} batches per call do not work with distribute.mode: devices (Keras 3.15 fails under MirroredStrategy "
            "with more than one step per call); use 1, or auto, which groups batches only where the engine can",
        )
    if steps is not None and isinstance(per_execution, int) and steps % per_execution:
        below = max(n for n in range(1, per_execution) if steps % n == 0)
        above = [n for n in range(per_execution + 1, min(steps, 4 * per_execution) + 1) if steps % n == 0][:1]  # bounded: steps may be huge
        issues.add(
            ("train", "steps_per_execution"),
            f"{per_execution} does not divide steps_per_epoch ({steps}), so epochs would run {-(-steps // per_execution) * per_execution} batches instead of {steps}; "
            f"use a divisor of {steps} such as {' or '.join(map(str, [below, *above]))}, or auto",
        )


def check_spec(spec: Spec, registry: Registry, *, num_classes: int | None = None) -> list[SpecIssue]:
    """Every shape and consistency problem in a spec that passed field validation."""
    num_classes = class_count(spec, num_classes, registry)
    issues = _Issues(spec)
    _shape_issues(spec, registry, num_classes, issues)
    _label_issues(spec, num_classes, issues)
    _training_issues(spec, issues)
    return issues.items
