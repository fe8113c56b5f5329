"""The text ``cnnbuild diff`` prints for a :class:`~cnnbuild.spec.diff.SpecDiff`."""

from __future__ import annotations

import json
import textwrap
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
    if change.kind == "unknown":
        return [f"  ? unknown  {where} {change.type_b} (same parameters; its size is not known without the class count, so the changes above may change it: pass --num-classes N)"]
    if change.kind == "affected":
        return [f"  ~ affected {where} {change.type_b} (same parameters; follows from the changes above)", f"      {_before_after(change)}"]
    if change.type_a != change.type_b:
        what = f" ({_settings(change.settings)})" if change.settings else ""
        head = f"  ~ replaced {where} {change.type_a} -> {change.type_b}{what}"
    else:
        head = f"  ~ changed  {where} {change.type_b}: " + ", ".join(f"{name} {show(before)} -> {show(after)}" for name, before, after in change.params)
    return [head, f"      {_before_after(change)}", *_note(change)]


def _same_change(change: LayerChange) -> str | None:
    """What a parameter change made (a key for grouping: one edit of a block changes every use of
    it the same way, whatever each use's size), or None."""
    if change.kind != "changed" or change.type_a != change.type_b:
        return None
    return json.dumps([change.type_b, [list(param) for param in change.params]], default=str)


def _grouped(changes: list[LayerChange]) -> list[list[LayerChange]]:
    """The changes in order, those making the same parameter change each in one group (at its first's place)."""
    groups: dict[Any, list[LayerChange]] = {}
    for position, change in enumerate(changes):
        groups.setdefault(_same_change(change) or position, []).append(change)
    return list(groups.values())


def _format_group(group: list[LayerChange]) -> list[str]:
    if len(group) == 1:
        return format_change(group[0])
    first = group[0]
    what = ", ".join(f"{name} {show(before)} -> {show(after)}" for name, before, after in first.params)
    names = [f"[{c.name_b if c.name_b is not None else c.index_b}]" for c in group]
    if all(c.shape_a == c.shape_b and c.count_a == c.count_b and c.count_a is not None and c.shape_a is not None for c in group):
        head = f"  ~ changed  {len(group)} {first.type_b} layers: {what} (the same change in each; outputs and params unchanged)"
        return [head, textwrap.fill(", ".join(names), width=100, initial_indent=" " * 6, subsequent_indent=" " * 6, break_on_hyphens=False)]
    head = f"  ~ changed  {len(group)} {first.type_b} layers: {what} (the same change in each)"
    return [head, *(f"      {name} {_before_after(change)}" for name, change in zip(names, group, strict=True))]


def _known_delta(change: LayerChange) -> int | None:
    """How much ``change`` changes the parameter count, or None when not known."""
    if change.kind == "added":
        return change.count_b
    if change.kind == "removed":
        return None if change.count_a is None else -change.count_a
    if change.count_a is None or change.count_b is None:
        return None
    return change.count_b - change.count_a


def _totals(diff: SpecDiff) -> list[str]:
    if diff.total_a is None or diff.total_b is None:
        model = [change for change in diff.layers if change.section == "model.layers"]
        if not model:
            return []
        deltas = [_known_delta(change) for change in model]
        if None not in deltas and sum(deltas) == 0:  # type: ignore[arg-type]
            return ["parameters: unchanged by these changes (the total is not known without the class count: pass --num-classes N)"]
        known = sum(delta for delta in deltas if delta is not None)
        where = f"; the layers whose size is known change it by {known:+,}" if known else ""
        lines = [f"parameters: not known without the class count (units: auto): pass --num-classes N{where}"]
        return lines + ([f"model output: {_shape(diff.output_a)} -> {_shape(diff.output_b)}"] if diff.output_a != diff.output_b else [])
    if diff.total_a != diff.total_b or diff.output_a != diff.output_b:
        return [f"parameters: {_count(diff.total_a)} -> {_count(diff.total_b)} ({diff.total_b - diff.total_a:+,})", f"model output: {_shape(diff.output_a)} -> {_shape(diff.output_b)}"]
    return [f"parameters: {_count(diff.total_a)} (unchanged); model output {_shape(diff.output_a)}"] if diff.layers else []


def format_diff(diff: SpecDiff) -> str:
    """The diff as text: layers by section, totals, then settings."""
    if diff.same:
        return f"{diff.name_a} and {diff.name_b}: no differences"
    lines = [f"--- {diff.name_a}", f"+++ {diff.name_b}"]
    for section in LAYER_SECTIONS:
        changes = [c for c in diff.layers if c.section == section]
        if changes:
            lines.append(f"{section}:")
            for group in _grouped(changes):
                lines += _format_group(group)
    lines += _totals(diff)
    if diff.settings:
        lines.append("settings:")
        lines += [f"  {s.path}: {show(s.before)} -> {show(s.after)}" for s in diff.settings]
    return "\n".join(lines)
