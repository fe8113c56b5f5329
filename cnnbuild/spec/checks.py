"""Checks that need the whole spec: shapes through the layer stack and loss/label consistency."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cnnbuild.spec.augmentation_checks import augmentation_issues
from cnnbuild.spec.codes import Code
from cnnbuild.spec.engine import expected_backend, several_steps_per_call
from cnnbuild.spec.errors import SpecIssue, format_path
from cnnbuild.spec.graph.checks import backbone_issues
from cnnbuild.spec.labels import PROBABILITY_ACTIVATIONS, applied_activation, binary_labels, class_count, label_mixing_entries, label_mode, output_layer
from cnnbuild.spec.shapes import LayerRow, ShapeProblem, describe_problem, infer_layers, infer_spec
from cnnbuild.spec.task_checks import check_task
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

    def add(self, path: tuple[Any, ...], code: Code, message: str, *, key: bool = False, severity: str = "error") -> None:
        where, line, column = self.source.locate(path, key=key)
        self.items.append(SpecIssue(where, line, column, format_path(path), message, severity, code=code))


def _size_issues(rows: list[LayerRow], issues: _Issues) -> None:
    """A model too large to allocate fails here, by name, instead of inside Keras (or the kernel's OOM killer)."""
    total = sum(row.params or 0 for row in rows)
    if total <= MAX_PARAMETERS:
        return
    largest = max(rows, key=lambda row: row.params or 0)
    issues.add(
        largest.location,
        Code.MODEL_TOO_LARGE,
        f"the model would have {total:,} parameters ({total * 4 / 2**30:,.1f} GiB as float32), above the limit of {MAX_PARAMETERS:,}; "
        f"this {largest.type} alone has {largest.params:,}: use fewer units or filters, pool before Flatten, or a smaller image_size",
    )


def _shape_issues(spec: Spec, registry: Registry, num_classes: int | None, issues: _Issues) -> None:
    try:
        _size_issues(infer_spec(spec, registry, num_classes), issues)
    except ShapeProblem as problem:
        code, message = describe_problem(problem)
        issues.add(problem.row.location, code, f"{message}{_context(spec, problem.row)}")
    for index, entry in enumerate(spec.augmentation):
        try:
            rows = infer_layers([entry], spec.data.input_shape, registry, section="augmentation")
        except ShapeProblem as problem:
            if spec.augmentation_placement == "pipeline":  # in the model, infer_spec reported it above
                hint = f"; {problem.hint}" if problem.hint else ""
                issues.add(("augmentation", index), Code.SHAPE_MISMATCH, f"{entry.type} cannot take input shape {spec.data.input_shape}: {problem.message}{hint}")
            continue
        output = rows[0].output_shape
        if output is not None and output != spec.data.input_shape:
            issues.add(("augmentation", index), Code.SHAPE_MISMATCH, f"{entry.type} changes the image shape from {spec.data.input_shape} to {output}; augmentation must keep the shape (put it in model.layers instead)")


def _context(spec: Spec, row: LayerRow) -> str:
    """Which use of a block a row of a block's layer comes from."""
    node = spec.graph.node(row.name) if row.name else None
    return f" ({node.context})" if node is not None and node.context else ""


def _label_issues(spec: Spec, num_classes: int | None, issues: _Issues) -> None:
    graph = spec.graph
    output = graph.node(graph.output)
    for node in graph.nodes:
        if node is not output and getattr(node.entry, "units", None) == "auto":
            where = "on the last layer" if graph.chain else "on the layer whose output the model returns"
            issues.add((*node.path, "units"), Code.LABEL_MISMATCH, f"'auto' is only allowed {where} (it means the number of classes)")
    last = output_layer(spec)
    binary = binary_labels(spec, num_classes)
    activation = applied_activation(last)
    units = getattr(last, "units", None)
    loss = spec.compile.loss
    last_path = output.path if output is not None else ("model", "layers")
    if activation in PROBABILITY_ACTIVATIONS and loss.from_logits:
        issues.add(("compile", "loss", "from_logits"), Code.LABEL_MISMATCH, f"the last layer applies {activation}, so its outputs are probabilities, not logits; set from_logits: false or remove the activation")
    if activation == "softmax" and units == 1:
        issues.add((*last_path, "activation"), Code.LABEL_MISMATCH, "softmax over one unit always outputs 1; use sigmoid for a single binary output")
    if binary and isinstance(units, int) and units != 1:
        issues.add((*last_path, "units"), Code.LABEL_MISMATCH, f"binary labels need one output unit, got {units}; use units: 1 (or auto) with sigmoid, or label_mode: int")
    if num_classes is not None:
        if spec.data.label_mode == "binary" and num_classes != 2:
            issues.add(("data", "label_mode"), Code.LABEL_MISMATCH, f"binary labels need exactly 2 classes, the data has {num_classes}")
        if not binary and isinstance(units, int) and units != num_classes:
            issues.add((*last_path, "units"), Code.LABEL_MISMATCH, f"the data has {num_classes} classes but the last layer has {units} units; use units: auto")
    expected = {"sparse_categorical_crossentropy": "int", "categorical_crossentropy": "categorical", "binary_crossentropy": "binary"}.get(loss.type)
    actual = label_mode(spec, num_classes)
    mixing_sparse = loss.type == "sparse_categorical_crossentropy" and label_mixing_entries(spec)  # augmentation_issues says why
    if expected and actual and expected != actual and not mixing_sparse:
        issues.add(("compile", "loss", "type"), Code.LABEL_MISMATCH, f"{loss.type} expects {expected} labels but the labels are {actual}; use loss: auto or set data.label_mode: {expected}")
    for index, metric in enumerate(spec.compile.metrics):
        if metric in ("auc", "precision", "recall") and not binary and (num_classes or 3) > 2:
            issues.add(("compile", "metrics", index), Code.LABEL_MISMATCH, f"{metric} needs binary labels; for several classes the run reports per-class precision and recall itself")
    weights = spec.train.class_weight
    if isinstance(weights, dict) and num_classes is not None:
        for key in weights:
            if not 0 <= key < num_classes:
                issues.add(("train", "class_weight", key), Code.LABEL_MISMATCH, f"class index {key} is outside 0..{num_classes - 1}", key=True)


def _training_issues(spec: Spec, issues: _Issues) -> None:
    steps, per_execution = spec.train.steps_per_epoch, spec.train.steps_per_execution
    if isinstance(per_execution, int) and per_execution > 1 and not several_steps_per_call(spec.distribute.mode, expected_backend(spec)):
        issues.add(
            ("train", "steps_per_execution"),
            Code.UNSUPPORTED,
            f"{per_execution} batches per call do not work with distribute.mode: devices (Keras 3.15 fails under MirroredStrategy "
            "with more than one step per call); use 1, or auto, which groups batches only where the engine can",
        )
    if steps is not None and isinstance(per_execution, int) and steps % per_execution:
        below = max(n for n in range(1, per_execution) if steps % n == 0)
        above = [n for n in range(per_execution + 1, min(steps, 4 * per_execution) + 1) if steps % n == 0][:1]  # bounded: steps may be huge
        issues.add(
            ("train", "steps_per_execution"),
            Code.INVALID_VALUE,
            f"{per_execution} does not divide steps_per_epoch ({steps}), so epochs would run {-(-steps // per_execution) * per_execution} batches instead of {steps}; "
            f"use a divisor of {steps} such as {' or '.join(map(str, [below, *above]))}, or auto",
        )


def _data_issues(spec: Spec, registry: Registry, num_classes: int | None, issues: _Issues) -> int | None:
    """The class count, from ``num_classes`` or the data source's cheap look at the data; a layout
    problem it finds (one class, an empty class, a listed class without its folder) is an error at
    ``data``, data that is not on this machine a warning (a spec can be checked where its data is not)."""
    from cnnbuild.errors import CnnbuildError, DataNotFound, PluginError

    try:
        return class_count(spec, num_classes, registry)
    except CnnbuildError as exc:
        where = ("data", "path") if getattr(spec.data, "path", None) is not None else ("data", "type")
        if isinstance(exc, DataNotFound):
            issues.add(where, Code.DATA_MISSING, f"{exc}; the data was not checked", severity="warning")
        else:
            issues.add(where, Code.PLUGIN_FAILED if isinstance(exc, PluginError) else Code.DATA_INVALID, str(exc))
        return None


def _label_names(spec: Spec, registry: Registry) -> list[str] | None:
    """The labels of a multi-label spec that weights labels by name, when the data tells them (its problems are _data_issues')."""
    from cnnbuild.errors import CnnbuildError
    from cnnbuild.spec.labels import known_class_names

    if not isinstance(getattr(spec.task, "positive_weight", None), dict):
        return None
    try:
        return known_class_names(spec, registry)
    except CnnbuildError:
        return None


def _requirement_issues(spec: Spec, registry: Registry, issues: _Issues) -> None:
    """Entries whose registration needs a package that is not installed (``requires``), with the pip command."""
    from cnnbuild.plugins.kinds import uses

    for kind, use in uses():
        value: Any = spec
        for key in use.path:
            value = getattr(value, key, None)
        if use.graph:
            located = spec.graph.entries()
        else:
            entries = (value or []) if use.many else [value]
            located = [((*use.path, index) if use.many else use.path, entry) for index, entry in enumerate(entries)]
        for path, entry in located:
            tag = getattr(entry, "type", None)
            registration = registry.table(kind).get(tag) if isinstance(tag, str) else None
            for module, requirement in missing_requirements(registration.options.get("requires", ()) if registration else ()):
                issues.add((*path, "type"), Code.MISSING_PACKAGE, f"{entry.type} needs the {module} package, which is not installed: pip install '{requirement}'")


def missing_requirements(requires: Any) -> list[tuple[str, str]]:
    """``(module, pip requirement)`` of each requirement (``"module"`` or ``"module:requirement"``) that is not importable."""
    import importlib.util

    missing = []
    for item in requires:
        module, _, requirement = str(item).partition(":")
        if importlib.util.find_spec(module) is None:
            missing.append((module, requirement or module))
    return missing


def _memory_issues(spec: Spec, registry: Registry, num_classes: int | None, issues: _Issues) -> None:
    """A warning when a training step needs more memory than the machine has."""
    from cnnbuild.spec.resources import estimate_memory, machine_memory

    try:
        rows = infer_spec(spec, registry, num_classes)
    except ShapeProblem:
        return
    estimate, available = estimate_memory(spec, rows), machine_memory()
    if available and estimate.total > 0.8 * available:
        issues.add(
            ("data", "batch_size"),
            Code.OUT_OF_MEMORY,
            f"this model needs {estimate.text()}, more than this machine's {available / 2**30:,.1f} GiB of memory can hold: the run would be killed "
            "by the system; lower data.batch_size or data.image_size, pool earlier, or use fewer filters",
            severity="warning",
        )


def check_spec(spec: Spec, registry: Registry, *, num_classes: int | None = None) -> list[SpecIssue]:
    """Every shape, consistency, data and resource problem in a spec that passed field validation
    (warnings among them with ``severity == "warning"``)."""
    issues = _Issues(spec)
    num_classes = _data_issues(spec, registry, num_classes, issues)
    _shape_issues(spec, registry, num_classes, issues)
    if check_task(spec, registry, num_classes, _label_names(spec, registry), issues.add):
        _label_issues(spec, num_classes, issues)
    _training_issues(spec, issues)
    augmentation_issues(spec, registry, issues.add)
    _requirement_issues(spec, registry, issues)
    _memory_issues(spec, registry, num_classes, issues)
    backbone_issues(spec, registry, issues.add)
    return [*spec.graph.warnings, *issues.items]
