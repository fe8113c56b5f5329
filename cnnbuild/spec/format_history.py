"""The spec format's versions, and every change between them a reader of older specs must undo: the one table.

A spec says which format it was written for with a top-level ``format_version`` (absent: the
current one). Keys only ever added do not change the version; a key renamed or moved, or an entry
that must move, does, and gets a row in :data:`CHANGES`. Reading a spec written for an older format
applies the rows of the later formats with a warning each (:mod:`cnnbuild.spec.upgrade`), and
``cnnbuild migrate`` rewrites the file the same way (:mod:`cnnbuild.spec.migrate`).

The changes work on plain data and on ruamel.yaml's round-trip mappings and lists alike.
"""

from __future__ import annotations

from collections.abc import MutableMapping, MutableSequence
from dataclasses import dataclass
from typing import Any

#: The top-level key that names the format a spec was written for.
KEY = "format_version"
#: The format this release reads and writes.
CURRENT = 2
#: Each format, the release that introduced it, and what changed (the README's table says the same).
FORMATS: dict[int, str] = {
    1: "the first release (commit 8ca31db); unchanged by the stop-19 landing",
    2: "the stop-20 landing (main at 8ba0fb9): blocks, model.outputs, names and inputs of entries, sweep, "
    "train.fine_tune, the csv data source added; GaussianNoise moved out of augmentation",
}

#: Keys the current format gained after its first release, each with the format that has it and what it is.
#: Added keys do not change the version (an older cnnbuild refuses them as unknown keys, at their line).
ADDED_KEYS: dict[str, tuple[int, str]] = {
    "task": (2, "what the model predicts: single_label (the default, as before), multi_label or regression (issue 25)"),
    "blocks.*.layers[*].when": (2, "an entry of a block present only when its condition holds ($strides != 1 or $in.channels != $filters) (issue 24)"),
    "blocks.*.layers: expressions": (2, "a value holding $ is an expression: $cin * $t, min/max, round_to, $in.channels/height/width, $index, $repeat (issue 24)"),
    "model.layers[*].<block parameter>: {first, rest}": (2, "a block use's argument that differs between repetitions: {first: 2, rest: 1} (issue 24)"),
    "task.classes": (2, "task: segmentation: the class of each mask index, {index: name} (issue 25)"),
    "task.ignore_index": (2, "task: segmentation: a mask value left out of the loss and the metrics (issue 25)"),
    "task.dice_weight": (2, "task: segmentation: the Dice term's weight in compile.loss dice_crossentropy (issue 25)"),
}

Path = tuple[Any, ...]


def _entry_type(item: Any) -> str | None:
    """The type of a list entry in any of its spellings: ``{type: X, ...}``, ``{X: {...}}`` or ``X``."""
    if isinstance(item, MutableMapping):
        if isinstance(item.get("type"), str):
            return item["type"]
        if len(item) == 1 and isinstance(next(iter(item.values())), (MutableMapping, type(None))):
            return str(next(iter(item)))
        return None
    return item if isinstance(item, str) else None


def _at(data: Any, path: Path) -> Any:
    for part in path:
        if isinstance(data, MutableMapping) and part in data:
            data = data[part]
        elif isinstance(data, MutableSequence) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            return None
    return data


@dataclass(frozen=True)
class Found:
    """One place where a change applies: ``old`` is where the spec has it, ``new`` where the current format wants it
    (paths in the file as written: ``{X: {...}}`` entries have ``X`` in them); ``path`` is ``old`` as messages show it."""

    old: Path
    new: Path
    description: str
    path: str


@dataclass(frozen=True)
class RenamedKey:
    """A key of format ``version - 1`` that format ``version`` spells or places differently.

    ``old`` and ``new`` are key paths; ``"*"`` stands for every item of a list (bound to the same
    item on both sides), and ``entry_type`` limits a key inside list entries to entries of that type.
    """

    version: int
    old: Path
    new: Path
    entry_type: str | None = None

    def find(self, data: Any) -> list[Found]:
        found = []
        for bound in self._bindings(data, self.old, ()):
            (old, shown_old), (new, shown_new) = self._fill(self.old, bound, data), self._fill(self.new, bound, data)
            parent = _at(data, new[:-1])
            if isinstance(parent, MutableMapping) and new[-1] in parent:
                continue  # both spellings: never two values for one key; the old one stays, an unknown key
            found.append(Found(old, new, f"{_dotted(shown_old)} is spelled {_dotted(shown_new)} since spec format {self.version}", _dotted(shown_old)))
        return found

    def apply(self, data: Any, found: Found) -> None:
        parent = _at(data, found.old[:-1])
        value = parent[found.old[-1]]
        target = data
        for part in found.new[:-1]:
            if isinstance(target, MutableMapping) and target.get(part) is None:
                target[part] = {}  # a section the spec did not have yet
            target = target[part]
        comment = _comments(parent).pop(found.old[-1], None)
        if parent is target and hasattr(parent, "insert"):  # a rename in place keeps the key's position (ruamel's mappings)
            position = list(parent).index(found.old[-1])
            del parent[found.old[-1]]
            parent.insert(position, found.new[-1], value)
        else:
            del parent[found.old[-1]]
            target[found.new[-1]] = value
        if comment is not None:
            _comments(target)[found.new[-1]] = comment

    def _bindings(self, data: Any, pattern: Path, bound: tuple[int, ...]) -> list[tuple[int, ...]]:
        """The list indices ``"*"`` takes where the old key is present."""
        if not pattern:
            return [bound]
        head, rest = pattern[0], pattern[1:]
        if head == "*":
            items = data if isinstance(data, MutableSequence) else []
            return [b for index, item in enumerate(items) if self._wanted(item, rest) for b in self._bindings(self._params(item), rest, (*bound, index))]
        if isinstance(data, MutableMapping) and head in data:
            return self._bindings(data[head], rest, bound)
        return []

    def _wanted(self, item: Any, rest: Path) -> bool:
        return self.entry_type is None or "*" in rest or _entry_type(item) == self.entry_type

    def _params(self, item: Any) -> Any:
        """An entry's parameters: the entry itself, or the mapping under its type in ``{X: {...}}``."""
        if isinstance(item, MutableMapping) and "type" not in item and len(item) == 1 and isinstance(next(iter(item.values())), MutableMapping):
            return next(iter(item.values()))
        return item

    def _fill(self, pattern: Path, bound: tuple[int, ...], data: Any) -> tuple[Path, Path]:
        """The concrete path in the file, and the same path as messages show it (without an entry's ``{X: ...}`` step)."""
        path: list[Any] = []
        shown: list[Any] = []
        indices = iter(bound)
        for part in pattern:
            if part == "*":
                index = next(indices)
                path.append(index)
                shown.append(index)
                item = _at(data, tuple(path))
                if isinstance(item, MutableMapping) and "type" not in item and self._params(item) is not item:
                    path.append(next(iter(item)))  # {X: {...}}: the parameters sit under the type
            else:
                path.append(part)
                shown.append(part)
        return tuple(path), tuple(shown)


@dataclass(frozen=True)
class MovedEntry:
    """Entries of ``entry_type`` that format ``version`` no longer takes in list ``old``: they move,
    in their order, to the start of list ``new``. ``why`` says what the move does and does not keep."""

    version: int
    entry_type: str
    old: Path
    new: Path
    why: str

    def find(self, data: Any) -> list[Found]:
        items = _at(data, self.old)
        if not isinstance(items, MutableSequence) or not isinstance(_at(data, self.new), MutableSequence):
            return []
        indices = [index for index, item in enumerate(items) if _entry_type(item) == self.entry_type]
        return [
            Found((*self.old, index), (*self.new, rank), f"{self.entry_type} in {_dotted(self.old)} moved to {_dotted(self.new)} in spec format {self.version}: {self.why}", _dotted((*self.old, index)))
            for rank, index in enumerate(indices)
        ]

    def apply(self, data: Any, found: Found) -> None:
        """Move one entry; the ``found`` of one spec are applied first to last (the ones before have left the list)."""
        items, target = _at(data, self.old), _at(data, self.new)
        index = self.index_now(found)
        comment = _comments(items).get(index)  # ruamel.yaml shifts the others' comments itself
        _leave_following_lines(data, self.old, index, comment)
        entry = items.pop(index)
        target.insert(found.new[-1], entry)
        if comment is not None:
            _comments(target)[found.new[-1]] = comment
        if not items and getattr(getattr(items, "ca", None), "end", None):
            # an empty list is written as [], which has no room for the comment lines that followed it
            text = "".join(token.value for token in items.ca.end)
            if _before_next_key(data, self.old, text):
                items.ca.end = []

    @staticmethod
    def index_now(found: Found) -> int:
        """Where the entry is once the ``found`` before it (as many as its rank) have been moved out."""
        return found.old[-1] - found.new[-1]


def _leave_following_lines(data: Any, path: Path, index: int, comment: Any) -> None:
    """ruamel.yaml keeps the blank and comment lines after a list entry in the entry's last comment
    (its end-of-line comment, then those lines): before the entry at ``path[index]`` moves, those
    lines stay where they are, with the entry before it, or before the key after the list."""
    items = _at(data, path)
    tokens = [token for token in [*_tokens(comment), *_tokens(items[index])] if "\n" in token.value.rstrip("\n")]
    if not tokens:
        return
    last = max(tokens, key=lambda token: (getattr(token.start_mark, "line", -1), getattr(token.start_mark, "column", -1)))
    own, _, following = last.value.partition("\n")
    if index == len(items) - 1:
        kept = _before_next_key(data, path, following)
    else:
        earlier = [*_tokens(_comments(items).get(index - 1)), *_tokens(items[index - 1])] if index > 0 else []
        before = max(earlier, key=lambda token: (getattr(token.start_mark, "line", -1), getattr(token.start_mark, "column", -1)), default=None)
        kept = before is not None and before.value.endswith("\n")
        if before is not None and kept:
            before.value += following
    if kept:
        last.value = own + "\n"


def _tokens(node: Any) -> list[Any]:
    """The comment tokens ruamel.yaml attached to ``node`` and everything in it."""
    if node is None:
        return []
    if isinstance(node, list) and not hasattr(node, "ca"):  # a slot of comment tokens
        return [token for slot in node for token in _tokens(slot)]
    if hasattr(node, "value") and hasattr(node, "start_mark"):
        return [node] if isinstance(node.value, str) else []
    found: list[Any] = []
    attached = getattr(node, "ca", None)
    if attached is not None:
        for slot in [*attached.items.values(), attached.comment, attached.end]:
            found += _tokens(slot)
    children = node.values() if isinstance(node, MutableMapping) else node if isinstance(node, MutableSequence) else []
    for child in children:
        found += _tokens(child)
    return found


def _before_next_key(data: Any, path: Path, text: str) -> bool:
    """Put comment lines ``text`` before the key that follows ``path`` in its mapping; False where there is none."""
    parent = _at(data, path[:-1])
    if not text or not hasattr(parent, "ca") or path[-1] not in parent:
        return False
    keys = list(parent)
    position = keys.index(path[-1])
    if position + 1 >= len(keys):
        return False
    from ruamel.yaml.error import CommentMark
    from ruamel.yaml.tokens import CommentToken

    slot = parent.ca.items.setdefault(keys[position + 1], [None, None, None, None])
    if slot[1] is None:
        slot[1] = []
    slot[1].insert(0, CommentToken(text, CommentMark(0), None))
    return True


def _comments(container: Any) -> dict[Any, Any]:
    """The end-of-line comments of a ruamel.yaml mapping or list, by key or index ({} for plain data)."""
    attached = getattr(container, "ca", None)
    return attached.items if attached is not None else {}


def _dotted(path: Path) -> str:
    from cnnbuild.spec.errors import format_path

    return format_path(path)


#: Every change a reader of an older format must undo, oldest first. No key has been renamed so far.
CHANGES: tuple[RenamedKey | MovedEntry, ...] = (
    MovedEntry(
        2, "GaussianNoise", ("augmentation",), ("model", "layers"),
        "read as the first entries of model.layers, where Keras also adds the noise in training only, before Rescaling as "
        "before (stddev in 0..255 pixel units: at most 1, under one grey level; for noise that matters, put it after "
        "Rescaling(1/255)); it now comes after the other augmentation layers",
    ),
)  # fmt: skip


def changes_after(version: int | None) -> list[RenamedKey | MovedEntry]:
    """The changes a spec written for ``version`` needs (None: every change whose old form it holds, for migrate)."""
    return [change for change in CHANGES if version is None or change.version > version]
