"""The text ``cnnbuild diff`` prints for a :class:`~cnnbuild.spec.diff.SpecDiff`."""

from __future__ import annotations

import json
from typing import Any

from cnnbuild.spec.diff import LAYER_SECTIONS, MISSING, LayerChange, SpecDiff


def show(value: Any) -> str:
    """A setting's value as a user would write it in YAML-ish JSON."""
    if value is MISSING:
        return "(not set)"
    return json.dumps(value, default=str)


def _shape(shape: tuple[int | None, ...] | None) -> str:
    if shape is None:
        return "?"
    return "(" + ", ".join("?" if dim is None else str(dim) for dim in shape) + (",)" if len(shape) == 1 else ")")


def _count(count: int | None) -> str:
    return "?" if count is None else f"{count:,}"


def _settings(settings: dict[str, Any]) -> str:
    return ", ".join(f"{key} {show(value)}" for key, value in settings.items())


def _before_after(change: LayerChange) -> str:
    shape = f"output {_shape(change.shape_a)}" if change.shape_a == change.shape_b else f"output {_shape(change.shape_a)} -> {_shape(change.shape_b)}"
    params = f"params {_count(change.count_a)}" if change.count_a == change.count_b else f"params {_count(change.count_a)} -> {_count(change.count_b)}"
    return f"{shape}, {params}"


def _note(change: LayerChange) -> list[str]:
    return [f"      added by cnnbuild: {change.note}"] if change.note else []


def format_change(change: LayerChange) -> list[str]:
    """The lines ``cnnbuild diff`` prints for one layer change (a graph's layers by name)."""
    a = change.name_a if change.name_a is not None else change.index_a
    b = change.name_b if change.name_b is not None else change.index_b
    if change.kind == "added":
        what = f" ({_settings(change.settings)})" if change.settings else ""
        return [f"  + added    [{b}] {change.type_b}{what}", f"      output {_shape(change.shape_b)}, params {_count(change.count_b)}", *_note(change)]
    if change.kind == "removed":
        what = f" ({_settings(change.settings)})" if change.settings else ""
        return [f"  - removed  [{a}] {change.type_a}{what}", f"      was: output {_shape(change.shape_a)}, params {_count(change.count_a)}"]
    where = f"[{a}]" if a == b else f"[{a} -> {b}]"
    if change.kind == "affected":
        return [f"  ~ affected {where} {change.type_b} (same parameters; follows from the changes above)", f"      {_before_after(change)}"]
    if change.type_a != change.type_b:
        what = f" ({_settings(change.settings)})" if change.settings else ""
        head = f"  ~ replaced {where} {change.type_a} -> {change.type_b}{what}"
    else:
        head = f"  ~ changed  {where} {change.type_b}: " + ", ".join(f"{name} {show(before)} -> {show(after)}" for name, before, after in change.params)
    return [head, f"      {_before_after(change)}", *_note(change)]


def format_diff(diff: SpecDiff) -> str:
    """The diff as text: layers by section, totals, then settings."""
    if diff.same:
        return f"{diff.name_a} and {diff.name_b}: no differences"
    lines = [f"--- {diff.name_a}", f"+++ {diff.name_b}"]
    for section in LAYER_SECTIONS:
        changes = [c for c in diff.layers if c.section == section]
        if changes:
            lines.append(f"{section}:")
            for change in changes:
                lines += format_change(change)
    if diff.total_a != diff.total_b or diff.output_a != diff.output_b:
        delta = f" ({diff.total_b - diff.total_a:+,})" if diff.total_a is not None and diff.total_b is not None else ""
        lines.append(f"parameters: {_count(diff.total_a)} -> {_count(diff.total_b)}{delta}")
        lines.append(f"model output: {_shape(diff.output_a)} -> {_shape(diff.output_b)}")
    elif diff.layers:
        lines.append(f"parameters: {_count(diff.total_a)} (unchanged); model output {_shape(diff.output_a)}")
    if diff.settings:
        lines.append("settings:")
        lines += [f"  {s.path}: {show(s.before)} -> {show(s.after)}" for s in diff.settings]
    return "\n".join(lines)
