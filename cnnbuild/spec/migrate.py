"""``cnnbuild migrate``: rewrite a spec file in the current format, its comments and layout kept.

The text is edited as a YAML document (ruamel.yaml's round trip), not rebuilt from data, so every
comment, blank line, quote and flow list stays where it was; indentation follows the file's own.
Each change of :mod:`cnnbuild.spec.format_history` after the spec's format is applied (for a spec
that does not say its format, each whose old form it holds: no current spec holds one), and
``format_version`` is set to the current format; a spec with nothing to change is left as it is.
The result is checked: read back, it must hold exactly the data the spec reader makes of the original.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnnbuild.errors import CnnbuildError
from cnnbuild.spec.format_history import CURRENT, KEY, changes_after
from cnnbuild.spec.upgrade import declared_version, upgrade
from cnnbuild.spec.yaml_source import SpecSource, parse_yaml, read_yaml


@dataclass
class Migration:
    """A spec file rewritten in the current format."""

    path: Path
    text: str  # the rewritten file (the original text when nothing changed)
    declared: int | None  # the format the file said it was written for
    #: what changed, one line each: ``FILE:LINE:COL: path: what``
    changes: list[str] = field(default_factory=list)

    @property
    def current(self) -> bool:
        """Whether the file was already in the current format: nothing changed."""
        return not self.changes


def migrate_file(path: str | Path) -> Migration:
    """The spec at ``path`` in the current format; SpecError when it cannot be read."""
    path = Path(path)
    source = read_yaml(path)  # positions, and every error of the file as validate reports it
    text = path.read_text(encoding="utf-8")  # line ends read as "\n"
    migration = migrate_text(text, source)
    if b"\r\n" in path.read_bytes():  # a file with Windows line ends keeps them: only the lines that change differ
        migration.text = migration.text.replace("\n", "\r\n")
    return migration


def migrate_text(text: str, source: SpecSource) -> Migration:
    """``text`` (parsed as ``source``) rewritten in the current format."""
    declared = declared_version(source)
    migration = Migration(Path(source.filename), text, declared)
    if not isinstance(source.data, dict) or declared == CURRENT:
        return migration
    document = _round_trip().load(text)
    for change in changes_after(declared):
        for found in change.find(document):  # the same changes, in the same order, as the reader applies to the data
            change.apply(document, found)
    read = upgrade(source, declared if declared is not None else 0)  # 0: every change whose old form the spec holds
    migration.changes = [f"{where}:{line}:{column}: {found.path}: {found.description}" for found, (where, line, column) in read.applied]
    if not migration.changes and declared is None:
        return migration  # nothing an older format spelled differently: already current, the file stays as it is
    if KEY in document:
        document[KEY] = CURRENT
    else:
        document.insert(0, KEY, CURRENT)
    line, column = _where(source, (KEY,)) if KEY in source.data else (1, 1)
    was = f"was {declared}" if declared is not None else "was not said: read as the current format"
    migration.changes.append(f"{source.filename}:{line}:{column}: {KEY}: set to {CURRENT} ({was})")
    migration.text = _dump(document, text)
    _check(migration, read.source.data)
    return migration


def _round_trip(text: str = "") -> Any:
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never fold a long line the author wrote on one
    mapping, offset = _indentation(text)
    yaml.indent(mapping=mapping, sequence=offset + 2, offset=offset)
    return yaml


def _indentation(text: str) -> tuple[int, int]:
    """The file's mapping indent and its block sequences' dash offset under their key (ruamel.yaml
    writes one style for the whole file: the file's own, so unchanged lines stay as they were)."""
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    mapping = offset = None
    for above, line in zip(lines, lines[1:], strict=False):
        parent, child = len(above) - len(above.lstrip()), len(line) - len(line.lstrip())
        if not above.rstrip().endswith(":") or above.lstrip().startswith("- ") or child < parent:
            continue
        if line.lstrip().startswith("- ") and offset is None:
            offset = child - parent
        elif not line.lstrip().startswith("- ") and child > parent and mapping is None:
            mapping = child - parent
    return mapping or 2, offset if offset is not None else 2


def _dump(document: Any, original: str) -> str:
    out = io.StringIO()
    _round_trip(original).dump(document, out)
    return out.getvalue()


def _where(source: SpecSource, path: tuple[Any, ...]) -> tuple[int, int]:
    position = source.position(path, key=True)
    return (position.line, position.column) if position else (1, 1)


def _check(migration: Migration, read: dict[str, Any]) -> None:
    """The rewritten text must read back as the data the spec reader makes of the original (``read``), saying the current format."""
    expected = {**read, KEY: CURRENT}
    got = parse_yaml(migration.text, str(migration.path)).data
    if got != expected:
        raise CnnbuildError(f"{migration.path}: cnnbuild migrate would change more than the format (a bug: please report this spec); the file is left as it is")
