"""A use of a block: the block's layers with every expression (``$filters``, ``$cin * $t``,
``$in.channels``) evaluated with the use's arguments, the entries whose ``when:`` is false left
out, validated like ``model.layers`` entries, every error at the line (and column) it comes from:
the argument for a value the use gave, the block's definition otherwise."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from cnnbuild.spec.codes import Code
from cnnbuild.spec.graph.block_arguments import RepetitionArguments
from cnnbuild.spec.graph.block_body import BODY, BlockBody
from cnnbuild.spec.graph.block_expressions import WHEN, BlockExpressions
from cnnbuild.spec.graph.expressions import Expression, ExpressionError, parse
from cnnbuild.spec.yaml_source import PathKey, Position, SpecSource

if TYPE_CHECKING:
    from cnnbuild.plugins.registry import Registry
    from cnnbuild.spec.document import Spec


class InputUnknown(Exception):
    """The shape of a block's input cannot be had; the reason was reported already."""


@dataclass
class _Use:
    """What one use's substitution gathers."""

    name: str
    names: dict[str, Any]
    given: dict[str, PathKey]  # parameter -> where the use gave its value
    input_shape: Callable[[int], tuple[Any, ...]]
    context: str
    positions: dict[PathKey, Position] = field(default_factory=dict)
    original: dict[PathKey, PathKey] = field(default_factory=dict)  # a body path -> its path in the block
    computed: dict[PathKey, tuple[PathKey, str, Any]] = field(default_factory=dict)  # body path -> (block path, expression, fraction)
    values: dict[str, Any] = field(default_factory=dict)  # an expression's text -> its value in this use
    failed: bool = False


class BlockUse:
    """Instantiates one use of a block; problems are reported through ``report(path, code, message, position=None, context="")``.

    ``input_shape(node_id)`` gives the shape of a node expanded so far (for ``$in``), raising
    :class:`ExpressionError` when it is not known before building, or :class:`InputUnknown`.
    """

    def __init__(self, spec: Spec, registry: Registry, report: Any, input_shape: Callable[[str, int], tuple[Any, ...]] | None = None) -> None:
        self.spec, self.registry, self.report = spec, registry, report
        self.input_shape = input_shape
        self.source = spec.source or SpecSource(None, "<dict>")
        #: the block's expressions, read once, and the parameters they use
        self.written = BlockExpressions(spec, report)
        self.body = BlockBody(self.written, registry)
        #: a block's list (its path in the block) -> the indices, as written, of the entries this use keeps
        self.kept: dict[PathKey, list[int]] = {}
        #: a block's list -> name of an entry this use leaves out -> why
        self.absent: dict[PathKey, dict[str, str]] = {}

    # -- one use -------------------------------------------------------------------------
    def entries(self, name: str, use: Any, use_path: PathKey, context: str, *, source: str = "input", repetition: int = 0) -> list[Any] | None:
        """The block's layers for this use (repetition ``repetition`` of it, fed by node ``source``),
        validated; None (after reporting why) when invalid."""
        expressions = self.written.expressions(name)
        if expressions is None:
            return None
        block = self.spec.blocks[name]
        base = ("blocks", name, "layers")
        for table in (self.kept, self.absent):
            for key in [key for key in table if key[: len(base)] == base]:
                del table[key]
        arguments = RepetitionArguments.of(block.params, use, use_path, repetition)
        shape = (lambda offset: self.input_shape(source, offset)) if self.input_shape is not None else _no_shape
        state = _Use(name, arguments.names, arguments.given, shape, context)
        body = self._list(block.layers, BODY, base, expressions, state)
        if state.failed:
            return None
        return self.body.validate(body, name, context, state.positions, state.original, state.computed)

    def _list(self, items: list[Any], new: PathKey, old: PathKey, expressions: dict[PathKey, Expression], state: _Use) -> list[Any]:
        kept: list[int] = []
        result: list[Any] = []
        for index, item in enumerate(items):
            if isinstance(item, dict) and WHEN in item:
                present = self._condition(item[WHEN], (*old, index, WHEN), expressions, state)
                if not present:
                    if present is False and isinstance(item.get("name"), str):
                        self.absent.setdefault(old, {})[item["name"]] = self._why_absent(item[WHEN], state)
                    continue
                item = {key: value for key, value in item.items() if key != WHEN}
            result.append(self._value(item, (*new, len(result)), (*old, index), expressions, state))
            kept.append(index)
        if len(kept) < len(items):
            self.kept[old] = kept
        return result

    def _value(self, value: Any, new: PathKey, old: PathKey, expressions: dict[PathKey, Expression], state: _Use) -> Any:
        state.original[new] = old
        position = self.source.positions.get(old)
        if position is not None:
            state.positions[new] = position
        if isinstance(value, dict):
            return {key: self._value(item, (*new, key), (*old, key), expressions, state) for key, item in value.items()}
        if isinstance(value, list):
            return self._list(value, new, old, expressions, state)
        expression = expressions.get(old)
        if expression is None:
            return value
        reference = expression.reference
        if reference is not None and reference in state.given:
            given = self.source.positions.get(state.given[reference])
            if given is not None:
                state.positions[new] = given  # a value the use gave is wrong at the use
        result = self._evaluate(expression, old, state)
        if isinstance(result, float) and reference is None:
            state.computed[new] = (old, expression.text, result)
        return result

    def _evaluate(self, expression: Expression, path: PathKey, state: _Use) -> Any:
        if expression.text in state.values:  # the same text has the same value throughout one use
            return state.values[expression.text]
        try:
            value = state.values[expression.text] = expression.evaluate(state.names, state.input_shape)
            return value
        except ExpressionError as exc:
            self.report(None, exc.code, f"{exc.message} (in {expression.text!r})", position=self.written.at(path, expression.text, exc.offset), context=state.context)
        except InputUnknown:
            pass
        state.failed = True
        return None

    def _condition(self, value: Any, path: PathKey, expressions: dict[PathKey, Expression], state: _Use) -> bool | None:
        """Whether an entry is present; None when its condition cannot be evaluated (reported)."""
        if isinstance(value, bool):
            return value
        expression = expressions[path]
        result = self._evaluate(expression, path, state)
        if state.failed:
            return None
        if not isinstance(result, bool):
            self.report(None, Code.WRONG_TYPE, f"when needs a condition (true or false, such as $strides != 1), and {expression.text!r} is {result!r} here", position=self.written.at(path, expression.text, 0), context=state.context)
            state.failed = True
            return None
        return result

    def _why_absent(self, condition: Any, state: _Use) -> str:
        if isinstance(condition, bool):
            return "its when: is false"
        names = dict.fromkeys(reference for reference, _ in parse(condition).names if reference in state.names)
        values = ", ".join(f"${reference} = {state.names[reference]!r}" for reference in names)
        return f"its when: {condition} is false here" + (f" ({values})" if values else "")


def _no_shape(offset: int) -> tuple[Any, ...]:
    raise ExpressionError(Code.UNKNOWN_SHAPE, "$in is not known here", offset)
