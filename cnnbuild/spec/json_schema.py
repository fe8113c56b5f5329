"""The JSON Schema of a spec with every registered type, for yaml-language-server and other editors."""

from __future__ import annotations

from typing import Any

from cnnbuild.plugins.manager import get_registry
from cnnbuild.spec.document import spec_model

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _allow_shorthands(schema: dict[str, Any]) -> None:
    """Entries may also be written as a bare type name (``- Flatten``)."""
    definitions = schema.get("$defs", {})
    for section in ("layers",):
        model = definitions.get("Model", {}).get("properties", {}).get(section)
        if model and "items" in model:
            model["items"] = {"anyOf": [model["items"], {"type": "string"}]}


def spec_json_schema() -> dict[str, Any]:
    """JSON Schema (2020-12) of the spec as the current plugins define it."""
    schema = spec_model(get_registry()).model_json_schema(mode="validation")
    _allow_shorthands(schema)
    return {"$schema": SCHEMA_DIALECT, **schema, "title": "cnnbuild spec"}
