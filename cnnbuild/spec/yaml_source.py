"""Read YAML with a safe loader and keep the line and column of every key and value."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cnnbuild.spec.codes import Code
from cnnbuild.spec.errors import SpecError, SpecIssue

# A spec is a few hundred nodes; these bounds stop alias bombs and runaway nesting early.
MAX_NODES = 100_000
MAX_DEPTH = 64
MAX_BYTES = 4 * 1024 * 1024

_PLAIN_TAGS = {
    "tag:yaml.org,2002:" + name
    for name in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp", "binary")
} | {"tag:yaml.org,2002:merge"}

PathKey = tuple[Any, ...]


@dataclass(frozen=True)
class Position:
    """1-based line and column of a value, and of its key when it sits in a mapping."""

    line: int
    column: int
    key_line: int | None = None
    key_column: int | None = None


@dataclass
class SpecSource:
    """Plain data read from YAML, with where each node came from."""

    data: Any
    filename: str
    positions: dict[PathKey, Position] = field(default_factory=dict)
    #: paths set by ``--set`` on the command line, with the option text that set them
    overrides: dict[PathKey, str] = field(default_factory=dict)
    #: the text as read, comments included ("" when the spec came from data, not a file)
    text: str = ""

    def position(self, path: PathKey, *, key: bool = False) -> Position | None:
        """Position of ``path``, or of its nearest ancestor when ``path`` is not in the file."""
        path = tuple(path)
        while True:
            found = self.positions.get(path)
            if found is not None:
                if key and found.key_line is not None:
                    return Position(found.key_line, found.key_column or 1)
                return found
            if not path:
                return None
            path = path[:-1]

    def locate(self, path: PathKey, *, key: bool = False) -> tuple[str, int, int]:
        """``(where, line, column)`` for an error at ``path``; overrides name their option."""
        path = tuple(path)
        for length in range(len(path), 0, -1):
            option = self.overrides.get(path[:length])
            if option is not None:
                return f"--set {option}", 0, 0
        if path and path not in self.positions:  # made by an option setting a key inside it (a section the file does not have)
            inside = [option for key_path, option in self.overrides.items() if key_path[: len(path)] == path]
            if inside:
                return f"--set {inside[0]}", 0, 0
        position = self.position(path, key=key)
        return (self.filename, position.line, position.column) if position else (self.filename, 1, 1)


def _mark(mark: yaml.Mark | None) -> tuple[int, int]:
    if mark is None:
        return 1, 1
    return mark.line + 1, mark.column + 1


class _Builder:
    def __init__(self, loader: yaml.SafeLoader, filename: str) -> None:
        self.loader = loader
        self.filename = filename
        self.positions: dict[PathKey, Position] = {}
        self.nodes = 0

    def fail(self, node: yaml.Node, code: Code, message: str) -> SpecError:
        line, column = _mark(node.start_mark)
        return SpecError([SpecIssue(self.filename, line, column, "", message, code=code)])

    def build(self, node: yaml.Node, path: PathKey, key_node: yaml.Node | None = None) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise self.fail(node, Code.TOO_LARGE, f"document too large: more than {MAX_NODES} nodes (are YAML aliases expanding?)")
        if len(path) > MAX_DEPTH:
            raise self.fail(node, Code.TOO_LARGE, f"document nested deeper than {MAX_DEPTH} levels")
        if node.tag not in _PLAIN_TAGS:
            raise self.fail(
                node,
                Code.YAML_TAG,
                f"tag {node.tag!r} is not allowed: a spec holds plain data only (mappings, lists, "
                "strings, numbers); new behaviour comes from installed plugins",
            )
        line, column = _mark(node.start_mark)
        key_line = key_column = None
        if key_node is not None:
            key_line, key_column = _mark(key_node.start_mark)
        self.positions[path] = Position(line, column, key_line, key_column)

        if isinstance(node, yaml.MappingNode):
            self.loader.flatten_mapping(node)
            result: dict[Any, Any] = {}
            for k_node, v_node in node.value:
                if not isinstance(k_node, yaml.ScalarNode):
                    raise self.fail(k_node, Code.INVALID_YAML, "mapping keys must be plain strings")
                if k_node.tag not in _PLAIN_TAGS:
                    raise self.fail(k_node, Code.YAML_TAG, f"tag {k_node.tag!r} is not allowed in a key")
                key = self.scalar(k_node)
                if key in result:
                    raise self.fail(k_node, Code.DUPLICATE_KEY, f"duplicate key {key!r}")
                result[key] = self.build(v_node, path + (key,), k_node)
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, path + (index,)) for index, item in enumerate(node.value)]
        return self.scalar(node)

    def scalar(self, node: yaml.Node) -> Any:
        try:
            return self.loader.construct_object(node)
        except ValueError as exc:  # e.g. an integer of more than 4300 digits, an impossible date
            reason = str(exc).split(";")[0]  # drop Python's advice on interpreter settings
            raise self.fail(node, Code.INVALID_VALUE, f"cannot read value {str(node.value)[:40]!r}: {reason}") from exc


def _check_events(loader: yaml.SafeLoader, filename: str) -> None:
    """Refuse deep nesting and huge documents from the event stream, before PyYAML builds its
    node tree: composing is recursive and its scanner slows with every open bracket, so five
    thousand ``[`` took half a minute before this check."""
    depth = events = documents = 0
    while loader.check_event():
        event = loader.get_event()
        documents += isinstance(event, yaml.DocumentStartEvent)
        if documents > 1:
            line, column = _mark(event.start_mark)
            raise SpecError([SpecIssue(filename, line, column, "", "invalid YAML: several YAML documents in one file; a spec is a single document", code=Code.INVALID_YAML)])
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1
        events += 1
        if depth > MAX_DEPTH + 1 or events > MAX_NODES:
            line, column = _mark(event.start_mark)
            problem = f"document nested deeper than {MAX_DEPTH} levels" if depth > MAX_DEPTH + 1 else f"document too large: more than {MAX_NODES} nodes"
            raise SpecError([SpecIssue(filename, line, column, "", problem, code=Code.TOO_LARGE)])


def parse_yaml(text: str | bytes, filename: str = "<string>") -> SpecSource:
    """Parse one YAML document into plain data and positions.

    Raises :class:`SpecError` for syntax errors, several documents, non-plain tags and
    documents that are too large.
    """
    if len(text) > MAX_BYTES:
        raise SpecError([SpecIssue(filename, 1, 1, "", f"file is larger than {MAX_BYTES // 1024 // 1024} MiB; a spec is a short text file", code=Code.TOO_LARGE)])
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SpecError([SpecIssue(filename, 1, 1, "", f"not UTF-8 text (byte {exc.start}); a spec is a YAML text file", code=Code.NOT_TEXT)]) from exc
    loader = None
    try:
        loader = yaml.SafeLoader(text)  # reads the whole text: control characters fail here
        _check_events(loader, filename)
        loader.dispose()
        loader = yaml.SafeLoader(text)
        node = loader.get_single_node()
        if node is None:
            raise SpecError([SpecIssue(filename, 1, 1, "", "the file is empty; a spec is a YAML mapping with at least 'data' and 'model'", code=Code.EMPTY_FILE)])
        builder = _Builder(loader, filename)
        data = builder.build(node, ())
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = _mark(mark)
        message = " ".join(part for part in (exc.context, exc.problem) if part) or "invalid YAML"
        if mark is not None and text[mark.index : mark.index + 1] == "\t":
            message += "; YAML does not allow tabs for indentation: indent with spaces"
        raise SpecError([SpecIssue(filename, line, column, "", f"invalid YAML: {message}", code=Code.INVALID_YAML)]) from exc
    except yaml.YAMLError as exc:
        line, column = _mark(getattr(exc, "problem_mark", None))
        if isinstance(exc, yaml.reader.ReaderError):
            message, code = f"invalid YAML: {exc.reason} (character {exc.character!r} at byte {exc.position}); is this a text file?", Code.NOT_TEXT
        else:
            message, code = f"invalid YAML: {exc}", Code.INVALID_YAML
        raise SpecError([SpecIssue(filename, line, column, "", message, code=code)]) from exc
    except RecursionError as exc:
        raise SpecError([SpecIssue(filename, 1, 1, "", f"document nested deeper than {MAX_DEPTH} levels", code=Code.TOO_LARGE)]) from exc
    finally:
        if loader is not None:
            loader.dispose()
    return SpecSource(data, filename, builder.positions, text=text)


def read_yaml(path: str | Path) -> SpecSource:
    """Read a spec file from disk; a missing or unreadable file is a :class:`SpecError`."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise SpecError([SpecIssue(str(path), 0, 0, "", f"cannot read spec: {reason}", code=Code.CANNOT_READ)]) from exc
    return parse_yaml(raw, str(path))
