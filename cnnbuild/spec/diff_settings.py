"""The settings side of ``cnnbuild diff``: every section but the layers, as dotted paths to values."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cnnbuild.spec.document import Spec

__all__ = ["MISSING", "SettingChange", "flatten", "setting_changes"]


class _Missing:
    def __repr__(self) -> str:
        return "(not set)"


MISSING: Any = _Missing()


@dataclass(frozen=True)
class SettingChange:
    path: str
    before: Any
    after: Any


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted paths to scalar values (lists of scalars stay whole; lists of mappings get ``[i]``)."""
    if isinstance(value, dict):
        flat: dict[str, Any] = {}
        for key, item in value.items():
            flat.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return flat or {prefix: {}}
    if isinstance(value, list) and any(isinstance(item, dict) for item in value):
        flat = {}
        for index, item in enumerate(value):
            flat.update(flatten(item, f"{prefix}[{index}]"))
        return flat or {prefix: []}
    return {prefix: value}


def setting_changes(a: Spec, b: Spec) -> list[SettingChange]:
    def settings(spec: Spec) -> dict[str, Any]:
        data = spec.canonical()
        data.pop("augmentation", None)
        data.pop("blocks", None)  # what a block's layers are is compared layer by layer
        model = dict(data.pop("model", {}))
        model.pop("layers", None)
        if model:
            data["model"] = model
        return flatten(data)

    flat_a, flat_b = settings(a), settings(b)
    # a section of another type (a data source for another): one line with each side's type and
    # non-default values, not every default of the new type as "(not set) -> default"
    retyped = [section for section in ("data",) if flat_a.get(f"{section}.type") != flat_b.get(f"{section}.type")]
    for section in retyped:
        for flat in (flat_a, flat_b):
            for key in [key for key in flat if key.startswith(f"{section}.")]:
                del flat[key]
    keys = list(flat_a) + [key for key in flat_b if key not in flat_a]
    changed = [key for key in keys if flat_a.get(key, MISSING) != flat_b.get(key, MISSING)]
    # an empty list whose other side has items is shown by those items alone
    changed = [key for key in changed if not any(other.startswith(f"{key}[") for other in changed)]
    result: list[SettingChange] = [SettingChange(section, _entry_summary(a, section), _entry_summary(b, section)) for section in retyped]
    items_done: set[str] = set()
    for key in changed:
        match = re.match(r"^(.*?\[\d+\])\.", key)
        item = match.group(1) if match else None
        if item and (item in items_done or _one_sided(item, flat_a, flat_b)):
            # an entry only one spec has (a callback): one line with its type and non-default values
            if item not in items_done:
                items_done.add(item)
                result.append(SettingChange(item, _entry_summary(a, item), _entry_summary(b, item)))
            continue
        result.append(SettingChange(key, flat_a.get(key, MISSING), flat_b.get(key, MISSING)))
    return result


def _one_sided(item: str, flat_a: dict[str, Any], flat_b: dict[str, Any]) -> bool:
    in_a = any(key.startswith(f"{item}.") for key in flat_a)
    in_b = any(key.startswith(f"{item}.") for key in flat_b)
    return in_a != in_b


def _entry_summary(spec: Spec, item: str) -> Any:
    """``{type, non-default parameters}`` of the list entry at a path like ``train.callbacks[0]``, or MISSING."""
    value: Any = spec
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", item):
        try:
            value = value[int(index)] if index else getattr(value, name)
        except (IndexError, AttributeError):
            return MISSING
    if not hasattr(value, "model_dump"):
        return value
    summary = value.model_dump(mode="json", exclude_defaults=True)
    return {"type": summary.pop("type", getattr(value, "type", None)), **summary}
