"""What a graph entry may be besides a registered layer: ``Residual`` and ``Parallel`` containers,
uses of the spec's ``blocks``, and the block definitions themselves (pydantic models).

Containers hold lists of entries of the same union, so the union is recursive; it is built once
per registry and set of blocks (:func:`graph_entry`).
"""

from __future__ import annotations

import json
import re
import types
from typing import TYPE_CHECKING, Annotated, Any, ForwardRef, Literal, Union

from pydantic import BaseModel, BeforeValidator, Discriminator, Field, Tag, WithJsonSchema, create_model

from cnnbuild.contracts.layers import GraphEntryFields
from cnnbuild.contracts.values import Activation, Params

if TYPE_CHECKING:
    from cnnbuild.plugins.registry import Registry

#: The types that expand to several nodes, and the keys of theirs that hold entries:
#: ``list``: a list of entries; ``lists``: a list of lists; ``entry``: one entry.
CONTAINERS: dict[str, dict[str, str]] = {"Residual": {"layers": "list", "shortcut": "list"}, "Parallel": {"branches": "lists", "merge": "entry"}}
#: Keys of a block use that are not the block's parameters.
USE_KEYS = ("type", "name", "inputs", "repeat")
#: The word that marks a block parameter without a default.
REQUIRED = "required"
PLACEHOLDER = re.compile(r"^\$([A-Za-z_][A-Za-z0-9_]*)$")
BLOCK_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"

Repeat = Annotated[int, Field(ge=1, le=1000, strict=True, description="how many times the container is applied, one after the other")]


#: The words a Residual's ``shortcut`` may be instead of a list of layers.
ShortcutWord = Literal["auto", "identity"]


def _shortcut(value: Any) -> Any:
    if isinstance(value, str) and value not in ("auto", "identity"):
        raise ValueError(f"shortcut is auto (identity, or a 1x1 projection when the shapes differ), identity or a list of layers, got {value!r}")
    return value


def _shortcut_kind(value: Any) -> str:
    return "text" if isinstance(value, str) else "list"


def _shortcut_type(nested: Any) -> Any:
    """A Residual's ``shortcut``: a word or a list of entries, told apart before validating, so a bad
    entry gives its own error and not also "not auto or identity"."""
    word: Any = Annotated[ShortcutWord, Tag("text")]
    entries: Any = Annotated[nested, Tag("list")]
    return Annotated[Union[word, entries], Discriminator(_shortcut_kind), BeforeValidator(_shortcut)]  # noqa: UP007


class ResidualBase(GraphEntryFields, Params):
    """``Residual``: its layers, plus a shortcut from its input, added together."""

    type: Literal["Residual"]
    activation: Activation | None = Field(None, description="applied after the addition (ResNet: relu)")
    repeat: Repeat = 1


class ParallelBase(GraphEntryFields, Params):
    """``Parallel``: branches from one input, merged (Inception-style)."""

    type: Literal["Parallel"]
    repeat: Repeat = 1


class BlockUseBase(GraphEntryFields, Params):
    """A use of one of the spec's ``blocks``: its arguments are the block's parameters."""

    repeat: Repeat = 1


#: An entry of a block's layers in the JSON Schema: any entry (checked when used), with an optional condition.
_BLOCK_ENTRY_SCHEMA = {
    "type": "object",
    "properties": {
        "when": {
            "anyOf": [{"type": "string"}, {"type": "boolean"}],
            "description": "the entry is present only where this condition holds, such as $strides != 1 or $in.channels != $filters",
        }
    },
}


class Block(Params):
    """One entry of ``blocks``: a sub-graph defined once, used by name in ``model.layers``."""

    params: dict[str, Any] = Field(
        default_factory=dict,
        description=f"the block's parameters, name -> default value ({REQUIRED!r}: no default, every use gives it; "
        "{first: X, rest: Y}: X in a use's first repetition, Y in the others)",
    )
    layers: Annotated[
        list[dict[str, Any]],
        WithJsonSchema({"type": "array", "minItems": 1, "items": {"anyOf": [_BLOCK_ENTRY_SCHEMA, {"type": "string"}]}}),
    ] = Field(
        min_length=1,
        description="the block's entries, as in model.layers; a value holding $ is an expression of the parameters ($filters, $cin * $t, "
        "round_to($c * 0.75, 8), $in.channels, $index); when: makes an entry conditional",
    )


#: Blocks as the spec model needs them: ``(name, ((parameter, default as JSON, or None when required), ...))`` for each block.
BlockSignature = tuple[tuple[str, tuple[tuple[str, str | None], ...]], ...]


def block_signature(blocks: Any) -> BlockSignature:
    """The signature of a spec's ``blocks`` mapping (as read from YAML); malformed parts are left
    out here and reported when the ``blocks`` section is validated."""
    if not isinstance(blocks, dict):
        return ()
    signature = []
    for name, block in blocks.items():
        if not isinstance(name, str) or not re.match(BLOCK_NAME_PATTERN, name) or not isinstance(block, dict):
            continue
        params = block.get("params") or {}
        if not isinstance(params, dict):
            params = {}
        usable = tuple(
            (key, None if value == REQUIRED else json.dumps(value, sort_keys=True, default=str))
            for key, value in params.items()
            if isinstance(key, str) and key.isidentifier() and key not in USE_KEYS
        )
        signature.append((name, usable))
    return tuple(signature)


def list_of(item: Any) -> Any:
    """``list[item]`` for an item type made at run time (a subscript is read as a static type by type checkers)."""
    return types.GenericAlias(list, (item,))


def literal(value: str) -> Any:
    """``Literal[value]`` for a value known at run time."""
    return Literal.__getitem__(value)


def _union(models: list[Any]) -> Any:
    if not models:
        return dict  # nothing of the kind registered: any mapping, reported when used
    if len(models) == 1:
        return models[0]
    return Annotated[Union[tuple(models)], Field(discriminator="type")]  # noqa: UP007


def _block_use(name: str, params: tuple[tuple[str, str | None], ...]) -> type[BaseModel]:
    """The model of a use of block ``name``: its parameters, each required (no default) or with its default (as JSON)."""
    fields: dict[str, Any] = {key: (Any, ... if default is None else json.loads(default)) for key, default in params}
    return create_model(f"{name}_block", __base__=BlockUseBase, type=(literal(name), Field(description=f"block {name}")), **fields)


def graph_entry(registry: Registry, layer_models: list[type], signature: BlockSignature = (), types: frozenset[str] | None = None) -> Any:
    """The union of everything an entry of ``model.layers`` may be: the registered layers
    (``layer_models``), ``Residual``, ``Parallel`` and a use of each block in ``signature``;
    with ``types`` (every ``type`` a spec writes), only the containers, merge layers and blocks it names."""
    cache = registry.derived.setdefault("graph_entry", {})
    key = (signature, tuple(map(id, layer_models)), types)  # the models are kept by the registry: their ids stay theirs
    if key in cache:
        return cache[key]
    named = (lambda name: True) if types is None else types.__contains__
    merges = [r.params for r in registry.layers.values() if r.merges and named(r.name)]
    blocks = [_block_use(name, params) for name, params in signature if name not in registry.layers and name not in CONTAINERS and named(name)]
    # the containers hold entries of the union they belong to: a reference resolved by model_rebuild below, made per call
    # so that no registry's union is cached in it for another
    nested = list_of(ForwardRef("GraphEntry"))
    containers: list[type[BaseModel]] = []
    if named("Residual"):
        containers.append(
            create_model(
                "Residual",
                __base__=ResidualBase,
                layers=(nested, Field(min_length=1, description="the main path, applied in order")),
                shortcut=(
                    _shortcut_type(nested),
                    Field("auto", description="auto: the input itself, or a 1x1 Conv2D projection when the shapes differ; identity; or a list of layers"),
                ),
            )
        )
    if named("Parallel"):
        # no merge layer named in a spec that names Parallel: a merge entry is refused, and the whole model words the error
        merge: Any = _union(merges) | None if merges or types is None else None
        containers.append(
            create_model(
                "Parallel",
                __base__=ParallelBase,
                branches=(list_of(nested), Field(min_length=2, description="each branch a list of entries from the same input ([]: the input itself)")),
                merge=(merge, Field(None, description="the merge layer (default: Concatenate)")),
            )
        )
    entry = _union([*layer_models, *containers, *blocks])
    for container in containers:
        container.model_rebuild(_types_namespace={"GraphEntry": entry})
    cache[key] = entry
    return entry
