"""A use's layers validated as ``model.layers`` entries are, with the spec's own entry types, and
every error put back where it comes from: the block's definition, or the argument the use gave; a
fraction an expression computed where an integer is wanted said as such."""

from __future__ import annotations

import re
import typing
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError, create_model

from cnnbuild.spec.codes import Code
from cnnbuild.spec.errors import format_path
from cnnbuild.spec.graph.block_expressions import BlockExpressions
from cnnbuild.spec.yaml_source import PathKey, Position, SpecSource

if TYPE_CHECKING:
    from cnnbuild.plugins.registry import Registry

#: Where a block's entries are validated: a stand-in for ``model.layers``, so messages name layers.
BODY = ("model", "layers")
_LAST_STEP = re.compile(r"(\.[^.\[]+|\[\d+\])$")


def _body_model(registry: Registry, entry: Any) -> Any:
    cache = registry.derived.setdefault("block_body", {})
    key = id(entry)
    if key not in cache:
        section = create_model("BlockLayers", layers=(list[entry], ...))
        cache[key] = (create_model("BlockBody", model=(section, ...)), entry)
    return cache[key][0]


class BlockBody:
    """Validates the layers of a spec's block uses; problems go to the ``report`` of ``expressions``."""

    def __init__(self, expressions: BlockExpressions, registry: Registry) -> None:
        self.expressions, self.registry = expressions, registry
        self.spec, self.source, self.report = expressions.spec, expressions.source, expressions.report
        self._union: Any = None

    def validate(
        self, body: list[Any], name: str, context: str,
        positions: dict[PathKey, Position], original: dict[PathKey, PathKey], computed: dict[PathKey, tuple[PathKey, str, Any]],
    ) -> list[Any] | None:  # fmt: skip
        """The validated entries of ``body`` (a use of block ``name``); None (after reporting why) when invalid.
        ``positions``, ``original`` and ``computed`` say, by body path, where a value is written, its path
        in the block, and (block path, expression, fraction) for a fraction an expression computed."""
        model = _body_model(self.registry, self._entry_union())
        data = {"model": {"layers": body}}
        try:
            validated = model.model_validate(data)
        except ValidationError as exc:
            self._report_invalid(exc, data, model, name, context, positions, original, computed)
            return None
        return list(validated.model.layers)

    def _report_invalid(
        self, exc: ValidationError, data: dict[str, Any], model: Any, name: str, context: str,
        positions: dict[PathKey, Position], original_paths: dict[PathKey, PathKey], computed_at_paths: dict[PathKey, tuple[PathKey, str, Any]],
    ) -> None:  # fmt: skip
        from cnnbuild.spec.translate import translate

        original = {format_path(new): old for new, old in original_paths.items()}  # dotted: as translate names paths
        computed_at = {format_path(new): found for new, found in computed_at_paths.items()}
        for issue in translate(exc, SpecSource(data, self.source.filename, positions), model, self.registry):
            path = self._original(issue.path, original, name)
            computed = computed_at.get(issue.path)
            if computed is not None and _wants_integer(model, data, issue.path):
                where, text, value = computed
                self.report(
                    None, Code.NOT_AN_INTEGER,
                    f"{text!r} is {value:g} here, and {where[-1]} takes an integer: divide with // (rounding down), or round with round_to(..., 8)",
                    position=self.expressions.at(where, text, 0), context=context,
                )  # fmt: skip
                continue
            self.report(None, issue.code, issue.message, position=(issue.filename, issue.line, issue.column, path or f"blocks.{name}.layers"), context=context)

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


def _wants_integer(model: Any, data: dict[str, Any], dotted: str) -> bool:
    """Whether the field at body path ``dotted`` takes integers (and not fractions)."""
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
