"""What ``cnnbuild summary`` shows: the Keras summary of the built model, as text and as data."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cnnbuild.spec.document import Spec


@dataclass
class ModelSummary:
    """Keras's summary text plus the same facts as data."""

    text: str
    layers: list[dict[str, Any]] = field(default_factory=list)
    total_params: int = 0
    trainable_params: int = 0
    non_trainable_params: int = 0
    input_shape: list[int] = field(default_factory=list)
    #: the model's output: its shape, the layer that makes it (name, type, activation) and whether it gives probabilities
    output: dict[str, Any] = field(default_factory=dict)
    num_classes: int | None = None
    name: str = ""
    forward_flops: int = 0
    #: the estimated memory of a training step, as text ("" when the layers' shapes are not all known)
    memory: str = ""
    memory_bytes: int | None = None
    #: layers whose declared shape or parameter count differs from what Keras built
    mismatches: list[str] = field(default_factory=list)
    #: what the table alone does not say: layers cnnbuild added to a graph itself (a residual
    #: shortcut's projection) with why, and backbones built without their pretrained weights
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "input_shape": self.input_shape,
            "output": self.output,
            "num_classes": self.num_classes,
            "layers": self.layers,
            "total_params": self.total_params,
            "trainable_params": self.trainable_params,
            "non_trainable_params": self.non_trainable_params,
            "forward_flops": self.forward_flops,
            "memory_bytes": self.memory_bytes,
            "shape_mismatches": self.mismatches,
            "notes": self.notes,
        }


def estimate_forward_flops(layers: list[dict[str, Any]]) -> int:
    """Estimated floating-point operations of one example's forward pass through ``layers`` (as ``describe_model`` lists them).

    Each layer counts 2 x its parameters x its output positions (every output dimension but the
    last): exact for Conv2D, DepthwiseConv2D and Dense apart from the bias, close for
    SeparableConv2D and BatchNormalization. Layers without weights (pooling, activations,
    dropout, resizing, augmentation) count as free, which they nearly are next to convolutions.
    """
    total = 0
    for layer in layers:
        positions = 1
        for dim in layer["output_shape"][:-1]:
            positions *= dim or 1
        total += 2 * layer["params"] * positions
    return total


def describe_model(model: Any) -> ModelSummary:
    """Summary of an already built Keras model."""
    import numpy as np

    lines: list[str] = []
    # Keras draws the table with rich, whose console is as wide as the terminal, 80 columns when
    # there is none (a file, a pipe): the Param # column would be cut off. The table is 90 wide.
    columns = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"
    try:
        model.summary(print_fn=lambda line, *args, **kwargs: lines.append(line), line_length=90)
    finally:
        if columns is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = columns
    graph = type(model).__name__ != "Sequential"
    layers = []
    for layer in model.layers:
        shape = layer.output.shape
        described = {"name": layer.name, "type": type(layer).__name__, "output_shape": list(shape[1:]), "params": int(layer.count_params())}
        if graph:
            described["inputs"] = _inbound(layer)
        layers.append(described)
    trainable = int(sum(np.prod(w.shape) for w in model.trainable_weights))
    non_trainable = int(sum(np.prod(w.shape) for w in model.non_trainable_weights))
    return ModelSummary(
        text="\n".join(lines),
        layers=layers,
        total_params=trainable + non_trainable,
        trainable_params=trainable,
        non_trainable_params=non_trainable,
        input_shape=list(model.input_shape[1:]),
        output=_output(model),
        name=model.name,
        forward_flops=estimate_forward_flops(_leaves(model)),
    )


def _output(model: Any) -> dict[str, Any]:
    """The model's output and the layer that makes it (the last layer of a stack, the graph's output layer)."""
    output = model.outputs[0]
    layer = next((layer for layer in reversed(model.layers) if layer.output is output), None)
    if layer is None:  # not made by one of the model's own layers: only the shape is known
        return {"shape": list(output.shape[1:]), "layer": None, "type": None, "activation": None}
    activation = layer.get_config().get("activation")
    return {"shape": list(output.shape[1:]), "layer": layer.name, "type": type(layer).__name__, "activation": activation if isinstance(activation, str) else None}


def _inbound(layer: Any) -> list[str]:
    """The names of the layers whose outputs ``layer`` takes, as Keras connected them."""
    try:
        node = layer._inbound_nodes[0]
        return [tensor._keras_history.operation.name for tensor in node.input_tensors]
    except (AttributeError, IndexError):
        return []


def _leaves(model: Any) -> list[dict[str, Any]]:
    """Output shape and parameters of every layer, inside nested models (a backbone) too, for the FLOP estimate."""
    found = []
    for layer in model.layers:
        if getattr(layer, "layers", None):
            found += _leaves(layer)
        else:
            found.append({"output_shape": list(layer.output.shape[1:]), "params": int(layer.count_params())})
    return found


def model_summary(spec: Spec, num_classes: int | None = None) -> ModelSummary:
    """Build the spec's model (float32) and summarise it."""
    from cnnbuild.builder.model.build import build_model, loads_weights
    from cnnbuild.spec.labels import model_class_count, outputs_probabilities
    from cnnbuild.spec.resources import estimate_memory
    from cnnbuild.spec.shapes import ShapeProblem, infer_spec

    num_classes = model_class_count(spec, num_classes, spec.registry)
    model = build_model(spec, num_classes, load_weights=False)  # shapes and counts do not depend on pretrained weights
    result = describe_model(model)
    result.num_classes = num_classes
    result.output["probabilities"] = outputs_probabilities(spec)
    result.mismatches = shape_mismatches(spec, model, num_classes)
    try:
        rows = infer_spec(spec, spec.registry, num_classes)
    except ShapeProblem:
        rows = []
    result.notes = [f"Added by cnnbuild: {row.name}: {row.note}" for row in rows if row.note]
    result.notes += [f"Backbone {backbone}: built without its pretrained weights for this summary (the shapes and counts are the same); run loads them" for backbone in loads_weights(spec, spec.registry)]
    if rows and all(row.output_shape is not None and row.params is not None for row in rows):
        estimate = estimate_memory(spec, rows)
        result.memory, result.memory_bytes = estimate.text(), estimate.total
    return result


def _pairs(model: Any, rows: list[Any]) -> list[tuple[Any, Any]]:
    """Each row with the Keras layer built for it: by name in a graph, by position in a stack."""
    if any(row.name for row in rows):
        names = {layer.name: layer for layer in model.layers}
        return [(row, names[row.name]) for row in rows if row.name in names]
    layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    return list(zip(rows, layers, strict=True)) if len(layers) == len(rows) else []  # not one Keras layer per entry: nothing to pair


def shape_mismatches(spec: Spec, model: Any, num_classes: int | None) -> list[str]:
    """Layers whose shape function declares another output shape or parameter count than Keras
    built, each as a warning naming the plugin (``validate`` and ``diff`` show the declared numbers)."""
    from cnnbuild.spec.shapes import ShapeProblem, infer_spec

    registry = spec.registry
    try:
        rows = infer_spec(spec, registry, num_classes)
    except ShapeProblem:
        return []
    found = []
    for row, layer in _pairs(model, rows):
        registration = registry.layers.get(row.type)
        if registration is None or registration.shape is None or row.output_shape is None or row.params is None:
            continue
        built_shape, built_params = tuple(layer.output.shape[1:]), int(layer.count_params())
        if built_shape != tuple(row.output_shape) or built_params != row.params:
            found.append(
                f"{row.name or f'{row.section}[{row.index}]'} {row.type}: the shape function of {registration.plugin.describe()} declares output {tuple(row.output_shape)} "
                f"with {row.params:,} parameters, but Keras built output {built_shape} with {built_params:,}; validate, diff and the memory estimate "
                "use the declared numbers: fix the plugin's shape function"
            )
    return found
