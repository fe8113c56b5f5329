"""The grammar of a block's expressions (see :mod:`cnnbuild.spec.graph.expressions`): text ->
tokens -> a tree of :class:`ExpressionNode`, every error an :class:`ExpressionError` with the offset
it is about. Nothing is evaluated here."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from cnnbuild.spec.codes import Code
from cnnbuild.spec.errors import suggest

#: What ``$in.ATTRIBUTE`` may name: the index into an (height, width, channels) shape.
SHAPE_ATTRIBUTES = {"height": 0, "width": 1, "channels": -1}
#: Longer expressions are refused (a value of a spec, not a program).
MAX_LENGTH = 1000
MAX_DEPTH = 50
#: The functions an expression may call, and how many values each takes: (at least, at most).
ARITY = {"min": (1, MAX_LENGTH), "max": (1, MAX_LENGTH), "round_to": (2, 2)}

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


@dataclass(frozen=True)
class ExpressionNode:
    """One node of a parsed expression's tree, with the offset of the text it was read from."""

    kind: str  # number, text, ref, unary, binary, compare, and, or, not, call
    offset: int
    value: Any = None  # a literal, an operator, a name or a function
    args: tuple[Any, ...] = ()
    attribute: str | None = None


def parse_tree(text: str) -> tuple[ExpressionNode, tuple[tuple[str, int], ...]]:
    """The tree of ``text`` and every ``$name`` it refers to with its offset; :class:`ExpressionError`
    (``expression-syntax``, ``unknown-name``) where it cannot be read."""
    if len(text) > MAX_LENGTH:
        raise ExpressionError(Code.EXPRESSION_SYNTAX, f"an expression of {len(text)} characters; at most {MAX_LENGTH}", 0)
    parser = _Parser(text)
    root = parser.expression(0)
    left = parser.peek()
    if left is not None:
        _, token, offset = left
        raise ExpressionError(Code.EXPRESSION_SYNTAX, f"unexpected {token!r}: an operator (+ - * / // == and or ...) or the end was expected", offset)
    return root, tuple(parser.names)


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

    def expression(self, depth: int) -> ExpressionNode:
        if depth > MAX_DEPTH:
            token = self.peek()
            raise ExpressionError(Code.EXPRESSION_SYNTAX, f"expression nested deeper than {MAX_DEPTH} levels", token[2] if token else 0)
        return self._or(depth)

    def _or(self, depth: int) -> ExpressionNode:
        node = self._and(depth)
        while (token := self.take("or")) is not None:
            node = ExpressionNode("or", token[2], "or", (node, self._and(depth)))
        return node

    def _and(self, depth: int) -> ExpressionNode:
        node = self._not(depth)
        while (token := self.take("and")) is not None:
            node = ExpressionNode("and", token[2], "and", (node, self._not(depth)))
        return node

    def _not(self, depth: int) -> ExpressionNode:
        token = self.take("not")
        if token is not None:
            return ExpressionNode("not", token[2], "not", (self._not(depth + 1),))
        return self._comparison(depth)

    def _comparison(self, depth: int) -> ExpressionNode:
        node = self._sum(depth)
        token = self.take("==", "!=", "<", "<=", ">", ">=")
        if token is not None:
            node = ExpressionNode("compare", token[2], token[1], (node, self._sum(depth)))
            if (again := self.take("==", "!=", "<", "<=", ">", ">=")) is not None:
                raise ExpressionError(Code.EXPRESSION_SYNTAX, "comparisons do not chain: write a < b and b < c", again[2])
        return node

    def _sum(self, depth: int) -> ExpressionNode:
        node = self._product(depth)
        while (token := self.take("+", "-")) is not None:
            node = ExpressionNode("binary", token[2], token[1], (node, self._product(depth)))
        return node

    def _product(self, depth: int) -> ExpressionNode:
        node = self._unary(depth)
        while (token := self.take("*", "//", "/")) is not None:
            node = ExpressionNode("binary", token[2], token[1], (node, self._unary(depth)))
        return node

    def _unary(self, depth: int) -> ExpressionNode:
        token = self.take("-", "+")
        if token is not None:
            return ExpressionNode("unary", token[2], token[1], (self._unary(depth + 1),))
        return self._atom(depth)

    def _atom(self, depth: int) -> ExpressionNode:
        token = self.peek()
        if token is None:
            raise ExpressionError(Code.EXPRESSION_SYNTAX, "the expression ends where a value was expected", len(self.text))
        kind, value, offset = token
        self.position += 1
        if kind == "number":
            number = float(value) if any(c in value for c in ".eE") else int(value)
            if isinstance(number, float) and not math.isfinite(number):
                raise ExpressionError(Code.EXPRESSION_SYNTAX, f"number {value} is too large", offset)
            return ExpressionNode("number", offset, number)
        if kind == "text":
            return ExpressionNode("text", offset, value[1:-1])
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
            return ExpressionNode("ref", offset, value[1:], attribute=attribute)
        if kind == "name" and value in ("true", "false"):
            return ExpressionNode("number", offset, value == "true")
        if kind == "name" and value not in _KEYWORDS:
            if self.take("(") is None:
                raise ExpressionError(
                    Code.UNKNOWN_NAME, f"{value!r} is not a name here: a parameter is written ${value}, text is quoted ('{value}'), and functions are {', '.join(ARITY)}", offset
                )
            if value not in ARITY:
                raise ExpressionError(Code.UNKNOWN_NAME, f"unknown function {value}(){suggest(value, ARITY)}; functions: {', '.join(ARITY)}", offset)
            args = [] if self.take(")") is not None else self._arguments(depth, value)
            low, high = ARITY[value]
            if not low <= len(args) <= high:
                wanted = f"{low}" if low == high else f"at least {low}"
                raise ExpressionError(Code.EXPRESSION_SYNTAX, f"{value}() takes {wanted} value{'s' * (low != 1)}, got {len(args)}", offset)
            return ExpressionNode("call", offset, value, tuple(args))
        if kind == "op" and value == "(":
            node = self.expression(depth + 1)
            self.expect(")", "an opening parenthesis is not closed")
            return node
        raise ExpressionError(Code.EXPRESSION_SYNTAX, f"unexpected {value!r} where a value was expected", offset)

    def _arguments(self, depth: int, function: str) -> list[ExpressionNode]:
        args = [self.expression(depth + 1)]
        while self.take(",") is not None:
            args.append(self.expression(depth + 1))
        self.expect(")", f"the arguments of {function}() are not closed")
        return args
