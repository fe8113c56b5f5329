"""What a spec's ``task`` requires of the data source, the output layer, the loss, the metrics and
the weights, checked before TensorFlow loads (the rules are the rows of :mod:`cnnbuild.contracts.tasks`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cnnbuild.spec.codes import Code
from cnnbuild.spec.labels import output_layer
from cnnbuild.spec.segmentation_checks import dice_loss_issue, segmentation_issues

if TYPE_CHECKING:
    from cnnbuild.plugins.registry import Registry
    from cnnbuild.spec.document import Spec

Add = Callable[..., None]


def _shown(activation: str | None) -> str:
    return "no activation" if activation is None else activation


def supplied_task_issues(spec: Spec, registry: Registry, add: Add) -> None:
    """The data source must declare the spec's task (``register(..., tasks=...)``)."""
    registration = registry.data_sources.get(spec.data.type)
    task = spec.task_row.name
    if registration is None or task in registration.tasks:
        return
    where = ("task",) if spec.task is not None else ("data", "type")
    supplied = ", ".join(registration.tasks)
    others = sorted(name for name, r in registry.data_sources.items() if task in r.tasks)
    add(
        where,
        Code.TASK_UNSUPPORTED,
        f"data source {spec.data.type!r} supplies {supplied} labels, not {task}; use a data source that does ({', '.join(others) or 'none is installed'})",
    )


def task_issues(spec: Spec, num_classes: int | None, add: Add) -> None:
    """Multi-label and regression: the output layer, loss, metrics, ``label_mode`` and weights."""
    task = spec.task_row
    graph = spec.graph
    output = graph.node(graph.output)
    for node in graph.nodes:
        if node is not output and getattr(node.entry, "units", None) == "auto":
            add((*node.path, "units"), Code.TASK_MISMATCH, f"'auto' is only allowed on the layer whose output the model returns (it means {task.units})")
    last = output_layer(spec)
    last_path = output.path if output is not None else ("model", "layers")
    activation = getattr(last, "activation", None)
    units = getattr(last, "units", None)
    if hasattr(last, "activation") and activation not in task.activations:
        why = {
            "multi_label": "each label is present or not on its own, so each output needs its own sigmoid (softmax makes the labels compete for one unit of probability)",
            "regression": "a target can be any number, and an activation limits the range the model can output",
        }[task.name]
        add((*last_path, "activation"), Code.TASK_MISMATCH, f"{_shown(activation)} does not fit task {task.name}: {why}; use activation: {task.suggested_activation}")
    if num_classes is not None and isinstance(units, int) and units != num_classes:
        what = "labels" if task.name == "multi_label" else "targets"
        add((*last_path, "units"), Code.TASK_MISMATCH, f"the data has {num_classes} {what} but the output layer has {units} units; use units: auto")
    loss = spec.compile.loss
    if loss.type != "auto" and loss.type not in task.losses:
        add(("compile", "loss", "type"), Code.TASK_MISMATCH, f"{loss.type} does not fit task {task.name}; use auto ({task.default_loss}) or one of {', '.join(task.losses)}")
    if task.name == "regression":
        if loss.from_logits:
            add(("compile", "loss", "from_logits"), Code.TASK_MISMATCH, "regression outputs are values, not logits; remove from_logits")
        if loss.label_smoothing:
            add(("compile", "loss", "label_smoothing"), Code.TASK_MISMATCH, "label smoothing applies to class labels, not to regression targets; remove it")
    elif activation == "sigmoid" and loss.from_logits:
        add(("compile", "loss", "from_logits"), Code.TASK_MISMATCH, "the output layer applies sigmoid, so its outputs are probabilities, not logits; set from_logits: false or remove the activation")
    for index, metric in enumerate(spec.compile.metrics):
        if metric not in task.metrics:
            add(("compile", "metrics", index), Code.TASK_MISMATCH, f"{metric} does not make sense for task {task.name}; use {', '.join(task.metrics)} (or leave metrics out: {', '.join(task.default_metrics)})")
    if spec.data.label_mode is not None:
        add(("data", "label_mode"), Code.TASK_MISMATCH, f"label_mode is for single-label classes; task {task.name} encodes its labels itself ({task.targets}): remove it")
    if spec.train.class_weight != "none":
        hint = "use task.positive_weight (auto, or a weight per label)" if task.name == "multi_label" else "regression has no classes to weight"
        add(("train", "class_weight"), Code.TASK_MISMATCH, f"class_weight weights classes of single-label data; {hint}")


def positive_weight_issues(spec: Spec, class_names: list[str] | None, add: Add) -> None:
    """Multi-label ``task.positive_weight`` given per label: every key must be a label of the data."""
    weights = getattr(spec.task, "positive_weight", None)
    if not isinstance(weights, dict) or class_names is None:
        return
    for key in weights:
        if key not in class_names:
            add(("task", "positive_weight", key), Code.TASK_MISMATCH, f"{key!r} is not a label of the data ({', '.join(class_names)})", key=True)


def check_task(spec: Spec, registry: Registry, num_classes: int | None, class_names: Any, add: Add) -> bool:
    """Every task issue of ``spec``; True when the single-label checks apply (no other task)."""
    supplied_task_issues(spec, registry, add)
    dice_loss_issue(spec, add)
    if spec.task_row.name == "segmentation":
        segmentation_issues(spec, registry, num_classes, add)
        return False
    if spec.task_row.name == "single_label":
        return True
    task_issues(spec, num_classes, add)
    positive_weight_issues(spec, class_names, add)
    return False
