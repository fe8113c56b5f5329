"""A block's expressions, read once for all its uses: each parsed, its ``$name``s checked against
the block's parameters, every error at the column inside the expression it is about; which
parameters each used block refers to, and a warning for each it declares and never uses."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cnnbuild.spec.codes import Code
from cnnbuild.spec.errors import SpecIssue, format_path, suggest
from cnnbuild.spec.graph.expressions import BUILTINS, Expression, ExpressionError, is_expression, parse
from cnnbuild.spec.yaml_source import PathKey, SpecSource

if TYPE_CHECKING:
    from cnnbuild.spec.document import Spec

#: The key that makes an entry of a block conditional.
WHEN = "when"


class BlockExpressions:
    """The expressions of a spec's blocks by block and path; problems are reported through
    ``report(path, code, message, position=None, context="")``."""

    def __init__(self, spec: Spec, report: Any) -> None:
        self.spec, self.report = spec, report
        self.source = spec.source or SpecSource(None, "<dict>")
        #: a block -> the parameters its expressions refer to (a block no use reached is absent)
        self.used_parameters: dict[str, set[str]] = {}
        self._expressions: dict[str, dict[PathKey, Expression] | None] = {}
        self._lines: list[str] | None = None

    def expressions(self, name: str) -> dict[PathKey, Expression] | None:
        """Every expression of block ``name`` by its path; None (after reporting why) when one cannot be read
        or names what the block does not have."""
        if name in self._expressions:
            return self._expressions[name]
        block = self.spec.blocks[name]
        found: dict[PathKey, Expression] = {}
        valid = True
        used = self.used_parameters.setdefault(name, set())

        def visit(value: Any, path: PathKey) -> None:
            nonlocal valid
            if isinstance(value, dict):
                for key, item in value.items():
                    if key == WHEN and isinstance(path[-1], int) and not isinstance(item, (bool, str)):
                        self.report((*path, key), Code.WRONG_TYPE, f"when takes a condition (such as $strides != 1, or true/false), got {item!r}")
                        valid = False
                    elif key == WHEN and isinstance(item, str):
                        valid = self._read(item, (*path, key), name, found, used) and valid
                    else:
                        visit(item, (*path, key))
            elif isinstance(value, list):
                for index, item in enumerate(value):
                    visit(item, (*path, index))
            elif is_expression(value):
                valid = self._read(value, path, name, found, used) and valid

        for index, item in enumerate(block.layers):
            visit(item, ("blocks", name, "layers", index))
        self._expressions[name] = found if valid else None
        return self._expressions[name]

    def _read(self, text: str, path: PathKey, name: str, found: dict[PathKey, Expression], used: set[str]) -> bool:
        try:
            expression = parse(text)
        except ExpressionError as exc:
            self.report(None, exc.code, f"{exc.message} (in {text!r})", position=self.at(path, text, exc.offset))
            return False
        params = self.spec.blocks[name].params
        valid = True
        for reference, offset in expression.names:
            if reference in params:
                used.add(reference)
            elif reference not in BUILTINS:
                hint = suggest(reference, [*params, *BUILTINS]).replace(" '", " '$") or f"; its parameters: {', '.join(params) or 'none'} (declare it under params)"
                self.report(None, Code.UNKNOWN_PARAMETER, f"${reference} is not a parameter of block {name}{hint}", position=self.at(path, text, offset))
                valid = False
        found[path] = expression
        return valid

    def at(self, path: PathKey, text: str, offset: int) -> tuple[str, int, int, str]:
        """``(file, line, column, dotted path)`` of character ``offset`` of the expression ``text`` at ``path``."""
        where, line, column = self.source.locate(path)
        position = self.source.positions.get(path)
        if position is not None and self.source.text and line > 0:
            if self._lines is None:
                self._lines = self.source.text.splitlines()
            row = self._lines[line - 1] if line <= len(self._lines) else ""
            start = column - 1 + (row[column - 1 : column] in ("'", '"'))
            if row[start : start + len(text)] == text:  # on one line as written: point inside it
                column = start + offset + 1
        return where, line, column, format_path(path)

    def unused_parameters(self) -> list[SpecIssue]:
        """A warning for each declared parameter that no layer of its (used) block refers to."""
        issues = []
        for name, used in self.used_parameters.items():
            for parameter in self.spec.blocks[name].params:
                if parameter not in used:
                    path = ("blocks", name, "params", parameter)
                    where, line, column = self.source.locate(path, key=True)
                    issues.append(SpecIssue(where, line, column, format_path(path), f"parameter {parameter} is declared but no layer of block {name} uses ${parameter}", "warning", code=Code.UNUSED_PARAMETER))
        return issues
