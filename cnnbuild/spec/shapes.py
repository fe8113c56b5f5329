"""Output shapes and parameter counts of a layer stack, in pure Python (no TensorFlow)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cnnbuild.contracts.layers import ShapeError
from cnnbuild.spec.labels import binary_labels

if TYPE_CHECKING:
    from cnnbuild.plugins.registry import Registry
    from cnnbuild.spec.document import Spec


@dataclass(frozen=True)
class LayerRow:
    """One layer as ``summary`` and ``diff`` show it; None where it is only known once built."""

    index: int
    type: str
    input_shape: tuple[int | None, ...] | None
    output_shape: tuple[int | None, ...] | None
    params: int | None
    non_trainable: int | None = 0
    section: str = "model.layers"
    #: in a graph: the Keras layer's name, its inputs' names, the key path of its entry, and why cnnbuild added it (if it did)
    name: str = ""
    inputs: tuple[str, ...] = ()
    path: tuple[Any, ...] = ()
    note: str = ""
    #: in a graph: every input's shape (a merge layer has several)
    input_shapes: tuple[tuple[int | None, ...] | None, ...] = ()

    @property
    def location(self) -> tuple[Any, ...]:
        """The key path of the entry this row comes from, for error positions."""
        return self.path or (*self.section.split("."), self.index)


class ShapeProblem(Exception):
    """A layer cannot take its input shape."""

    def __init__(self, row: LayerRow, params: Any, message: str, hint: str) -> None:
        super().__init__(message)
        self.row, self.params, self.message, self.hint = row, params, message, hint


class ShapeFunctionFailed(ShapeProblem):
    """A plugin's shape function raised something other than ShapeError or returned nonsense."""


def checked_shape(result: Any) -> tuple[tuple[int, ...], int, int]:
    """``(output_shape, params, non_trainable)`` from a shape function's result, or ValueError."""
    output, params, non_trainable = result.output_shape, result.params, result.non_trainable
    output = tuple(output)
    if not output or not all(d is None or (isinstance(d, int) and not isinstance(d, bool)) for d in output):
        raise ValueError(f"output_shape {output!r} is not a tuple of integers")
    for name, count in (("params", params), ("non_trainable", non_trainable)):
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise ValueError(f"{name} {count!r} is not a non-negative integer")
    return output, params, non_trainable


def resolve_units(params: Any, num_classes: int | None, binary: bool) -> Any:
    """``units: auto`` -> the number of outputs the labels need (1 for binary labels)."""
    if getattr(params, "units", None) != "auto":
        return params
    if binary:
        return params.model_copy(update={"units": 1})
    if num_classes is None:
        return None
    return params.model_copy(update={"units": num_classes})


def infer_layers(
    entries: list[Any],
    input_shape: tuple[int, ...],
    registry: Registry,
    *,
    num_classes: int | None = None,
    binary: bool = False,
    section: str = "model.layers",
) -> list[LayerRow]:
    """Shape rows for ``entries``; stops knowing shapes after a layer without a shape function.

    Raises :class:`ShapeProblem` for the first layer whose input cannot go through it.
    """
    rows: list[LayerRow] = []
    shape: tuple[int, ...] | None = tuple(input_shape)
    for index, entry in enumerate(entries):
        registration = registry.layers.get(entry.type)
        params = resolve_units(entry, num_classes, binary)
        row = LayerRow(index, entry.type, shape, None, None, None, section)
        if shape is None or registration is None or registration.shape is None:
            rows.append(row)
            shape = None
            continue
        if params is None:  # units: auto with an unknown class count
            rows.append(LayerRow(index, entry.type, shape, (*shape[:-1], None), None, None, section))
            shape = None
            continue
        output, count, non_trainable = call_shape(registration, params, shape, row, entry)
        rows.append(LayerRow(index, entry.type, shape, output, count, non_trainable, section))
        shape = output
    return rows


def infer_spec(spec: Spec, registry: Registry, num_classes: int | None = None) -> list[LayerRow]:
    """Rows for the augmentation (when it sits in the model) and the model layers."""
    data = spec.data
    binary = binary_labels(spec, num_classes)
    rows: list[LayerRow] = []
    if spec.augmentation_placement == "model" and spec.augmentation:
        rows += infer_layers(spec.augmentation, data.input_shape, registry, section="augmentation")
    if spec.graph.chain:
        rows += infer_layers(spec.model.layers, data.input_shape, registry, num_classes=num_classes, binary=binary)
    else:
        from cnnbuild.spec.graph.infer import infer_graph

        rows += infer_graph(spec.graph, data.input_shape, registry, num_classes=num_classes, binary=binary)
    return rows


def describe_problem(problem: ShapeProblem) -> tuple[Any, str]:
    """The code and message of a layer that cannot take its input (without which block use it is in)."""
    from cnnbuild.spec.codes import Code

    row = problem.row
    if isinstance(problem, ShapeFunctionFailed):
        return Code.SHAPE_FUNCTION_FAILED, f"{problem.message}; {problem.hint}"
    hint = f"; {problem.hint}" if problem.hint else ""
    shapes = f"input shapes {', '.join(map(str, row.input_shapes))}" if len(row.input_shapes) > 1 else f"input shape {row.input_shape}"
    return Code.SHAPE_MISMATCH, f"{row.type} cannot take {shapes}: {problem.message}{hint}"


def call_shape(registration: Any, params: Any, argument: Any, row: Any, entry: Any, explain: Any = None) -> tuple[Any, Any, Any]:
    """A layer's shape function on ``argument`` (a shape, or a merge layer's list of shapes):
    ``(output, params, non_trainable)``. Its ShapeError becomes a :class:`ShapeProblem` (with
    ``explain()`` appended, where given); any other exception a :class:`ShapeFunctionFailed` naming the plugin."""
    try:
        output, count, non_trainable = checked_shape(registration.shape(params, argument))
    except ShapeError as exc:
        raise ShapeProblem(row, entry, str(exc) + (explain() if explain else ""), exc.hint) from exc
    except Exception as exc:  # a broken plugin must give a message, not a traceback
        raise ShapeFunctionFailed(
            row, entry, f"the shape function of {registration.plugin.describe()} failed: {type(exc).__name__}: {exc}",
            "fix or update the plugin, or set CNNBUILD_LOAD_PLUGINS to run without it",
        ) from exc
    if any(dim is not None and dim < 1 for dim in output):
        raise ShapeProblem(row, entry, f"output shape {output} has a dimension below 1", "")
    return output, count, non_trainable
