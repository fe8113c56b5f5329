"""A spec's canonical form (what a run's ``spec.yaml`` holds): every default filled in, ``type`` first
in every entry, sections in a fixed order, and path settings resolved where asked."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from cnnbuild.contracts.values import is_spec_path, literal_values


def resolve_spec_paths(model: BaseModel, data: dict[str, Any], resolve: Any) -> None:
    """Replace, in ``data`` (``model`` dumped), each SpecPath value of ``model`` and its nested models with ``resolve(value)``."""
    for name, field in type(model).model_fields.items():
        if name in data:
            # ``Literal["none"] | SpecPath``: "none" is a keyword, not a path
            data[name] = _resolved(getattr(model, name), data[name], resolve, is_spec_path(field), literal_values(field.annotation))


def resolve_known_paths(data: dict[str, Any], resolve: Any) -> None:
    """Resolve, in a spec's dumped ``data``, the paths every spec has by name: ``data.path`` and
    ``data.test_path`` (also for a plugin data source that declares them as plain str), a
    ``data.cache`` file and ``output.dir``."""
    section = data.get("data", {})
    for key in ("path", "test_path"):
        if isinstance(section.get(key), str):
            section[key] = str(resolve(section[key]))
    if section.get("cache") not in (None, "memory", "none"):
        section["cache"] = str(resolve(section["cache"]))
    data["output"]["dir"] = str(resolve(data["output"]["dir"]))


def _resolved(value: Any, dumped: Any, resolve: Any, path: bool, keywords: set[Any]) -> Any:
    """``dumped`` with the path strings in ``value`` (a field's value, or an item of it) resolved."""
    if isinstance(value, BaseModel) and isinstance(dumped, dict):
        resolve_spec_paths(value, dumped, resolve)
    elif path and isinstance(value, str) and value not in keywords:
        return str(resolve(value))
    elif isinstance(value, dict) and isinstance(dumped, dict):  # dumped keys are JSON strings: pair them by position
        return {key: _resolved(item, item_dumped, resolve, path, keywords) for (_, item), (key, item_dumped) in zip(value.items(), dumped.items(), strict=True)}
    elif isinstance(value, (list, tuple)) and isinstance(dumped, list):
        return [_resolved(item, item_dumped, resolve, path, keywords) for item, item_dumped in zip(value, dumped, strict=True)]
    return dumped


def canonical_order(value: Any) -> Any:
    if isinstance(value, dict):
        ordered = {"type": value["type"]} if "type" in value else {}
        ordered.update((k, canonical_order(v)) for k, v in value.items() if k != "type")
        return ordered
    if isinstance(value, list):
        return [canonical_order(v) for v in value]
    return value
