"""Turn pydantic's validation errors into :class:`SpecIssue` lines a user can act on."""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from cnnbuild.plugins.kinds import use_at
from cnnbuild.spec.codes import Code
from cnnbuild.spec.errors import SpecIssue, closest, format_path, suggest
from cnnbuild.spec.yaml_source import SpecSource

if TYPE_CHECKING:
    from pydantic_core import ErrorDetails

    from cnnbuild.plugins.registry import Registry

#: Tagged entries of the fixed sections (not registered by plugins), by key path.
_FIXED_NOUNS = {("compile", "optimizer"): "optimizer", ("compile", "loss"): "loss"}
#: Keys people put where Keras or another tool keeps them, and where cnnbuild keeps them.
MISPLACED = {
    "batch_size": "data.batch_size", "validation_split": "data.validation_split", "image_size": "data.image_size",
    "epochs": "train.epochs", "callbacks": "train.callbacks", "class_weight": "train.class_weight",
    "optimizer": "compile.optimizer", "loss": "compile.loss", "metrics": "compile.metrics",
    "learning_rate": "compile.optimizer.learning_rate", "seed": "seed (at the top level)",
}  # fmt: skip
#: Keras layer arguments cnnbuild sets itself.
INPUT_KEYS = ("input_shape", "input_dim", "batch_input_shape", "batch_size", "input_size")


def _kind(path: tuple[Any, ...]) -> str:
    """What the entry at ``path`` is, in words: 'layer', 'data source', 'optimizer', ..."""
    found = use_at(path)
    if found is not None:
        return found[1].noun
    return next((noun for prefix, noun in _FIXED_NOUNS.items() if tuple(path[: len(prefix)]) == prefix), "type")


def _data_path(data: Any, loc: tuple[Any, ...], error_type: str) -> tuple[Any, ...]:
    """Drop pydantic's internal steps (union tags, validator names) from ``loc``."""
    path: list[Any] = []
    current = data
    for index, part in enumerate(loc):
        last = index == len(loc) - 1
        if isinstance(current, dict) and part in current:
            path.append(part)
            current = current[part]
        elif isinstance(current, (list, tuple)) and isinstance(part, int) and 0 <= part < len(current):
            path.append(part)
            current = current[part]
        elif isinstance(current, dict) and current.get("type") == part:
            continue  # discriminated-union tag
        elif isinstance(part, str) and ("[" in part or part in ("int", "str", "float", "bool", "dict", "list", "literal")):
            continue  # union member names such as 'tuple[int, int]' or 'function-after[...]'
        elif last and error_type == "missing":
            path.append(part)
        elif isinstance(current, dict):
            path.append(part)
            current = None
    return tuple(path)


def _unwrap(annotation: Any) -> list[Any]:
    """The concrete types behind Annotated, Optional, Union and list annotations."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [t for arg in typing.get_args(annotation) for t in _unwrap(arg)]
    if origin in (list, tuple, dict):
        return [t for arg in typing.get_args(annotation) for t in _unwrap(arg)]
    return [annotation]


def _model_at(root: type[BaseModel], data: Any, path: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class that validates the mapping at ``path`` (for 'did you mean' on keys)."""
    models = _models_at(root, data, path)
    return models[0] if len(models) == 1 else None


def _models_at(root: type[BaseModel], data: Any, path: tuple[Any, ...]) -> list[type[BaseModel]]:
    """The model classes that may validate the mapping at ``path``: one, or a union's members when its ``type`` does not choose."""
    candidates: list[Any] = [root]
    current = data
    for part in path:
        if isinstance(current, dict):
            current = current.get(part)
        elif isinstance(current, list) and isinstance(part, int) and part < len(current):
            current = current[part]
        else:
            current = None
        if not isinstance(part, int):
            next_candidates = []
            for candidate in candidates:
                if isinstance(candidate, type) and issubclass(candidate, BaseModel) and part in candidate.model_fields:
                    next_candidates.extend(_unwrap(candidate.model_fields[part].annotation))
            candidates = [c for c in next_candidates if isinstance(c, type) and issubclass(c, BaseModel)]
        if isinstance(current, dict) and "type" in current and len(candidates) > 1:
            tagged = [c for c in candidates if "type" in c.model_fields and current["type"] in typing.get_args(c.model_fields["type"].annotation)]
            candidates = tagged or candidates
    return [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]


def _type_hint(root: type[BaseModel], data: Any, path: tuple[Any, ...], given: Any) -> str:
    """Which type to add to the entry ``given`` (a mapping without ``type``) at ``path``: the field's
    default type when it takes every key given (``; the default is adam: add type: adam``), else the
    types that do (``; momentum is a parameter of: sgd, rmsprop``)."""
    keys = [key for key in given if key != "type"] if isinstance(given, dict) else []
    parent = _model_at(root, data, path[:-1]) if path and isinstance(path[-1], str) else None
    field = parent.model_fields.get(path[-1]) if parent is not None else None
    try:
        default = field.get_default(call_default_factory=True) if field is not None and not field.is_required() else None
    except Exception:  # a default made from other values: no default to name
        default = None
    name = getattr(default, "type", None)
    if isinstance(name, str) and isinstance(default, BaseModel) and keys and all(key in type(default).model_fields for key in keys):
        return f"; the default is {name}: add type: {name} to set its parameters"
    members = [member for member in _models_at(root, data, path) if "type" in member.model_fields]
    having = [str(tag) for member in members if keys and all(key in member.model_fields for key in keys) for tag in typing.get_args(member.model_fields["type"].annotation)]
    if having:
        return f"; {', '.join(keys)} {'is a parameter' if len(keys) == 1 else 'are parameters'} of: {', '.join(having)}"
    return f"; the default is {name}" if isinstance(name, str) else ""


def _got(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _refused_here(path: tuple[Any, ...], tag: Any, registry: Registry | None) -> str | None:
    """Why a registered type cannot appear at ``path`` (a layer that is not an augmentation layer, say), or None."""
    found = use_at(path)
    if registry is None or found is None:
        return None
    kind, use = found
    if use.accepts is None or use.refusal is None:
        return None
    registration = registry.table(kind).get(registry.aliases(kind).get(tag, tag)) if isinstance(tag, str) else None
    if registration is None or use.accepts(registration):
        return None
    return f"{tag} cannot be used in {'.'.join(use.path)}: {use.refusal(registration)}"


@dataclass(frozen=True)
class _Found:
    """One pydantic error in cnnbuild's words: its code, its message, and the key it suggests instead (a near miss), if any."""

    code: Code
    message: str
    suggested: str | None = None


def _unknown_key(path: tuple[Any, ...], root: type[BaseModel], data: Any) -> _Found:
    key = path[-1]
    found = use_at(path)
    if found is not None and found[0].name == "layer" and key in INPUT_KEYS:
        return _Found(Code.UNKNOWN_KEY, f"unknown key: a layer's input shape comes from data.image_size and data.color_mode (and the layers before it); remove {key}")
    model = _model_at(root, data, path[:-1])
    # a field left out of dumps is no key to suggest (a Keras parameter a builtin layer refuses, saying why)
    choices = [name for name, field in model.model_fields.items() if name != "type" and not field.exclude] if model else []
    suggested = closest(key, choices)
    hint = suggest(key, choices)
    home = MISPLACED.get(key) if isinstance(key, str) else None
    if not hint and home and not home.startswith(format_path(path[:-1]) + "."):
        return _Found(Code.UNKNOWN_KEY, f"unknown key here; {key} belongs in {home}")
    if not hint and choices:
        hint = "; allowed keys: " + ", ".join(choices)
    return _Found(Code.UNKNOWN_KEY, f"unknown key{hint}", suggested)


def _message(error: ErrorDetails, path: tuple[Any, ...], root: type[BaseModel], data: Any, registry: Registry | None = None) -> _Found:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    value = error.get("input")
    if kind == "extra_forbidden" and path and path[-1] == "when":
        return _Found(Code.UNKNOWN_KEY, "unknown key: when: (an entry present only where a condition holds) is read on the entries of a block's lists only; put the entry in a block (docs/blocks.md)")
    if kind == "extra_forbidden":
        return _unknown_key(path, root, data)
    if kind == "missing":
        return _Found(Code.MISSING_KEY, "required key is missing")
    if kind == "union_tag_invalid":
        tag = ctx.get("tag")
        refused = _refused_here(path, tag, registry)
        if refused:
            return _Found(Code.NOT_ALLOWED_HERE, refused)
        tags = [t.strip().strip("'") for t in str(ctx.get("expected_tags", "")).split(",") if t.strip()]
        hint = suggest(tag, tags) or f"; known: {', '.join(tags)}"
        return _Found(Code.UNKNOWN_TYPE, f"unknown {_kind(path)} type {tag!r}{hint}")
    if kind == "union_tag_not_found":
        parameters = {name for model in _models_at(root, data, path) for name in model.model_fields}
        if isinstance(value, dict) and len(value) == 1 and not isinstance(next(iter(value.values())), (dict, type(None))) and next(iter(value)) not in parameters:
            (name, given), = value.items()
            return _Found(Code.WRONG_TYPE, (
                f"{name}'s parameters must be a mapping of names to values, such as {name}: {{filters: 16, kernel_size: 3}}, got {_got(given)} "
                "(Keras's positional arguments are not taken: name each parameter)"
            ))
        return _Found(Code.MISSING_KEY, f"missing key 'type' (which {_kind(path)} this is){_type_hint(root, data, path, value)}")
    if kind == "string_pattern_mismatch":
        if path == ("name",):
            return _Found(Code.INVALID_VALUE, f"must be letters, digits, '.', '_' and '-' (up to 64; it names the run folder), got {_got(value)}")
        return _Found(Code.INVALID_VALUE, f"does not have the expected form (pattern {ctx.get('pattern')}), got {_got(value)}")
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return _Found(Code.WRONG_TYPE, f"expected a mapping of keys to values, got {_got(value)}")
    if kind == "literal_error":
        expected = str(ctx.get("expected", ""))
        choices = [c.strip().strip("'") for c in expected.replace(" or ", ", ").split(",") if c.strip()]
        if len(choices) > 8:
            return _Found(Code.INVALID_VALUE, f"{_got(value)} is not one of the {len(choices)} allowed values{suggest(value, choices)} (allowed: {', '.join(choices[:8])}, ...)")
        return _Found(Code.INVALID_VALUE, f"must be one of {expected}, got {_got(value)}{suggest(value, choices)}")
    if kind == "bool_parsing":
        return _Found(Code.WRONG_TYPE, f"must be true or false, got {_got(value)}")
    if kind in ("too_short", "too_long"):
        bound = ctx.get("min_length") if kind == "too_short" else ctx.get("max_length")
        return _Found(Code.INVALID_VALUE, f"needs {'at least' if kind == 'too_short' else 'at most'} {bound} item(s), got {ctx.get('actual_length', len(value) if isinstance(value, (list, tuple)) else '?')}")
    message = error["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    message = message.replace("Input should be", "must be").replace("Input", "value")
    if kind not in ("value_error", "assertion_error") and value is not None and not isinstance(value, (dict, list)):
        message += f", got {_got(value)}"
    # pydantic's error types: '..._type' and '..._parsing' say the value is of the wrong kind
    return _Found(Code.WRONG_TYPE if kind.endswith(("_type", "_parsing")) else Code.INVALID_VALUE, message)


def _expression_hint(found: _Found, value: Any) -> _Found:
    """A value holding ``$`` where nothing evaluates it: say where expressions are read."""
    if isinstance(value, str) and "$" in value and found.code in (Code.WRONG_TYPE, Code.INVALID_VALUE):
        return _Found(found.code, f"{found.message}; expressions ($name, $in.channels * 2) are evaluated in a block's layers only (docs/blocks.md)", found.suggested)
    return found


def translate(exc: ValidationError, source: SpecSource, root: type[BaseModel], registry: Registry | None = None) -> list[SpecIssue]:
    """One issue per distinct problem, each with the line and column of the offending node."""
    issues: list[SpecIssue] = []
    seen: set[tuple[str, Code, str]] = set()
    errors = exc.errors(include_url=False)
    located = [(error, _data_path(source.data, tuple(error["loc"]), error["type"])) for error in errors]
    found = [_expression_hint(_message(error, path, root, source.data, registry), error.get("input")) for error, path in located]
    # "unknown key 'kernal_size'; did you mean 'kernel_size'?" already explains the missing key
    explained = {(path[:-1], item.suggested) for (_, path), item in zip(located, found, strict=True) if item.code == Code.UNKNOWN_KEY and item.suggested is not None}
    for (_, path), item in zip(located, found, strict=True):
        if item.code == Code.MISSING_KEY and (path[:-1], path[-1]) in explained:
            continue
        dotted = format_path(path)
        if (dotted, item.code, item.message) in seen:
            continue
        seen.add((dotted, item.code, item.message))
        where, line, column = source.locate(path, key=item.code == Code.UNKNOWN_KEY)
        issues.append(SpecIssue(where, line, column, dotted, item.message, code=item.code))
    return issues
