"""Turn the shorthands people type into the canonical ``{type: ..., params...}`` form.

Positions move with the values, so errors still point at what the user wrote.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cnnbuild.contracts.values import nested_augmentation_fields
from cnnbuild.plugins.kinds import uses
from cnnbuild.spec.graph.entries import CONTAINERS
from cnnbuild.spec.yaml_source import PathKey, Position, SpecSource

if TYPE_CHECKING:
    from cnnbuild.plugins.registry import Registry


def _entry(item: Any, aliases: dict[str, str]) -> tuple[Any, str | None]:
    """The canonical entry, and the shorthand key it came from (if any)."""
    if isinstance(item, str):
        return {"type": aliases.get(item, item)}, None
    if isinstance(item, dict) and len(item) == 1 and "type" not in item:
        (key, value), = item.items()
        if isinstance(key, str) and (value is None or isinstance(value, dict)) and "type" not in (value or {}):
            return {"type": aliases.get(key, key), **(value or {})}, key
    if isinstance(item, dict) and isinstance(item.get("type"), str):
        return {**item, "type": aliases.get(item["type"], item["type"])}, None
    return item, None


def _move(positions: dict[PathKey, Position], old: PathKey, new: PathKey) -> None:
    for path in [p for p in positions if p[: len(old)] == old]:
        positions[new + path[len(old) :]] = positions.pop(path)


def _one(item: Any, item_path: PathKey, aliases: dict[str, str], positions: dict[PathKey, Position]) -> Any:
    """One entry in canonical form, its positions moved to match."""
    entry, shorthand_key = _entry(item, aliases)
    if shorthand_key is not None:
        key_position = positions.get(item_path + (shorthand_key,))
        _move(positions, item_path + (shorthand_key,), item_path + ("__params__",))
        for path in [p for p in positions if p[: len(item_path) + 1] == item_path + ("__params__",)]:
            rest = path[len(item_path) + 1 :]
            position = positions.pop(path)
            if rest:
                positions[item_path + rest] = position
        if key_position is not None:
            line, column = key_position.key_line or key_position.line, key_position.key_column or key_position.column
            positions[item_path + ("type",)] = Position(line, column, line, column)
    elif isinstance(item, str) and item_path in positions:
        positions[item_path + ("type",)] = positions[item_path]
    return entry


def _entries(items: list[Any], list_path: PathKey, table: dict[str, Any], aliases: dict[str, str], positions: dict[PathKey, Position]) -> list[Any]:
    """The entries of one list in canonical form (and those of lists inside them: a Pipeline's
    ``layers``, a Residual's ``layers`` and ``shortcut``, a Parallel's ``branches`` and ``merge``)."""
    entries = []
    for index, item in enumerate(items):
        item_path = list_path + (index,)
        entry = _one(item, item_path, aliases, positions)
        kind = entry.get("type") if isinstance(entry, dict) and isinstance(entry.get("type"), str) else None
        registration = table.get(kind) if kind else None
        for name in nested_augmentation_fields(registration.params) if registration is not None else ():
            if isinstance(entry.get(name), list):
                entry = {**entry, name: _entries(entry[name], item_path + (name,), table, aliases, positions)}
        for name, holds in CONTAINERS.get(kind, {}).items() if kind else ():
            value = entry.get(name)
            if holds == "list" and isinstance(value, list):
                entry = {**entry, name: _entries(value, item_path + (name,), table, aliases, positions)}
            elif holds == "lists" and isinstance(value, list):
                branches = [_entries(branch, item_path + (name, b), table, aliases, positions) if isinstance(branch, list) else branch for b, branch in enumerate(value)]
                entry = {**entry, name: branches}
            elif holds == "entry" and value is not None:
                entry = {**entry, name: _one(value, item_path + (name,), aliases, positions)}
        entries.append(entry)
    return entries


def _blocks(data: dict[str, Any], table: dict[str, Any], aliases: dict[str, str], positions: dict[PathKey, Position]) -> None:
    """Each block's ``layers`` in canonical form, like ``model.layers``."""
    blocks = data.get("blocks")
    if not isinstance(blocks, dict):
        return
    normalized = {}
    for name, block in blocks.items():
        if isinstance(block, dict) and isinstance(block.get("layers"), list):
            block = {**block, "layers": _entries(block["layers"], ("blocks", name, "layers"), table, aliases, positions)}
        normalized[name] = block
    data["blocks"] = normalized


def normalize(source: SpecSource, registry: Registry, default_name: str | None = None) -> SpecSource:
    """A new :class:`SpecSource` with every entry list (of every registered kind) in canonical form."""
    data = source.data
    if not isinstance(data, dict):
        return source
    data = dict(data)
    positions = dict(source.positions)
    if "name" not in data and default_name:
        data["name"] = default_name
    for kind, use in uses():
        if not use.many:
            continue
        list_path, aliases = use.path, registry.aliases(kind)
        parent: Any = data
        for part in list_path[:-1]:
            parent = parent.get(part) if isinstance(parent, dict) else None
        if not isinstance(parent, dict) or not isinstance(parent.get(list_path[-1]), list):
            continue
        items = _entries(parent[list_path[-1]], list_path, registry.table(kind), aliases, positions)
        # rebuild the parents so the caller's data stays untouched
        if len(list_path) == 1:
            data[list_path[0]] = items
        else:
            data[list_path[0]] = {**data[list_path[0]], list_path[1]: items}
    _blocks(data, registry.table("layer"), registry.aliases("layer"), positions)
    return SpecSource(data, source.filename, positions, source.overrides, source.text)
