"""The JSON Schema of a spec with every registered type, for yaml-language-server and other editors."""

from __future__ import annotations

from typing import Any

from cnnbuild.plugins.kinds import uses
from cnnbuild.plugins.manager import get_registry
from cnnbuild.spec.document import spec_model
from cnnbuild.spec.graph.entries import BLOCK_NAME_PATTERN

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _names(schema: dict[str, Any]) -> list[str]:
    mapping = schema.get("discriminator", {}).get("mapping", {})
    return sorted(mapping) if mapping else []


def _allow_shorthands(schema: dict[str, Any]) -> None:
    """Accept what the loader normalises: ``- Flatten``, ``- Conv2D: {...}``, ``optimizer: adam``, ``loss: auto``."""
    schema.update(_graph_entries(schema))
    definitions = schema.get("$defs", {})
    entry_lists = []
    for _, use in uses():
        if not use.many:
            continue
        if len(use.path) == 1:
            entry_lists.append(schema["properties"].get(use.path[0]))
        else:
            entry_lists.append(definitions.get(use.path[0].capitalize(), {}).get("properties", {}).get(use.path[1]))
    for holder in entry_lists:
        if not holder or "items" not in holder or "anyOf" in holder["items"]:
            continue
        names = _names(holder["items"])
        if names:
            holder["items"] = {
                "anyOf": [
                    holder["items"],
                    {"type": "string", "enum": names},
                    {"type": "object", "minProperties": 1, "maxProperties": 1, "propertyNames": {"enum": names}},
                ]
            }
    compile_properties = definitions.get("Compile", {}).get("properties", {})
    optimizer = compile_properties.get("optimizer")
    if optimizer:
        compile_properties["optimizer"] = {"anyOf": [optimizer, {"type": "string", "enum": _names(optimizer)}], "description": "a name or {type: name, ...}"}
    loss = compile_properties.get("loss")
    loss_names = definitions.get("Loss", {}).get("properties", {}).get("type", {}).get("enum")
    if loss and loss_names:
        compile_properties["loss"] = {"anyOf": [loss, {"type": "string", "enum": loss_names}], "description": "a name, auto, or {type: name, ...}"}


def _allow_sweep_shorthands(definitions: dict[str, Any]) -> None:
    """``pruner: median`` for ``{type: median}``, ``direction: max`` for ``maximize``."""
    properties = definitions.get("Sweep", {}).get("properties", {})
    pruner = properties.get("pruner")
    if pruner and _names(pruner):
        properties["pruner"] = {"anyOf": [pruner, {"type": "string", "enum": _names(pruner)}], "description": pruner.get("description", "")}
    if "direction" in properties:
        properties["direction"] = {"enum": ["maximize", "minimize", "max", "min", None], "description": properties["direction"].get("description", "")}


def _graph_entries(node: Any) -> Any:
    """Every place that holds a graph entry (``model.layers`` and the lists inside ``Residual`` and
    ``Parallel``) also takes the shorthands and a use of one of the spec's ``blocks``: a mapping
    whose ``type`` is another name, with the block's parameters."""
    if isinstance(node, list):
        return [_graph_entries(item) for item in node]
    if not isinstance(node, dict):
        return node
    names = _names(node)
    if "Residual" in names:
        block_name = {"type": "string", "pattern": BLOCK_NAME_PATTERN, "not": {"enum": names}}
        return {
            "anyOf": [
                node,
                {"type": "string", "anyOf": [{"enum": names}, block_name]},
                {"type": "object", "minProperties": 1, "maxProperties": 1, "propertyNames": {"anyOf": [{"enum": names}, block_name]}},
                {"type": "object", "required": ["type"], "properties": {"type": block_name}, "description": "a use of one of the spec's blocks, with its parameters (an argument {first: X, rest: Y} differs between repetitions)"},
            ]
        }
    return {key: _graph_entries(value) for key, value in node.items()}


def spec_json_schema() -> dict[str, Any]:
    """JSON Schema (2020-12) of the spec as the current plugins define it."""
    schema = spec_model(get_registry()).model_json_schema(mode="validation")
    _allow_shorthands(schema)
    _allow_sweep_shorthands(schema.get("$defs", {}))
    return {"$schema": SCHEMA_DIALECT, **schema, "title": "cnnbuild spec"}
