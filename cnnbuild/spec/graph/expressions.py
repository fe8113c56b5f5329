"""The expressions a block's values and conditions may hold: a small grammar of its own, parsed
(:mod:`.expression_parser`) and evaluated (:mod:`.expression_evaluator`) without evaluating any Python,
every error with the offset it is about.

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

from dataclasses import dataclass
from typing import Any, Callable

from cnnbuild.spec.graph.expression_evaluator import FUNCTIONS, Evaluator, round_to
from cnnbuild.spec.graph.expression_parser import ARITY, MAX_DEPTH, MAX_LENGTH, SHAPE_ATTRIBUTES, ExpressionError, ExpressionNode, parse_tree

# the grammar and the evaluator have modules of their own; what they define is importable from here as before
__all__ = ["ARITY", "BUILTINS", "FUNCTIONS", "MAX_DEPTH", "MAX_LENGTH", "SHAPE_ATTRIBUTES", "Expression", "ExpressionError", "is_expression", "parse", "round_to"]

#: The names every block's expressions know besides its parameters (a parameter of the same name hides one).
BUILTINS = {"in": "the block's input (its shape: $in.channels, $in.height, $in.width)", "index": "the repetition, from 0", "repeat": "how many repetitions the use has"}


@dataclass(frozen=True)
class Expression:
    """A parsed expression: its text, its tree, and every ``$name`` it refers to with its offset."""

    text: str
    root: ExpressionNode
    names: tuple[tuple[str, int], ...]

    @property
    def reference(self) -> str | None:
        """The parameter's name when the whole expression is one ``$name``."""
        return self.root.value if self.root.kind == "ref" and self.root.attribute is None else None

    def evaluate(self, names: dict[str, Any], input_shape: Callable[[int], tuple[Any, ...]]) -> Any:
        """The expression's value with ``names`` (``$name`` -> value); ``input_shape(offset)`` gives
        the block input's shape when ``$in`` is looked at. Raises :class:`ExpressionError`."""
        value = Evaluator(names, input_shape).value(self.root)
        return int(value) if isinstance(value, float) and value.is_integer() else value


def is_expression(value: Any) -> bool:
    """Whether a value of a block's layers is an expression (a text holding ``$``)."""
    return isinstance(value, str) and "$" in value


def parse(text: str) -> Expression:
    """The expression in ``text``; :class:`ExpressionError` (``expression-syntax``) where it cannot be read."""
    root, names = parse_tree(text)
    return Expression(text, root, names)
