"""The expressions a block's values and conditions may hold: a small grammar of its own, parsed
and evaluated here (no Python is evaluated), every error with the offset it is about.

    expression := or ; or := and ("or" and)* ; and := not ("and" not)* ; not := "not" not | comparison
    comparison := sum (("==" | "!=" | "<" | "<=" | ">" | ">=") sum)?
    sum := product (("+" | "-") product)* ; product := unary (("*" | "/" | "//") unary)*
    unary := ("-" | "+") unary | atom
    atom := NUMBER | 'TEXT' | "TEXT" | true | false | $NAME | $in.ATTRIBUTE | FUNCTION "(" expression ("," expression)* ")" | "(" expression ")"

``/`` divides exactly, ``//`` rounds down; a result that is a whole number is an integer (``$c / 2``
with ``$c`` 64 is 32). ``and``/``or`` stop at the first operand that decides (``$in`` is then not
looked at). A whole value that is one ``$name`` is that parameter's value as given, of any kind.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Callable

from cnnbuild.spec.codes import Code
from cnnbuild.spec.errors import suggest

#: The names every block's expressions know besides its parameters (a parameter of the same name hides one).
BUILTINS = {"in": "the block's input (its shape: $in.channels, $in.height, $in.width)", "index": "the repetition, from 0", "repeat": "how many repetitions the use has"}
#: What ``$in.ATTRIBUTE`` may name: the index into an (height, width, channels) shape.
SHAPE_ATTRIBUTES = {"height": 0, "width": 1, "channels": -1}
#: Longer expressions are refused (a value of a spec, not a program).
MAX_LENGTH = 1000
MAX_DEPTH = 50

_TOKEN = re.compile(
    r"\s*(?:(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)|(?P<text>'[^']*'|\"[^\"]*\")|(?P<ref>\$[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<op>//|==|!=|<=|>=|[-+*/<>(),.]))"
)
_KEYWORDS = ("and", "or", "not", "true", "false")


class ExpressionError(Exception):
    """An expression cannot be read or evaluated: a code, a message, and the offset in its text."""

    def __init__(self, code: Code, message: str, offset: int) -> None:
        super().__init__(message)
        self.code, self.message, self.offset = code, message, offset


def round_to(value: float, divisor: int) -> int:
    """``value`` rounded to the nearest multiple of ``divisor`` (halves up), at least ``divisor``,
    and one ``divisor`` more when that rounded down by more than 10%: MobileNet's ``_make_divisible``
    (``max(divisor, int(value + divisor / 2) // divisor * divisor)``, plus ``divisor`` if below ``0.9 * value``)."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


@dataclass(frozen=True)
class _Node:
    kind: str  # number, text, ref, unary, binary, compare, and, or, not, call
    offset: int
    value: Any = None  # a literal, an operator, a name or a function
    args: tuple[Any, ...] = ()
    attribute: str | None = None


@dataclass(frozen=True)
class Expression:
    """A parsed expression: its text, its tree, and every ``$name`` it refers to with its offset."""

    text: str
    root: _Node
    names: tuple[tuple[str, int], ...]

    @property
    def reference(self) -> str | None:
        """The parameter's name when the whole expression is one ``$name``."""
        return self.root.value if self.root.kind == "ref" and self.root.attribute is None else None

    def evaluate(self, names: dict[str, Any], input_shape: Callable[[int], tuple[Any, ...]]) -> Any:
        """The expression's value with ``names`` (``$name`` -> value); ``input_shape(offset)`` gives
        the block input's shape when ``$in`` is looked at. Raises :class:`ExpressionError`."""
        value = _Evaluator(names, input_shape).value(self.root)
        return int(value) if isinstance(value, float) and value.is_integer() else value


def is_expression(value: Any) -> bool:
    """Whether a value of a block's layers is an expression (a text holding ``$``)."""
    return isinstance(value, str) and "$" in value


def parse(text: str) -> Expression:
    """The expression in ``text``; :class:`ExpressionError` (``expression-syntax``) where it cannot be read."""
    if len(text) > MAX_LENGTH:
        raise ExpressionError(Code.EXPRESSION_SYNTAX, f"an expression of {len(text)} characters; at most {MAX_LENGTH}", 0)
    parser = _Parser(text)
    root = parser.expression(0)
    left = parser.peek()
    if left is not None:
        _, token, offset = left
        raise ExpressionError(Code.EXPRESSION_SYNTAX, f"unexpected {token!r}: an operator (+ - * / // == and or ...) or the end was expected", offset)
    return Expression(text, root, tuple(parser.names))


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, str, int]] = []
        self.position = 0
        self.names: list[tuple[str, int]] = []
        offset = 0
        while offset < len(text):
            match = _TOKEN.match(text, offset)
            if match is None or match.lastgroup is None:
                start = len(text) - len(text[offset:].lstrip())
                if start >= len(text):
                    break
                char = text[start]
                hint = "; to compare, write ==" if char == "=" else "; a parameter is written $name" if char == "$" else ""
                raise ExpressionError(Code.EXPRESSION_SYNTAX, f"unexpected character {char!r}{hint}", start)
            self.tokens.append((match.lastgroup, match.group(match.lastgroup), match.start(match.lastgroup)))
            offset = match.end()

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self, *values: str) -> tuple[str, str, int] | None:
        token = self.peek()
        if token is not None and token[0] in ("op", "name") and token[1] in values:
            self.position += 1
            return token
        return None

    def expect(self, value: str, what: str) -> None:
        if self.take(value) is None:
            token = self.peek()
            where = token[2] if token else len(self.text)
            got = f"{token[1]!r}" if token else "the end"
            raise ExpressionError(Code.EXPRESSION_SYNTAX, f"{what}: expected {value!r}, got {got}", where)

    def expression(self, depth: int) -> _Node:
        if depth > MAX_DEPTH:
            token = self.peek()
            raise ExpressionError(Code.EXPRESSION_SYNTAX, f"expression nested deeper than {MAX_DEPTH} levels", token[2] if token else 0)
        return self._or(depth)

    def _or(self, depth: int) -> _Node:
        node = self._and(depth)
        while (token := self.take("or")) is not None:
            node = _Node("or", token[2], "or", (node, self._and(depth)))
        return node

    def _and(self, depth: int) -> _Node:
        node = self._not(depth)
        while (token := self.take("and")) is not None:
            node = _Node("and", token[2], "and", (node, self._not(depth)))
        return node

    def _not(self, depth: int) -> _Node:
        token = self.take("not")
        if token is not None:
            return _Node("not", token[2], "not", (self._not(depth + 1),))
        return self._comparison(depth)

    def _comparison(self, depth: int) -> _Node:
        node = self._sum(depth)
        token = self.take("==", "!=", "<", "<=", ">", ">=")
        if token is not None:
            node = _Node("compare", token[2], token[1], (node, self._sum(depth)))
            if (again := self.take("==", "!=", "<", "<=", ">", ">=")) is not None:
                raise ExpressionError(Code.EXPRESSION_SYNTAX, "comparisons do not chain: write a < b and b < c", again[2])
        return node

    def _sum(self, depth: int) -> _Node:
        node = self._product(depth)
        while (token := self.take("+", "-")) is not None:
            node = _Node("binary", token[2], token[1], (node, self._product(depth)))
        return node

    def _product(self, depth: int) -> _Node:
        node = self._unary(depth)
        while (token := self.take("*", "//", "/")) is not None:
            node = _Node("binary", token[2], token[1], (node, self._unary(depth)))
        return node

    def _unary(self, depth: int) -> _Node:
        token = self.take("-", "+")
        if token is not None:
            return _Node("unary", token[2], token[1], (self._unary(depth + 1),))
        return self._atom(depth)

    def _atom(self, depth: int) -> _Node:
        token = self.peek()
        if token is None:
            raise ExpressionError(Code.EXPRESSION_SYNTAX, "the expression ends where a value was expected", len(self.text))
        kind, value, offset = token
        self.position += 1
        if kind == "number":
            number = float(value) if any(c in value for c in ".eE") else int(value)
            if isinstance(number, float) and not math.isfinite(number):
                raise ExpressionError(Code.EXPRESSION_SYNTAX, f"number {value} is too large", offset)
            return _Node("number", offset, number)
        if kind == "text":
            return _Node("text", offset, value[1:-1])
        if kind == "ref":
            attribute = None
            if self.take(".") is not None:
                name = self.peek()
                if name is None or name[0] != "name":
                    raise ExpressionError(Code.EXPRESSION_SYNTAX, f"{value}. must be followed by a name ({', '.join(f'{value}.{a}' for a in SHAPE_ATTRIBUTES)})", name[2] if name else len(self.text))
                self.position += 1
                attribute = name[1]
                if value == "$in" and attribute not in SHAPE_ATTRIBUTES:
                    raise ExpressionError(Code.UNKNOWN_NAME, f"$in.{attribute} is not a property of the input{suggest(attribute, SHAPE_ATTRIBUTES)}; use {', '.join(f'$in.{a}' for a in SHAPE_ATTRIBUTES)}", offset)
            self.names.append((value[1:], offset))
            return _Node("ref", offset, value[1:], attribute=attribute)
        if kind == "name" and value in ("true", "false"):
            return _Node("number", offset, value == "true")
        if kind == "name" and value not in _KEYWORDS:
            if self.take("(") is None:
                raise ExpressionError(
                    Code.UNKNOWN_NAME, f"{value!r} is not a name here: a parameter is written ${value}, text is quoted ('{value}'), and functions are {', '.join(FUNCTIONS)}", offset
                )
            if value not in FUNCTIONS:
                raise ExpressionError(Code.UNKNOWN_NAME, f"unknown function {value}(){suggest(value, FUNCTIONS)}; functions: {', '.join(FUNCTIONS)}", offset)
            args = [] if self.take(")") is not None else self._arguments(depth, value)
            low, high = ARITY[value]
            if not low <= len(args) <= high:
                wanted = f"{low}" if low == high else f"at least {low}"
                raise ExpressionError(Code.EXPRESSION_SYNTAX, f"{value}() takes {wanted} value{'s' * (low != 1)}, got {len(args)}", offset)
            return _Node("call", offset, value, tuple(args))
        if kind == "op" and value == "(":
            node = self.expression(depth + 1)
            self.expect(")", "an opening parenthesis is not closed")
            return node
        raise ExpressionError(Code.EXPRESSION_SYNTAX, f"unexpected {value!r} where a value was expected", offset)

    def _arguments(self, depth: int, function: str) -> list[_Node]:
        args = [self.expression(depth + 1)]
        while self.take(",") is not None:
            args.append(self.expression(depth + 1))
        self.expect(")", f"the arguments of {function}() are not closed")
        return args


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, str) else f"{value!r}"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class _Evaluator:
    def __init__(self, names: dict[str, Any], input_shape: Callable[[int], tuple[Any, ...]]) -> None:
        self.names, self.input_shape = names, input_shape

    def value(self, node: _Node) -> Any:
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

    def number(self, node: _Node, what: str) -> int | float:
        value = self.value(node)
        if not _is_number(value):
            raise ExpressionError(Code.WRONG_TYPE, f"{what} needs a number, got {_describe(value)}", node.offset)
        return value

    def boolean(self, node: _Node, what: str) -> bool:
        value = self.value(node)
        if not isinstance(value, bool):
            raise ExpressionError(Code.WRONG_TYPE, f"{what} needs a condition (true or false, such as $strides != 1), got {_describe(value)}", node.offset)
        return value

    def _reference(self, node: _Node) -> Any:
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

    def _arithmetic(self, node: _Node) -> int | float:
        try:
            return self._operate(node)
        except OverflowError as exc:  # an integer of hundreds of digits meeting a fraction
            raise ExpressionError(Code.INVALID_VALUE, f"the result of {node.value!r} is too large", node.offset) from exc

    def _operate(self, node: _Node) -> int | float:
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

    def _compare(self, node: _Node) -> bool:
        operator = node.value
        if operator in ("==", "!="):
            left, right = self.value(node.args[0]), self.value(node.args[1])
            same = left == right and isinstance(left, bool) == isinstance(right, bool)
            return same if operator == "==" else not same
        left = self.number(node.args[0], f"{operator!r}")
        right = self.number(node.args[1], f"{operator!r}")
        return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[operator]

    def _call(self, node: _Node) -> Any:
        function = FUNCTIONS.get(node.value)
        if function is None:
            raise ExpressionError(Code.UNKNOWN_NAME, f"unknown function {node.value}(){suggest(node.value, FUNCTIONS)}; functions: {', '.join(FUNCTIONS)}", node.offset)
        return function(self, node)


def _min_max(evaluator: _Evaluator, node: _Node) -> int | float:
    values = [evaluator.number(arg, f"{node.value}()") for arg in node.args]
    return min(values) if node.value == "min" else max(values)


def _round_to(evaluator: _Evaluator, node: _Node) -> int:
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
FUNCTIONS: dict[str, Callable[[_Evaluator, _Node], Any]] = {"min": _min_max, "max": _min_max, "round_to": _round_to}
#: How many values each function takes: (at least, at most).
ARITY = {"min": (1, MAX_LENGTH), "max": (1, MAX_LENGTH), "round_to": (2, 2)}
