"""A use of a block: the block's layers with ``$parameter`` replaced by the use's arguments,
validated like ``model.layers`` entries, every error at the line it comes from (the argument
for a value the use gave, the block's definition otherwise)."""

from __future__ import annotations

import typing
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError, create_model

from cnnbuild.spec.codes import Code
from cnnbuild.spec.errors import SpecIssue, format_path, suggest
from cnnbuild.spec.graph.entries import PLACEHOLDER
from cnnbuild.spec.yaml_source import PathKey, Position, SpecSource

if TYPE_CHECKING:
    from cnnbuild.plugins.registry import Registry
    from cnnbuild.spec.document import Spec

#: Where a block's entries are validated: a stand-in for ``model.layers``, so messages name layers.
BODY = ("model", "layers")


def _body_model(registry: Registry, entry: Any) -> Any:
    cache = registry.derived.setdefault("block_body", {})
    key = id(entry)
    if key not in cache:
        section = create_model("BlockLayers", layers=(list[entry], ...))
        cache[key] = (create_model("BlockBody", model=(section, ...)), entry)
    return cache[key][0]


class BlockUse:
    """Instantiates one use of a block; problems are reported through ``report(path, code, message, position=None, context="")``."""

    def __init__(self, spec: Spec, registry: Registry, report: Any) -> None:
        self.spec, self.registry, self.report = spec, registry, report
        self.source = spec.source or SpecSource(None, "<dict>")
        self.used_parameters: dict[str, set[str]] = {}
        self.unknown: set[str] = set()  # body paths holding an unknown $parameter

    def arguments(self, name: str, use: Any) -> dict[str, Any]:
        """The value of every parameter of block ``name`` at this use: given, or the default."""
        return {key: getattr(use, key) for key in self.spec.blocks[name].params}

    def entries(self, name: str, use: Any, use_path: PathKey, context: str) -> list[Any] | None:
        """The block's layers for this use, validated; None (after reporting why) when invalid."""
        block = self.spec.blocks[name]
        values = self.arguments(name, use)
        base = ("blocks", name, "layers")
        positions: dict[PathKey, Position] = {}
        for path, position in self.source.positions.items():
            if path[: len(base)] == base:
                positions[BODY + path[len(base) :]] = position
        used = self.used_parameters.setdefault(name, set())
        body = [self._substitute(item, (*BODY, index), values, use, use_path, positions, used, name) for index, item in enumerate(block.layers)]
        model = _body_model(self.registry, self._entry_union())
        try:
            validated = model.model_validate({"model": {"layers": body}})
        except ValidationError as exc:
            from cnnbuild.spec.translate import translate

            for issue in translate(exc, SpecSource({"model": {"layers": body}}, self.source.filename, positions), model, self.registry):
                if issue.path in self.unknown:
                    continue  # reported as an unknown parameter
                dotted = issue.path.replace("model.layers", f"blocks.{name}.layers", 1)
                self.report(None, issue.code, issue.message, position=(issue.filename, issue.line, issue.column, dotted), context=context)
            return None
        return list(validated.model.layers)

    def _entry_union(self) -> Any:
        from cnnbuild.spec.document import spec_model
        from cnnbuild.spec.graph.entries import block_signature

        signature = block_signature({name: {"params": block.params} for name, block in self.spec.blocks.items()})
        section = spec_model(self.registry, signature).model_fields["model"].annotation  # the model section spec_model made
        assert isinstance(section, type) and issubclass(section, BaseModel)
        return typing.get_args(section.model_fields["layers"].annotation)[0]

    def _substitute(self, value: Any, path: PathKey, values: dict[str, Any], use: Any, use_path: PathKey, positions: dict[PathKey, Position], used: set[str], name: str) -> Any:
        if isinstance(value, dict):
            return {key: self._substitute(item, (*path, key), values, use, use_path, positions, used, name) for key, item in value.items()}
        if isinstance(value, list):
            return [self._substitute(item, (*path, index), values, use, use_path, positions, used, name) for index, item in enumerate(value)]
        match = PLACEHOLDER.match(value) if isinstance(value, str) else None
        if match is None:
            return value
        parameter = match.group(1)
        if parameter not in values:
            where = ("blocks", name, "layers", *path[len(BODY) :])
            hint = suggest(parameter, values).replace(" '", " '$") or f"; its parameters: {', '.join(values) or 'none'} (declare it under params)"
            self.report(where, Code.UNKNOWN_PARAMETER, f"${parameter} is not a parameter of block {name}{hint}")
            self.unknown.add(format_path(path))
            return value
        used.add(parameter)
        given = self.source.positions.get((*use_path, parameter)) if parameter in use.model_fields_set else None
        if given is not None:
            for key in [key for key in positions if key[: len(path)] == path]:
                positions.pop(key)
            positions[path] = given
        return values[parameter]

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
