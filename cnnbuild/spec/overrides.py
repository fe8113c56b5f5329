"""``--set dotted.key=value``: change any spec value from the command line, validated like the file."""

from __future__ import annotations

import copy
import re
from typing import Any

import yaml

from cnnbuild.plugins.kinds import use_at
from cnnbuild.spec.codes import Code
from cnnbuild.spec.errors import SpecError, SpecIssue
from cnnbuild.spec.yaml_source import PathKey, SpecSource, parse_yaml

_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
#: Keys whose value may be a bare name, short for ``{type: name}`` (besides the entries of registered kinds)
_TYPED_KEYS: frozenset[PathKey] = frozenset({("compile", "optimizer"), ("compile", "loss"), ("task",), ("sweep", "pruner")})


def _bare_name_is_short(path: PathKey) -> bool:
    """Whether a bare name at ``path`` is the short form of ``{type: name}``: an optimizer, a loss, a
    task, a pruner, or an entry of a registered kind (a layer, an augmentation layer, a callback, the data source)."""
    if path in _TYPED_KEYS:
        return True
    found = use_at(path)
    if found is None:
        return False
    use = found[1]
    return path == use.path if not use.many else len(path) > len(use.path) and isinstance(path[-1], int)


def parse_key(key: str) -> PathKey:
    """``model.layers[3].filters`` -> ``('model', 'layers', 3, 'filters')``."""
    path: list[Any] = []
    position = 0
    key = key.strip()
    while position < len(key):
        if key[position] == "." and path:
            position += 1
        match = _PART.match(key, position)
        if not match:
            raise ValueError(f"cannot read key {key!r} at character {position + 1}; write it as section.key or model.layers[0].filters")
        path.append(match.group(1) if match.group(1) is not None else int(match.group(2)))
        position = match.end()
    if not path:
        raise ValueError("empty key")
    return tuple(path)


def _set(data: Any, path: PathKey, value: Any) -> None:
    current = data
    for index, part in enumerate(path[:-1]):
        following = path[index + 1]
        short = isinstance(following, str) and _bare_name_is_short(path[: index + 1])  # keep the name, add the key
        if isinstance(current, dict):
            if isinstance(current.get(part), str) and short:
                current[part] = {"type": current[part]}
            elif not isinstance(current.get(part), (dict, list)):
                current[part] = [] if isinstance(following, int) else {}
            current = current[part]
        elif isinstance(current, list) and isinstance(part, int):
            if part >= len(current):
                raise ValueError(f"index [{part}] is past the end of a list of {len(current)}")
            if isinstance(current[part], str) and short:
                current[part] = {"type": current[part]}
            current = current[part]
        else:
            raise ValueError(f"cannot set {part!r} inside a {type(current).__name__}")
    last = path[-1]
    if isinstance(current, dict) and isinstance(last, str):
        current[last] = value
    elif isinstance(current, list) and isinstance(last, int):
        if last > len(current):
            raise ValueError(f"index [{last}] is past the end of a list of {len(current)}")
        current[last:last + 1] = [value]
    else:
        raise ValueError(f"cannot set {last!r} inside a {type(current).__name__}")


def apply_overrides(source: SpecSource, overrides: list[str] | tuple[str, ...]) -> SpecSource:
    """A copy of ``source`` with each ``KEY=VALUE`` applied; values are read as YAML (``[64, 64]``, ``true``, ``1/255``)."""
    data = copy.deepcopy(source.data) if isinstance(source.data, dict) else {}
    positions = dict(source.positions)
    applied: dict[PathKey, str] = dict(source.overrides)
    issues: list[SpecIssue] = []
    for option in overrides:
        where = f"--set {option}"
        key, sep, text = option.partition("=")
        if not sep:
            issues.append(SpecIssue(where, 0, 0, "", "expected KEY=VALUE, for example --set train.epochs=3", code=Code.INVALID_OVERRIDE))
            continue
        try:
            path = parse_key(key)
            value = parse_yaml(text or "null", where).data
            _set(data, path, value)
        except SpecError as exc:
            issues.extend(SpecIssue(where, 0, 0, key, issue.message, code=issue.code) for issue in exc.issues)
            continue
        except ValueError as exc:
            issues.append(SpecIssue(where, 0, 0, key, str(exc), code=Code.INVALID_OVERRIDE))
            continue
        applied[path] = option
        for stale in [p for p in positions if p[: len(path)] == path]:
            del positions[stale]
    if issues:
        raise SpecError(issues)
    return SpecSource(data, source.filename, positions, applied, source.text)


def format_override(key: str, value: Any) -> str:
    """``KEY=VALUE`` that :func:`apply_overrides` reads back as ``value`` (YAML flow style on one line:
    ``3.0e-05`` rather than JSON's ``3e-05``, which YAML 1.1 reads as a string)."""
    text = yaml.safe_dump(value, default_flow_style=True, width=2**31 - 1, allow_unicode=True, sort_keys=False)
    return f"{key}={text.removesuffix(chr(10)).removesuffix(chr(10) + '...')}"
