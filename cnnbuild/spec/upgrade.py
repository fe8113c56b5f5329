"""Read a spec written for an older format as the current one: each change of
:mod:`cnnbuild.spec.format_history` after the spec's ``format_version`` is applied, with a warning
at the line the spec spells it, positions moving with the values.

A spec without ``format_version`` is read as the current format; where it holds what only an older
format took, the errors it then gets come with a note naming that format and ``cnnbuild migrate``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from cnnbuild.contracts.release import installed_version
from cnnbuild.spec.codes import Code
from cnnbuild.spec.errors import SpecError, SpecIssue
from cnnbuild.spec.format_history import CURRENT, FORMATS, KEY, Found, MovedEntry, changes_after
from cnnbuild.spec.yaml_source import PathKey, SpecSource


@dataclass
class Upgraded:
    """The source read as the current format; ``warnings`` for what was read differently, ``notes`` to add to its errors."""

    source: SpecSource
    version: int
    warnings: list[SpecIssue] = field(default_factory=list)
    notes: list[SpecIssue] = field(default_factory=list)
    #: each change applied, where the spec had it (file, line, column), in the order applied
    applied: list[tuple[Found, tuple[str, int, int]]] = field(default_factory=list)


def declared_version(source: SpecSource) -> int | None:
    """The spec's ``format_version`` (None when absent); SpecError for one that is not a format this release reads."""
    value = source.data.get(KEY) if isinstance(source.data, dict) else None
    if value is None:
        return None
    where, line, column = source.locate((KEY,))
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise SpecError([SpecIssue(where, line, column, KEY, f"must be a spec format number (1 to {CURRENT}), got {value!r}", code=Code.INVALID_VALUE)])
    if value > CURRENT:
        raise SpecError([SpecIssue(where, line, column, KEY, f"spec format {value} is newer than this cnnbuild ({installed_version()}) reads (1 to {CURRENT}): upgrade cnnbuild (pip install --upgrade cnnbuild)", code=Code.UNKNOWN_FORMAT_VERSION)])
    return value


def upgrade(source: SpecSource, assumed: int | None = None) -> Upgraded:
    """``source`` read as the current format. ``assumed`` is the format of a spec that does not say
    (a run folder's spec.yaml from before specs recorded it); without either, the current one."""
    declared = declared_version(source)
    version = declared if declared is not None else assumed
    if version is None:
        return Upgraded(source, CURRENT, notes=_notes(source))
    if version >= CURRENT:
        return Upgraded(source, version)
    data = copy.deepcopy(source.data)
    positions, overrides = dict(source.positions), dict(source.overrides)
    upgraded = Upgraded(source, version)
    for change in changes_after(version):
        found_all = change.find(data)
        places = [SpecSource(data, source.filename, positions, overrides).locate(found.old, key=True) for found in found_all]  # before anything moves
        for found, (where, line, column) in zip(found_all, places, strict=True):
            change.apply(data, found)
            remap = _moved_entry(change, found) if isinstance(change, MovedEntry) else _renamed(found)
            positions, overrides = _remapped(positions, remap), _remapped(overrides, remap)
            upgraded.applied.append((found, (where, line, column)))
            upgraded.warnings.append(SpecIssue(where, line, column, found.path, f"{found.description} (written for spec format {version}; cnnbuild migrate rewrites it)", "warning", code=Code.OLD_SPELLING))
    upgraded.source = SpecSource(data, source.filename, positions, overrides)
    return upgraded


def _notes(source: SpecSource) -> list[SpecIssue]:
    """For a spec that does not say its format: what in it an older format spelled so, to add to the errors it gets."""
    notes = []
    for change in changes_after(None):
        for found in change.find(source.data):
            where, line, column = source.locate(found.old, key=True)
            earlier = change.version - 1
            notes.append(SpecIssue(
                where, line, column, found.path,
                f"spec format {earlier} ({FORMATS[earlier]}) took this: {found.description}; add {KEY}: {earlier} to read it as then, "
                "or rewrite the spec with cnnbuild migrate",
                "note", code=Code.OLD_SPELLING,
            ))  # fmt: skip
    return notes


def _renamed(found: Found) -> Any:
    def remap(path: PathKey) -> PathKey:
        return found.new + path[len(found.old) :] if path[: len(found.old)] == found.old else path

    return remap


def _moved_entry(change: MovedEntry, found: Found) -> Any:
    """Paths after one entry left list ``change.old`` at its current index and joined ``change.new`` at its rank."""
    index, rank = MovedEntry.index_now(found), found.new[-1]
    old, new = change.old, change.new

    def remap(path: PathKey) -> PathKey:
        if path[: len(old)] == old and len(path) > len(old) and isinstance(path[len(old)], int):
            at = path[len(old)]
            if at == index:
                return (*new, rank, *path[len(old) + 1 :])
            return (*old, at - 1, *path[len(old) + 1 :]) if at > index else path
        if path[: len(new)] == new and len(path) > len(new) and isinstance(path[len(new)], int) and path[len(new)] >= rank:
            return (*new, path[len(new)] + 1, *path[len(new) + 1 :])
        return path

    return remap


def _remapped(table: dict[PathKey, Any], remap: Any) -> dict[PathKey, Any]:
    return {remap(path): value for path, value in table.items()}

