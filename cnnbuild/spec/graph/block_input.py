"""The shape of a block's input (``$in``) while the graph is being expanded: the output shape of a
node expanded so far, each node's shape worked out once (and kept for the graph's later inference),
a layer that cannot take its input reported at its line."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cnnbuild.spec.codes import Code
from cnnbuild.spec.graph.blocks import InputUnknown
from cnnbuild.spec.graph.expressions import ExpressionError
from cnnbuild.spec.graph.infer import Inferred, NodeShapes
from cnnbuild.spec.graph.issue_list import IssueList
from cnnbuild.spec.graph.nodes import Node
from cnnbuild.spec.shapes import ShapeProblem, describe_problem

if TYPE_CHECKING:
    from cnnbuild.plugins.registry import Registry
    from cnnbuild.spec.document import Spec


class BlockInputShapes:
    """Shapes of the nodes of ``spec``'s graph as they are expanded (:meth:`add` each one)."""

    def __init__(self, spec: Spec, registry: Registry, found: IssueList) -> None:
        self.spec, self.found = spec, found
        self.by_id: dict[str, Node] = {}
        self.shapes = NodeShapes(self.by_id, registry)

    @property
    def inferred(self) -> Inferred:
        """Every node's row worked out so far, for the graph (``Graph.inferred``)."""
        return self.shapes.inferred

    def add(self, node: Node) -> None:
        """A node just expanded (the first of an id counts)."""
        self.by_id.setdefault(node.id, node)

    def shape(self, node_id: str, offset: int) -> tuple[Any, ...]:
        """The output shape of node ``node_id`` (expanded already), for a block's ``$in``: ExpressionError
        when it is only known once built, InputUnknown when a layer before it cannot take its input (reported here)."""
        try:
            shape = self.shapes.shape(node_id, tuple(self.spec.data.input_shape))
        except ShapeProblem as problem:
            code, message = describe_problem(problem)
            node = self.by_id.get(problem.row.name)
            self.found.report(problem.row.location, code, message, context=node.context if node is not None else "")
            raise InputUnknown from problem
        if shape is None and self.found.issues:
            raise InputUnknown  # a layer before it was not expanded: its error is reported
        if shape is None:
            raise ExpressionError(Code.UNKNOWN_SHAPE, "the shape of the block's input is only known once the model is built (a layer before it has no shape function, or units: auto)", offset)
        return shape
