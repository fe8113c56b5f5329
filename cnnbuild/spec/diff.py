"""``cnnbuild diff``: what changed between two specs, layer by layer, with shapes and parameter counts.

Layers are aligned by type (as ``difflib`` aligns lines), so an inserted layer shows as one
addition rather than a change to every layer after it. Shapes and parameter counts come from
the pure-Python inference in :mod:`cnnbuild.spec.shapes`: no TensorFlow is imported.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cnnbuild.spec.diff_settings import MISSING, SettingChange, setting_changes
from cnnbuild.spec.shapes import LayerRow, ShapeProblem, infer_layers

if TYPE_CHECKING:
    from cnnbuild.plugins.registry import Registry
    from cnnbuild.spec.document import Spec

#: Sections whose entries are diffed as layers; everything else is diffed as settings.
LAYER_SECTIONS = ("augmentation", "model.layers")


@dataclass(frozen=True)
class LayerChange:
    """One layer added, removed, changed (parameters or type), or affected by a change above it."""

    kind: str  # added | removed | changed | affected | unknown (same parameters, its size not known before the class count is)
    section: str
    index_a: int | None
    index_b: int | None
    type_a: str | None
    type_b: str | None
    params: tuple[tuple[str, Any, Any], ...] = ()  # (name, before, after)
    settings: dict[str, Any] = field(default_factory=dict)  # non-default parameters of an added/removed layer
    shape_a: tuple[int | None, ...] | None = None
    shape_b: tuple[int | None, ...] | None = None
    count_a: int | None = None
    count_b: int | None = None
    #: in a graph: the layers' names (a block's or branch's layers are named by where they sit), and why cnnbuild added one
    name_a: str | None = None
    name_b: str | None = None
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "section": self.section, "index_a": self.index_a, "index_b": self.index_b,
            "type_a": self.type_a, "type_b": self.type_b,
            "params": [{"name": n, "before": None if a is MISSING else a, "after": None if b is MISSING else b} for n, a, b in self.params],
            "settings": self.settings,
            "output_shape_a": list(self.shape_a) if self.shape_a else None, "output_shape_b": list(self.shape_b) if self.shape_b else None,
            "params_a": self.count_a, "params_b": self.count_b, "name_a": self.name_a, "name_b": self.name_b, "note": self.note,
        }  # fmt: skip


@dataclass
class SpecDiff:
    """Layer changes, setting changes, and the totals before and after."""

    name_a: str
    name_b: str
    layers: list[LayerChange]
    settings: list[SettingChange]
    total_a: int | None
    total_b: int | None
    output_a: tuple[int | None, ...] | None
    output_b: tuple[int | None, ...] | None

    @property
    def same(self) -> bool:
        return not self.layers and not self.settings

    def as_dict(self) -> dict[str, Any]:
        return {
            "a": self.name_a,
            "b": self.name_b,
            "layers": [change.as_dict() for change in self.layers],
            "settings": [{"path": s.path, "before": None if s.before is MISSING else s.before, "after": None if s.after is MISSING else s.after} for s in self.settings],
            "total_params": {"a": self.total_a, "b": self.total_b},
            "output_shape": {"a": list(self.output_a) if self.output_a else None, "b": list(self.output_b) if self.output_b else None},
        }

    def text(self) -> str:
        from cnnbuild.spec.diff_text import format_diff

        return format_diff(self)


def _params(entry: Any) -> dict[str, Any]:
    return {key: value for key, value in entry.model_dump(mode="json").items() if key != "type"}


def _non_default(entry: Any) -> dict[str, Any]:
    return {key: value for key, value in entry.model_dump(mode="json", exclude_defaults=True).items() if key != "type"}


def _param_changes(a: dict[str, Any], b: dict[str, Any]) -> tuple[tuple[str, Any, Any], ...]:
    keys = list(a) + [key for key in b if key not in a]
    return tuple((key, a.get(key, MISSING), b.get(key, MISSING)) for key in keys if a.get(key, MISSING) != b.get(key, MISSING))


@dataclass
class _Side:
    """One spec's layers of a section as the diff aligns them: entries, their shape rows (None
    where unknown), and in a graph their names and notes."""

    entries: list[Any]
    rows: list[LayerRow | None]
    names: list[str | None]
    notes: list[str]
    #: in a graph: each entry's ``inputs`` as written (None: the entry before it)
    inputs: list[Any] = field(default_factory=list)


def _side(spec: Spec, registry: Registry, section: str, num_classes: int | None, graph: bool) -> _Side:
    from cnnbuild.spec.labels import binary_labels

    if section == "augmentation" or not graph:
        entries = spec.augmentation if section == "augmentation" else spec.model.layers
        options: dict[str, Any] = {} if section == "augmentation" else {"num_classes": num_classes, "binary": binary_labels(spec, num_classes)}
        try:
            rows: list[LayerRow | None] = list(infer_layers(entries, spec.data.input_shape, registry, section=section, **options))
        except ShapeProblem:
            rows = [None] * len(entries)
        return _Side(list(entries), rows, [None] * len(entries), [""] * len(entries), [None] * len(entries))
    from cnnbuild.spec.graph.infer import infer_graph
    from cnnbuild.spec.graph.nodes import PROJECTION, projection_entry

    try:
        by_name = {row.name: row for row in infer_graph(spec.graph, spec.data.input_shape, registry, num_classes=num_classes, binary=binary_labels(spec, num_classes))}
    except ShapeProblem:
        by_name = {}
    side = _Side([], [], [], [])
    for node in spec.graph.nodes:
        row = by_name.get(node.id)
        entry = node.entry
        if node.type == PROJECTION:
            if row is None or row.input_shape is None or row.output_shape is None:
                continue  # the input itself, or not known before building
            entry = projection_entry(row.input_shape, row.output_shape, registry)
        side.entries.append(entry)
        side.rows.append(row)
        side.names.append(node.id)
        side.notes.append(row.note if row else "")
        side.inputs.append(_written_inputs(spec, node.path))
    return side


def _written_inputs(spec: Spec, path: tuple[Any, ...]) -> Any:
    """The ``inputs`` of the entry at ``path`` as the spec writes them (a container's for the
    nodes it adds): rewiring a graph changes no layer's parameters, only these."""
    value: Any = spec
    for key in path:
        try:
            value = value[key] if isinstance(key, int) or isinstance(value, dict) else getattr(value, key)
        except (IndexError, KeyError, AttributeError, TypeError):
            return None
    inputs = value.get("inputs") if isinstance(value, dict) else getattr(value, "inputs", None)
    return [inputs] if isinstance(inputs, str) else inputs


def _known(shape: tuple[int | None, ...] | None, count: int | None) -> bool:
    return count is not None and shape is not None and None not in shape


def _section_changes(section: str, a: _Side, b: _Side, classes_may_differ: bool = False) -> list[LayerChange]:
    """The changes of one section, in order. A layer with the same parameters whose size is not
    known (``units: auto`` before the class count is) is listed as ``unknown`` after any change
    above it, or when the class count may differ: it may have changed, and is never called unchanged."""
    entries_a, entries_b, rows_a, rows_b = a.entries, b.entries, a.rows, b.rows

    def facts(rows: list[LayerRow | None], index: int) -> tuple[Any, Any]:
        row = rows[index] if index < len(rows) else None
        return (row.output_shape, row.params) if row else (None, None)

    def removed(i: int) -> LayerChange:
        shape, count = facts(rows_a, i)
        return LayerChange("removed", section, i, None, entries_a[i].type, None, settings=_non_default(entries_a[i]), shape_a=shape, count_a=count, name_a=a.names[i], note=a.notes[i])

    def added(j: int) -> LayerChange:
        shape, count = facts(rows_b, j)
        return LayerChange("added", section, None, j, None, entries_b[j].type, settings=_non_default(entries_b[j]), shape_b=shape, count_b=count, name_b=b.names[j], note=b.notes[j])

    def paired(i: int, j: int) -> LayerChange | None:
        shape_a, count_a = facts(rows_a, i)
        shape_b, count_b = facts(rows_b, j)
        ea, eb = entries_a[i], entries_b[j]
        changes = _param_changes(_params(ea), _params(eb))
        if a.inputs[i] != b.inputs[j]:
            changes = (*changes, ("inputs", a.inputs[i] or "(the entry before)", b.inputs[j] or "(the entry before)"))
        if ea.type == eb.type and not changes:
            if shape_a == shape_b and count_a == count_b:
                if _known(shape_a, count_a) and _known(shape_b, count_b):
                    return None
                kind = "unknown"
            else:
                kind = "affected"
        else:
            kind = "changed"
        settings = _non_default(eb) if ea.type != eb.type else {}
        return LayerChange(kind, section, i, j, ea.type, eb.type, changes if ea.type == eb.type else (), settings, shape_a, shape_b, count_a, count_b, a.names[i], b.names[j], b.notes[j])

    def align(tag: str, a0: int, a1: int, b0: int, b1: int) -> list[LayerChange | None]:
        if tag == "equal":
            return [paired(a0 + k, b0 + k) for k in range(a1 - a0)]
        if tag == "delete":
            return [removed(i) for i in range(a0, a1)]
        if tag == "insert":
            return [added(j) for j in range(b0, b1)]
        # replace: pair one for one where the layers are alike, the rest are removals and additions
        common = min(a1 - a0, b1 - b0)
        result: list[LayerChange | None] = []
        for k in range(common):
            result += [paired(a0 + k, b0 + k)] if alike(entries_a[a0 + k], entries_b[b0 + k]) else [removed(a0 + k), added(b0 + k)]
        return result + [removed(i) for i in range(a0 + common, a1)] + [added(j) for j in range(b0 + common, b1)]

    def alike(a: Any, b: Any) -> bool:
        """Most parameter names shared (MaxPooling2D and AveragePooling2D, not Dropout and Dense)."""
        keys_a, keys_b = set(_params(a)), set(_params(b))
        return a.type == b.type or len(keys_a & keys_b) * 2 >= len(keys_a | keys_b) > 0

    def signature(entry: Any) -> str:
        return json.dumps(entry.model_dump(mode="json"), sort_keys=True)

    # First align whole entries, then, inside each differing stretch, align by type so that a
    # layer whose parameters changed pairs with its old self.
    changes: list[LayerChange | None] = []
    outer = difflib.SequenceMatcher(None, [signature(e) for e in entries_a], [signature(e) for e in entries_b], autojunk=False)
    for tag, a0, a1, b0, b1 in outer.get_opcodes():
        if tag != "replace":
            changes += align(tag, a0, a1, b0, b1)
            continue
        inner = difflib.SequenceMatcher(None, [e.type for e in entries_a[a0:a1]], [e.type for e in entries_b[b0:b1]], autojunk=False)
        for inner_tag, i0, i1, j0, j1 in inner.get_opcodes():
            changes += align(inner_tag, a0 + i0, a0 + i1, b0 + j0, b0 + j1)
    listed: list[LayerChange] = []
    resized_above = classes_may_differ  # whether a change above may change the sizes below it
    for change in changes:
        if change is not None and (change.kind != "unknown" or resized_above):
            listed.append(change)
            resized_above = resized_above or change.kind in ("added", "removed") or change.shape_a != change.shape_b or not _known(change.shape_b, change.count_b)
    return listed


def _total(rows: list[LayerRow | None]) -> int | None:
    counts = [row.params for row in rows if row is not None and row.params is not None]
    return sum(counts) if len(counts) == len(rows) else None


def diff_specs(a: Spec, b: Spec, registry: Registry | None = None, *, num_classes: int | None = None) -> SpecDiff:
    """Compare two validated specs. ``num_classes`` fills ``units: auto`` where the data source
    cannot tell its classes without loading the data."""
    from cnnbuild.spec.labels import model_class_count

    def classes(spec: Spec) -> int | None:
        return model_class_count(spec, num_classes, registry or spec.registry, required=False)  # None: its units: auto layers are listed as unknown

    layers: list[LayerChange] = []
    totals: dict[str, Any] = {}
    outputs: dict[str, Any] = {}
    graph = not (a.graph.chain and b.graph.chain)
    settings = setting_changes(a, b)
    # without the class count, data settings that changed may change it (another folder, other class_names)
    classes_may_differ = None in (classes(a), classes(b)) and any(change.path.split(".")[0] == "data" for change in settings)
    for section in LAYER_SECTIONS:
        side_a, side_b = _side(a, registry or a.registry, section, classes(a), graph), _side(b, registry or b.registry, section, classes(b), graph)
        layers += _section_changes(section, side_a, side_b, classes_may_differ and section == "model.layers")
        rows_a, rows_b = side_a.rows, side_b.rows
        if section == "model.layers":
            totals = {"a": _total(rows_a), "b": _total(rows_b)}
            outputs = {"a": rows_a[-1].output_shape if rows_a and rows_a[-1] else None, "b": rows_b[-1].output_shape if rows_b and rows_b[-1] else None}
    return SpecDiff(a.name, b.name, layers, settings, totals["a"], totals["b"], outputs["a"], outputs["b"])
