"""How a block's expressions evaluate: the values they work on (numbers, text, conditions), the
operators and functions (``round_to``), every error an :class:`ExpressionError` at the offset of
the part of the expression it is about."""

from __future__ import annotations

import math
from typing import Any, Callable

from cnnbuild.spec.codes import Code
from cnnbuild.spec.errors import suggest
from cnnbuild.spec.graph.expression_parser import SHAPE_ATTRIBUTES, ExpressionError, ExpressionNode


def round_to(value: float, divisor: int) -> int:
    """``value`` rounded to the nearest multiple of ``divisor`` (halves up), at least ``divisor``,
    and one ``divisor`` more when that rounded down by more than 10%: MobileNet's ``_make_divisible``
    (``max(divisor, int(value + divisor / 2) // divisor * divisor)``, plus ``divisor`` if below ``0.9 * value``)."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, str) else f"{value!r}"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class Evaluator:
    """Evaluates a tree with the values of its ``$name``s; ``input_shape(offset)`` gives the block input's shape for ``$in``."""

    def __init__(self, names: dict[str, Any], input_shape: Callable[[int], tuple[Any, ...]]) -> None:
        self.names, self.input_shape = names, input_shape

    def value(self, node: ExpressionNode) -> Any:
        kind = node.kind
        if kind in ("number", "text"):
            return node.value
        if kind == "ref":
            return self._reference(node)
        if kind == "unary":
            operand = self.number(node.args[0], f"unary {node.value}")
            return -operand if node.value == "-" else operand
        if kind == "binary":
            return self._arithmetic(node)
        if kind == "compare":
            return self._compare(node)
        if kind in ("and", "or"):
            left = self.boolean(node.args[0], node.value)
            if left == (kind == "or"):
                return left
            return self.boolean(node.args[1], node.value)
        if kind == "not":
            return not self.boolean(node.args[0], "not")
        return self._call(node)

    def number(self, node: ExpressionNode, what: str) -> int | float:
        value = self.value(node)
        if not _is_number(value):
            raise ExpressionError(Code.WRONG_TYPE, f"{what} needs a number, got {_describe(value)}", node.offset)
        return value

    def boolean(self, node: ExpressionNode, what: str) -> bool:
        value = self.value(node)
        if not isinstance(value, bool):
            raise ExpressionError(Code.WRONG_TYPE, f"{what} needs a condition (true or false, such as $strides != 1), got {_describe(value)}", node.offset)
        return value

    def _reference(self, node: ExpressionNode) -> Any:
        name, attribute = node.value, node.attribute
        if name in self.names:
            if attribute is not None:
                raise ExpressionError(Code.UNKNOWN_NAME, f"${name}.{attribute}: only $in has attributes (${name} is a parameter)", node.offset)
            return self.names[name]
        if name != "in":  # a name that is neither a parameter nor a builtin was refused before evaluating
            raise ExpressionError(Code.UNKNOWN_PARAMETER, f"${name} is not known here", node.offset)
        if attribute not in SHAPE_ATTRIBUTES:
            hint = suggest(attribute, SHAPE_ATTRIBUTES) if attribute else ""
            what = f"$in.{attribute} is not a property of the input{hint}" if attribute else "$in is the block's input"
            raise ExpressionError(Code.UNKNOWN_NAME, f"{what}; use {', '.join(f'$in.{a}' for a in SHAPE_ATTRIBUTES)}", node.offset)
        shape = self.input_shape(node.offset)
        if attribute != "channels" and len(shape) != 3:
            raise ExpressionError(Code.SHAPE_MISMATCH, f"$in.{attribute}: the block's input has shape {tuple(shape)}, not (height, width, channels)", node.offset)
        dimension = shape[SHAPE_ATTRIBUTES[attribute]]
        if dimension is None:
            raise ExpressionError(Code.UNKNOWN_SHAPE, f"$in.{attribute} is not known before the model is built (the block's input has shape {tuple(shape)})", node.offset)
        return dimension

    def _arithmetic(self, node: ExpressionNode) -> int | float:
        try:
            return self._operate(node)
        except OverflowError as exc:  # an integer of hundreds of digits meeting a fraction
            raise ExpressionError(Code.INVALID_VALUE, f"the result of {node.value!r} is too large", node.offset) from exc

    def _operate(self, node: ExpressionNode) -> int | float:
        operator = node.value
        left = self.number(node.args[0], f"{operator!r}")
        right = self.number(node.args[1], f"{operator!r}")
        if operator == "+":
            result = left + right
        elif operator == "-":
            result = left - right
        elif operator == "*":
            result = left * right
        else:
            if right == 0:
                raise ExpressionError(Code.DIVISION_BY_ZERO, f"division by zero: the right side of {operator!r} is 0 here", node.offset)
            result = left / right if operator == "/" else left // right
        if isinstance(result, float) and not math.isfinite(result):
            raise ExpressionError(Code.INVALID_VALUE, f"the result of {operator!r} is too large", node.offset)
        return result

    def _compare(self, node: ExpressionNode) -> bool:
        operator = node.value
        if operator in ("==", "!="):
            left, right = self.value(node.args[0]), self.value(node.args[1])
            same = left == right and isinstance(left, bool) == isinstance(right, bool)
            return same if operator == "==" else not same
        left = self.number(node.args[0], f"{operator!r}")
        right = self.number(node.args[1], f"{operator!r}")
        return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[operator]

    def _call(self, node: ExpressionNode) -> Any:
        function = FUNCTIONS.get(node.value)
        if function is None:
            raise ExpressionError(Code.UNKNOWN_NAME, f"unknown function {node.value}(){suggest(node.value, FUNCTIONS)}; functions: {', '.join(FUNCTIONS)}", node.offset)
        return function(self, node)


def _min_max(evaluator: Evaluator, node: ExpressionNode) -> int | float:
    values = [evaluator.number(arg, f"{node.value}()") for arg in node.args]
    return min(values) if node.value == "min" else max(values)


def _round_to(evaluator: Evaluator, node: ExpressionNode) -> int:
    value = evaluator.number(node.args[0], "round_to()")
    divisor = evaluator.number(node.args[1], "round_to()")
    if isinstance(divisor, float) and not divisor.is_integer():
        raise ExpressionError(Code.NOT_AN_INTEGER, f"round_to()'s divisor must be an integer, got {divisor!r}", node.args[1].offset)
    if divisor < 1:
        raise ExpressionError(Code.INVALID_VALUE, f"round_to()'s divisor must be 1 or more, got {divisor!r}", node.args[1].offset)
    try:
        return round_to(value, int(divisor))
    except OverflowError as exc:
        raise ExpressionError(Code.INVALID_VALUE, "round_to()'s value is too large", node.offset) from exc


#: The functions an expression may call.
FUNCTIONS: dict[str, Callable[[Evaluator, ExpressionNode], Any]] = {"min": _min_max, "max": _min_max, "round_to": _round_to}
