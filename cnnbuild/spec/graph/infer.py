"""Output shapes and parameter counts of a graph, node by node, in pure Python (no TensorFlow)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cnnbuild.contracts.layers import ShapeError
from cnnbuild.spec.graph.nodes import INPUT, PROJECTION, Graph, Node, projection_entry
from cnnbuild.spec.shapes import LayerRow, ShapeProblem, call_shape, resolve_units

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
        shapes[node.id] = node_output(graph, node, inputs, shapes.get(node.shape_of or ""), registry, num_classes, binary, rows, graph.inferred)
    return rows


#: What :func:`node_output` found for a node, by its id, its inputs' shapes, its target's and (for units: auto) the labels.
Inferred = dict[tuple[Any, ...], tuple[Any, Any]]


def node_output(
    graph: Any, node: Node, inputs: tuple[Shape | None, ...], target: Shape | None, registry: Registry, num_classes: int | None, binary: bool,
    rows: list[LayerRow], inferred: Inferred | None = None,
) -> Shape | None:
    """The output shape of ``node`` given its inputs' shapes (and, for a projection, its target's),
    its row appended to ``rows``; ``graph.node(id)`` names inputs in messages. Raises :class:`ShapeProblem`.
    ``inferred`` keeps what was found, so a graph's layers are worked out once (expansion, for a
    block's ``$in``, and each inference after it share them)."""
    if inferred is None:
        return _node_output(graph, node, inputs, target, registry, num_classes, binary, rows)
    auto = vars(node.entry).get("units") == "auto" if node.entry is not None else False  # vars: getattr of a field a model lacks is slow
    key = (node.id, inputs, target, (num_classes, binary) if auto else None)
    found = inferred.get(key)
    if found is None:
        start = len(rows)
        output = _node_output(graph, node, inputs, target, registry, num_classes, binary, rows)
        found = inferred[key] = (output, rows[start] if len(rows) > start else None)
    elif found[1] is not None:
        row = object.__new__(LayerRow)  # the same row at this place in the list (dataclasses.replace re-runs __init__, at three times the cost)
        row.__dict__.update(found[1].__dict__, index=len(rows))
        rows.append(row)
    return found[0]


def _node_output(graph: Any, node: Node, inputs: tuple[Shape | None, ...], target: Shape | None, registry: Registry, num_classes: int | None, binary: bool, rows: list[LayerRow]) -> Shape | None:
    entry, note = node.entry, ""
    if node.type == PROJECTION:
        if inputs[0] is None or target is None:
            rows.append(_row(rows, node, "Conv2D", inputs, None, None, None, "a 1x1 Conv2D projection if the shapes differ (not known before building)"))
            return None
        try:
            entry = projection_entry(inputs[0], target, registry)
        except ShapeError as exc:
            raise ShapeProblem(_row(rows, node, "Residual", inputs, None, None, None), None, str(exc), exc.hint) from exc
        if entry is None:  # the shapes agree: the shortcut is the input itself
            return inputs[0]
        note = projection_note(inputs[0], target)
    return _infer(graph, node, entry, inputs, registry, num_classes, binary, rows, note)


class NodeShapes:
    """Output shapes of the nodes of a graph being expanded (``nodes``: id -> node, growing), each
    worked out once, when asked (a block's ``$in``); a node not expanded yet has no shape (None)."""

    def __init__(self, nodes: dict[str, Node], registry: Registry) -> None:
        self.nodes, self.registry = nodes, registry
        self.known: dict[str, Shape | None] = {}
        #: every node's row as worked out here, for the graph's later inference (:func:`node_output`)
        self.inferred: Inferred = {}

    def node(self, node_id: str) -> Node | None:
        return self.nodes.get(node_id)

    def shape(self, node_id: str, input_shape: Shape) -> Shape | None:
        """The output shape of ``node_id``; raises :class:`ShapeProblem` for a node before it that cannot take its input."""
        known = self.known
        if node_id in known:
            return known[node_id]
        known[INPUT] = tuple(input_shape)
        provisional: dict[str, Shape | None] = {}  # shapes that depend on a node not expanded yet (or a cycle): not kept
        stack, visiting = [node_id], set()
        while stack:
            current = stack[-1]
            if current in known or current in provisional:
                stack.pop()
                continue
            node = self.nodes.get(current)
            if node is None:
                provisional[current] = None
                stack.pop()
                continue
            sources = (*node.inputs, node.shape_of) if node.shape_of else node.inputs
            needed = [i for i in sources if i not in known]
            if needed:  # worked out first; on the way back still not known: provisional (or a cycle)
                if current in visiting:
                    provisional[current] = None
                    stack.pop()
                else:
                    visiting.add(current)
                    stack.extend(needed)
                continue
            stack.pop()
            inputs = tuple(known[i] for i in node.inputs)
            known[current] = node_output(self, node, inputs, known.get(node.shape_of or ""), self.registry, None, False, [], self.inferred)
        return known[node_id] if node_id in known else provisional.get(node_id)


def _row(rows: list[LayerRow], node: Node, type_name: str, inputs: tuple[Shape | None, ...], output: Shape | None, params: int | None, non_trainable: int | None, note: str = "") -> LayerRow:
    return LayerRow(
        len(rows), type_name, inputs[0] if inputs else None, output, params, non_trainable, "model.layers",
        name=node.id, inputs=node.inputs, path=node.path, note=note, input_shapes=inputs,
    )  # fmt: skip


def _infer(graph: Graph, node: Node, entry: Any, inputs: tuple[Shape | None, ...], registry: Registry, num_classes: int | None, binary: bool, rows: list[LayerRow], note: str) -> Shape | None:
    registration = registry.layers.get(entry.type)
    params = resolve_units(entry, num_classes, binary)
    unknown = _row(rows, node, entry.type, inputs, None, None, None, note)
    known = [shape for shape in inputs if shape is not None]
    if len(known) < len(inputs) or registration is None or registration.shape is None:
        rows.append(unknown)
        return None
    if params is None:  # units: auto with an unknown class count
        rows.append(_row(rows, node, entry.type, inputs, (*known[0][:-1], None), None, None, note))
        return None
    explain = (lambda: " (" + "; ".join(f"input {index + 1}: {_source(graph, node, index)}" for index in range(len(inputs))) + ")") if registration.merges else None
    output, count, non_trainable = call_shape(registration, params, known if registration.merges else known[0], unknown, entry, explain)
    rows.append(_row(rows, node, entry.type, inputs, output, count, non_trainable, note))
    return output
