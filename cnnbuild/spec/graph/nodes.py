"""The model as a graph of registered layers: nodes in topological order, and the rules every
node shares (its Keras name, the automatic 1x1 projection of a residual shortcut)."""

from __future__ import annotations

import heapq
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cnnbuild.contracts.layers import Shape, ShapeError

if TYPE_CHECKING:
    from cnnbuild.plugins.registry import Registry

#: The name of the input of a list of entries: the model's input at the top, a container's or block's inside it.
INPUT = "input"
#: The type of the node a ``Residual`` with ``shortcut: auto`` gets: identity, or a 1x1 Conv2D once shapes are known.
PROJECTION = "Projection"


def snake(name: str) -> str:
    """``MaxPooling2D`` -> ``max_pooling2d``, as Keras names layers."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])", "_", name).lower()


@dataclass(frozen=True)
class Node:
    """One registered layer of the graph (or an automatic shortcut projection, type ``Projection``).

    ``id`` is unique and names the Keras layer; ``inputs`` are node ids (or :data:`INPUT`), in
    the order the layer takes them; ``path`` is where its entry is written in the spec (for
    error positions), ``where`` how messages name it, ``context`` which block use it comes from.
    """

    id: str
    type: str
    entry: Any
    inputs: tuple[str, ...]
    path: tuple[Any, ...]
    where: str
    context: str = ""
    #: what each input is, for messages about merges ("main path", "shortcut", "branch 2")
    labels: tuple[str, ...] = ()
    #: a Projection's target: the node whose output shape the shortcut must reach
    shape_of: str | None = None
    #: the ``name`` of the entry it comes from (a container's for its merge), for messages; None when unnamed
    name: str | None = None

    @property
    def described(self) -> str:
        return f"{self.where} ({self.context})" if self.context else self.where


@dataclass(frozen=True)
class Graph:
    """Nodes in topological order (creation order where the graph allows), and the output's id.

    ``chain``: the spec's ``model.layers`` is a plain list (no names, inputs, containers or
    blocks), whose rows and errors are exactly those of a layer stack.
    """

    nodes: tuple[Node, ...]
    output: str
    chain: bool
    #: what is worth saying about a valid graph (a block never used, a parameter no layer uses)
    warnings: tuple[Any, ...] = ()
    by_id: dict[str, Node] = field(default_factory=dict, compare=False, repr=False)
    #: the rows of nodes inferred so far, kept so that each is worked out once (``infer.node_output``)
    inferred: dict[tuple[Any, ...], tuple[Any, Any]] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self.by_id.update((node.id, node) for node in self.nodes)

    def node(self, node_id: str) -> Node | None:
        return self.by_id.get(node_id)

    def entries(self) -> list[tuple[tuple[Any, ...], Any]]:
        """``(path, entry)`` of every registered layer of the model (no projections)."""
        return [(node.path, node.entry) for node in self.nodes if node.type != PROJECTION]

    def output_entry(self) -> Any:
        node = self.by_id.get(self.output)
        return node.entry if node is not None and node.type != PROJECTION else None


def topological(nodes: list[Node]) -> tuple[list[Node], list[Node]]:
    """``(ordered, left)``: nodes ordered so each comes after its inputs (and a projection after its
    target), earliest-created first among those ready; ``left`` are the nodes on or behind a cycle."""
    position = {node.id: index for index, node in enumerate(nodes)}
    needs = {node.id: {i for i in (*node.inputs, *([node.shape_of] if node.shape_of else [])) if i in position} for node in nodes}
    users: dict[str, list[str]] = {}
    for node_id, wanted in needs.items():
        for other in wanted:
            users.setdefault(other, []).append(node_id)
    ready = [position[node_id] for node_id, wanted in needs.items() if not wanted]
    heapq.heapify(ready)
    ordered = []
    while ready:
        node = nodes[heapq.heappop(ready)]
        ordered.append(node)
        for user in users.get(node.id, []):
            needs[user].discard(node.id)
            if not needs[user]:
                heapq.heappush(ready, position[user])
    done = {node.id for node in ordered}
    return ordered, [node for node in nodes if node.id not in done]


def _stride(size: int, target: int) -> int | None:
    return next((stride for stride in range(1, size + 1) if -(-size // stride) == target), None)


def projection_entry(source: Shape, target: Shape, registry: Registry) -> Any:
    """The Conv2D a ``shortcut: auto`` becomes to take ``source`` to ``target``: None when the
    shapes agree (the shortcut is the input itself), else a 1x1 Conv2D with ``padding: same``
    and the strides that give the target's height and width. ShapeError when no such layer exists."""
    source, target = tuple(source), tuple(target)
    if source == target:
        return None
    hint = "write the shortcut as a list of layers, or keep height and width with padding: same"
    if len(source) != 3 or len(target) != 3:
        raise ShapeError(f"the shortcut cannot be projected from {source} to {target}: a 1x1 projection needs (height, width, channels) on both sides", hint)
    (height, width, _), (to_height, to_width, channels) = source, target
    if height is None or width is None or to_height is None or to_width is None:
        raise ShapeError(f"the shortcut cannot be projected from {source} to {target}: a strided 1x1 projection needs known heights and widths", hint)
    strides = (_stride(height, to_height), _stride(width, to_width))
    if None in strides or to_height > height or to_width > width:
        raise ShapeError(f"no strided 1x1 convolution takes the shortcut from {source} to the main path's {target}", hint)
    return registry.layers["Conv2D"].params.model_validate({"type": "Conv2D", "filters": channels, "kernel_size": 1, "strides": list(strides), "padding": "same"})
