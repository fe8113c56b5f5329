"""Output shapes and parameter counts of a graph, node by node, in pure Python (no TensorFlow)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cnnbuild.contracts.layers import ShapeError
from cnnbuild.spec.graph.nodes import INPUT, PROJECTION, Graph, Node, projection_entry
from cnnbuild.spec.shapes import LayerRow, ShapeFunctionFailed, ShapeProblem, checked_shape, resolve_units

if TYPE_CHECKING:
    from cnnbuild.plugins.registry import Registry

Shape = tuple[int | None, ...]


def _source(graph: Graph, node: Node, index: int) -> str:
    """What input ``index`` of ``node`` is, in words."""
    if node.labels and index < len(node.labels):
        return node.labels[index]
    producer = graph.node(node.inputs[index])
    return "the input" if producer is None else f"{producer.where}{f' ({producer.context})' if producer.context else ''}"


def projection_note(source: Shape, target: Shape) -> str:
    return f"a 1x1 Conv2D projection added automatically: the shortcut {source} must match the main path's {target}"


def infer_graph(graph: Graph, input_shape: tuple[int, ...], registry: Registry, *, num_classes: int | None = None, binary: bool = False) -> list[LayerRow]:
    """One row per Keras layer the graph builds (an identity shortcut builds none), in
    topological order. Raises :class:`ShapeProblem` for the first node whose inputs cannot go
    through it; after a node whose shape is unknown, the shapes that depend on it are unknown."""
    shapes: dict[str, Shape | None] = {INPUT: tuple(input_shape)}
    rows: list[LayerRow] = []
    for node in graph.nodes:
        inputs = tuple(shapes.get(i) for i in node.inputs)
        entry, note = node.entry, ""
        if node.type == PROJECTION:
            target = shapes.get(node.shape_of or "")
            if inputs[0] is None or target is None:
                shapes[node.id] = None
                rows.append(_row(rows, node, "Conv2D", inputs, None, None, None, "a 1x1 Conv2D projection if the shapes differ (not known before building)"))
                continue
            try:
                entry = projection_entry(inputs[0], target, registry)
            except ShapeError as exc:
                raise ShapeProblem(_row(rows, node, "Residual", inputs, None, None, None), None, str(exc), exc.hint) from None
            if entry is None:  # the shapes agree: the shortcut is the input itself
                shapes[node.id] = inputs[0]
                continue
            note = projection_note(inputs[0], target)
        shapes[node.id] = _infer(graph, node, entry, inputs, registry, num_classes, binary, rows, note)
    return rows


def _row(rows: list[LayerRow], node: Node, type_name: str, inputs: tuple[Shape | None, ...], output: Shape | None, params: int | None, non_trainable: int | None, note: str = "") -> LayerRow:
    return LayerRow(
        len(rows), type_name, inputs[0] if inputs else None, output, params, non_trainable, "model.layers",
        name=node.id, inputs=node.inputs, path=node.path, note=note, input_shapes=inputs,
    )  # fmt: skip


def _infer(graph: Graph, node: Node, entry: Any, inputs: tuple[Shape | None, ...], registry: Registry, num_classes: int | None, binary: bool, rows: list[LayerRow], note: str) -> Shape | None:
    registration = registry.layers.get(entry.type)
    params = resolve_units(entry, num_classes, binary)
    unknown = _row(rows, node, entry.type, inputs, None, None, None, note)
    if any(shape is None for shape in inputs) or registration is None or registration.shape is None:
        rows.append(unknown)
        return None
    if params is None:  # units: auto with an unknown class count
        rows.append(_row(rows, node, entry.type, inputs, (*inputs[0][:-1], None), None, None, note))
        return None
    try:
        result = registration.shape(params, list(inputs) if registration.merges else inputs[0])
        output, count, non_trainable = checked_shape(result)
    except ShapeError as exc:
        message = str(exc)
        if registration.merges:
            message += " (" + "; ".join(f"input {index + 1}: {_source(graph, node, index)}" for index in range(len(inputs))) + ")"
        raise ShapeProblem(unknown, entry, message, exc.hint) from None
    except Exception as exc:  # a broken plugin must give a message, not a traceback
        raise ShapeFunctionFailed(
            unknown, entry, f"the shape function of {registration.plugin.describe()} failed: {type(exc).__name__}: {exc}",
            "fix or update the plugin, or set CNNBUILD_LOAD_PLUGINS to run without it",
        ) from None
    if any(dim is not None and dim < 1 for dim in output):
        raise ShapeProblem(unknown, entry, f"output shape {output} has a dimension below 1", "")
    rows.append(_row(rows, node, entry.type, inputs, output, count, non_trainable, note))
    return output
