"""The :class:`~cnnbuild.spec.document.Spec` model of a registry: every place that holds registered
entries typed as the union of the registry's types (and the spec's blocks), narrowed, when asked,
to the types a spec writes so that validate builds schemas only for those."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Union

from pydantic import BaseModel, Field, create_model

from cnnbuild.contracts.values import nested_augmentation_fields
from cnnbuild.plugins.kinds import Use, uses
from cnnbuild.spec.document import SECTION_BASES, Spec
from cnnbuild.spec.graph.entries import BlockSignature, graph_entry, list_of

if TYPE_CHECKING:
    from cnnbuild.plugins.registry import Registry


def _union(models: list[type]) -> Any:
    if not models:
        return dict  # nothing registered: any mapping, reported when used
    if len(models) == 1:
        return models[0]
    return Annotated[Union[tuple(models)], Field(discriminator="type")]  # noqa: UP007


def _with_nested_entries(registry: Registry, params: type[BaseModel]) -> type[BaseModel]:
    """``params`` with each ``AugmentationList`` field typed as a list of the registered augmentation
    entries (a Pipeline's ``layers``), so they are validated like the ``augmentation`` list."""
    fields = nested_augmentation_fields(params)
    if not fields:
        return params
    cache = registry.derived.setdefault("nested_entries", {})
    if params not in cache:
        # a Pipeline inside a Pipeline stays untyped here (the checks refuse it), under a name of its own for the JSON Schema
        inner = _union([create_model(f"{r.params.__name__}_nested", __base__=r.params, __module__=r.params.__module__) if nested_augmentation_fields(r.params) else r.params for r in registry.layers.values() if r.augmentation])
        nested: dict[str, Any] = {name: (list_of(inner), Field(..., min_length=1, description=params.model_fields[name].description)) for name in fields}
        cache[params] = create_model(params.__name__, __base__=params, __module__=params.__module__, **nested)
    return cache[params]


def _field(registry: Registry, kind: Any, use: Use, blocks: BlockSignature, types: frozenset[str] | None) -> tuple[Any, Any]:
    """The annotation and pydantic field of one place in the spec that holds registered entries
    (``types``: only the registered types of these names, when one of them is registered here)."""
    accepted = [r for r in registry.table(kind).values() if use.accepts is None or use.accepts(r)]
    if types is not None and any(r.name in types for r in accepted):
        accepted = [r for r in accepted if r.name in types]
    models = [_with_nested_entries(registry, r.params) for r in accepted]
    entry = graph_entry(registry, models, blocks, types) if use.graph else _union(models)
    if not use.many:
        return entry, Field(... if use.required else None, description=use.description)
    if use.required:
        return list_of(entry), Field(..., min_length=1, description=use.description)
    return list_of(entry), Field(default_factory=list, description=use.description)


def spec_model(registry: Registry, blocks: BlockSignature = (), types: frozenset[str] | None = None) -> type[Spec]:
    """The :class:`Spec` subclass whose entries are the registry's types and uses of ``blocks``
    (kept with the registry until it changes).

    ``types`` narrows each place that holds entries to the registered types of those names (all of
    them where none is named), so a spec is validated without building a schema for every type
    every plugin registers; a spec the narrow model accepts, the whole one accepts alike.
    """
    key = (blocks, types)
    cached = registry.derived.setdefault("spec_model", {}).get(key)
    if cached is not None:
        return cached
    top: dict[str, Any] = {}
    sections: dict[str, dict[str, Any]] = {}
    required_sections: set[str] = set()
    for kind, use in uses():
        if len(use.path) == 1:
            top[use.path[0]] = _field(registry, kind, use, blocks, types)
        elif len(use.path) == 2 and use.path[0] in SECTION_BASES:
            sections.setdefault(use.path[0], {})[use.path[1]] = _field(registry, kind, use, blocks, types)
            if use.required:
                required_sections.add(use.path[0])
        else:
            raise NotImplementedError(f"entries at {'.'.join(use.path)}: only top-level keys and keys of {sorted(SECTION_BASES)} can hold entries")
    for name, fields in sections.items():
        section = create_model(name.capitalize(), __base__=SECTION_BASES[name], **fields)
        top[name] = (section, ...) if name in required_sections else (section, Field(default_factory=section))
    model = create_model("Spec", __base__=Spec, **top)
    registry.derived["spec_model"][key] = model
    return model


def _type_names(data: Any) -> frozenset[str]:
    """Every ``type`` value written in ``data``, at any depth."""
    found: set[str] = set()
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            if isinstance(value.get("type"), str):
                found.add(value["type"])
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return frozenset(found)
