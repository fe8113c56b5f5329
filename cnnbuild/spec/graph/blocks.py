"""A use of a block: the block's layers with every expression (``$filters``, ``$cin * $t``,
``$in.channels``) evaluated with the use's arguments, the entries whose ``when:`` is false left
out, validated like ``model.layers`` entries, every error at the line (and column) it comes from:
the argument for a value the use gave, the block's definition otherwise."""

from __future__ import annotations

import re
import typing
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from pydantic import BaseModel, ValidationError, create_model

from cnnbuild.spec.codes import Code
from cnnbuild.spec.errors import SpecIssue, format_path, suggest
from cnnbuild.spec.graph.expressions import BUILTINS, Expression, ExpressionError, is_expression, parse
from cnnbuild.spec.yaml_source import PathKey, Position, SpecSource

if TYPE_CHECKING:
    from cnnbuild.plugins.registry import Registry
    from cnnbuild.spec.document import Spec

#: Where a block's entries are validated: a stand-in for ``model.layers``, so messages name layers.
BODY = ("model", "layers")
#: The key that makes an entry of a block conditional.
WHEN = "when"
#: The keys of an argument that differs between repetitions: ``{first: 2, rest: 1}``.
PER_REPETITION = ("first", "rest")
_LAST_STEP = re.compile(r"(\.[^.\[]+|\[\d+\])$")


class InputUnknown(Exception):
    """The shape of a block's input cannot be had; the reason was reported already."""


def per_repetition(value: Any) -> bool:
    """Whether an argument is ``{first: ..., rest: ...}``: one value for the first repetition, one for the others."""
    return isinstance(value, dict) and set(value) == set(PER_REPETITION)


def _body_model(registry: Registry, entry: Any) -> Any:
    cache = registry.derived.setdefault("block_body", {})
    key = id(entry)
    if key not in cache:
        section = create_model("BlockLayers", layers=(list[entry], ...))
        cache[key] = (create_model("BlockBody", model=(section, ...)), entry)
    return cache[key][0]


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
        self.used_parameters: dict[str, set[str]] = {}
        self._expressions: dict[str, dict[PathKey, Expression] | None] = {}
        #: a block's list (its path in the block) -> the indices, as written, of the entries this use keeps
        self.kept: dict[PathKey, list[int]] = {}
        #: a block's list -> name of an entry this use leaves out -> why
        self.absent: dict[PathKey, dict[str, str]] = {}
        self._lines: list[str] | None = None
        self._union: Any = None

    # -- arguments ---------------------------------------------------------------------
    def arguments(self, name: str, use: Any, repetition: int = 0) -> dict[str, Any]:
        """The value of every parameter of block ``name`` at this use and repetition: given, or the default."""
        values = {}
        for key in self.spec.blocks[name].params:
            value = getattr(use, key)
            values[key] = value[PER_REPETITION[min(repetition, 1)]] if per_repetition(value) else value
        return values

    # -- the block's expressions, read once ----------------------------------------------
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
            self.report(None, exc.code, f"{exc.message} (in {text!r})", position=self._at(path, text, exc.offset))
            return False
        params = self.spec.blocks[name].params
        valid = True
        for reference, offset in expression.names:
            if reference in params:
                used.add(reference)
            elif reference not in BUILTINS:
                hint = suggest(reference, [*params, *BUILTINS]).replace(" '", " '$") or f"; its parameters: {', '.join(params) or 'none'} (declare it under params)"
                self.report(None, Code.UNKNOWN_PARAMETER, f"${reference} is not a parameter of block {name}{hint}", position=self._at(path, text, offset))
                valid = False
        found[path] = expression
        return valid

    def _at(self, path: PathKey, text: str, offset: int) -> tuple[str, int, int, str]:
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

    # -- one use -------------------------------------------------------------------------
    def entries(self, name: str, use: Any, use_path: PathKey, context: str, *, source: str = "input", repetition: int = 0) -> list[Any] | None:
        """The block's layers for this use (repetition ``repetition`` of it, fed by node ``source``),
        validated; None (after reporting why) when invalid."""
        expressions = self.expressions(name)
        if expressions is None:
            return None
        block = self.spec.blocks[name]
        base = ("blocks", name, "layers")
        for table in (self.kept, self.absent):
            for key in [key for key in table if key[: len(base)] == base]:
                del table[key]
        names = {"index": repetition, "repeat": use.repeat, **self.arguments(name, use, repetition)}
        given = {}
        for key in use.model_fields_set & set(block.params):
            value = getattr(use, key)
            step = (PER_REPETITION[min(repetition, 1)],) if per_repetition(value) else ()
            given[key] = (*use_path, key, *step)
        shape = (lambda offset: self.input_shape(source, offset)) if self.input_shape is not None else _no_shape
        state = _Use(name, names, given, shape, context)
        body = self._list(block.layers, BODY, base, expressions, state)
        if state.failed:
            return None
        model = _body_model(self.registry, self._entry_union())
        data = {"model": {"layers": body}}
        try:
            validated = model.model_validate(data)
        except ValidationError as exc:
            self._report_invalid(exc, data, model, state)
            return None
        return list(validated.model.layers)

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
            self.report(None, exc.code, f"{exc.message} (in {expression.text!r})", position=self._at(path, expression.text, exc.offset), context=state.context)
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
            self.report(None, Code.WRONG_TYPE, f"when needs a condition (true or false, such as $strides != 1), and {expression.text!r} is {result!r} here", position=self._at(path, expression.text, 0), context=state.context)
            state.failed = True
            return None
        return result

    def _why_absent(self, condition: Any, state: _Use) -> str:
        if isinstance(condition, bool):
            return "its when: is false"
        names = dict.fromkeys(reference for reference, _ in parse(condition).names if reference in state.names)
        values = ", ".join(f"${reference} = {state.names[reference]!r}" for reference in names)
        return f"its when: {condition} is false here" + (f" ({values})" if values else "")

    def _report_invalid(self, exc: ValidationError, data: dict[str, Any], model: Any, state: _Use) -> None:
        from cnnbuild.spec.translate import translate

        name = state.name
        original = {format_path(new): old for new, old in state.original.items()}  # dotted: as translate names paths
        computed_at = {format_path(new): found for new, found in state.computed.items()}
        for issue in translate(exc, SpecSource(data, self.source.filename, state.positions), model, self.registry):
            path = self._original(issue.path, original, name)
            computed = computed_at.get(issue.path)
            if computed is not None and _wants_integer(model, data, issue.path):
                where, text, value = computed
                self.report(
                    None, Code.NOT_AN_INTEGER,
                    f"{text!r} is {value:g} here, and {where[-1]} takes an integer: divide with // (rounding down), or round with round_to(..., 8)",
                    position=self._at(where, text, 0), context=state.context,
                )  # fmt: skip
                continue
            self.report(None, issue.code, issue.message, position=(issue.filename, issue.line, issue.column, path or f"blocks.{name}.layers"), context=state.context)

    @staticmethod
    def _original(dotted: str, original: dict[str, PathKey], name: str) -> str:
        """A body path (``model.layers[1].filters``) as the block has it (``blocks.b.layers[2].filters``)."""
        rest = ""
        while dotted and dotted not in original:
            match = _LAST_STEP.search(dotted)
            if match is None:
                break
            rest = match.group(1) + rest
            dotted = dotted[: match.start()]
        found = original.get(dotted)
        return format_path(found) + rest if found is not None else dotted.replace("model.layers", f"blocks.{name}.layers", 1) + rest

    def _entry_union(self) -> Any:
        if self._union is None:
            self._union = self._make_entry_union()
        return self._union

    def _make_entry_union(self) -> Any:
        from cnnbuild.spec.document import spec_model
        from cnnbuild.spec.graph.entries import block_signature

        signature = block_signature({name: {"params": block.params} for name, block in self.spec.blocks.items()})
        section = spec_model(self.registry, signature).model_fields["model"].annotation  # the model section spec_model made
        assert isinstance(section, type) and issubclass(section, BaseModel)
        return typing.get_args(section.model_fields["layers"].annotation)[0]

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


def _no_shape(offset: int) -> tuple[Any, ...]:
    raise ExpressionError(Code.UNKNOWN_SHAPE, "$in is not known here", offset)


def _wants_integer(model: Any, data: dict[str, Any], dotted: str) -> bool:
    """Whether the field at body path ``dotted`` takes integers (and not fractions)."""
    import typing

    from cnnbuild.spec.translate import _model_at, _unwrap

    steps = [int(part[1:-1]) if part.startswith("[") else part.lstrip(".") for part in re.findall(r"\.?[^.\[]+|\[\d+\]", dotted)]
    while steps and isinstance(steps[-1], int):
        steps.pop()
    if not steps:
        return False
    owner = _model_at(model, data, tuple(steps[:-1]))
    if owner is None or steps[-1] not in owner.model_fields:
        return False
    kinds = [typing.get_origin(kind) or kind for kind in _unwrap(owner.model_fields[steps[-1]].annotation)]
    return int in kinds and float not in kinds
