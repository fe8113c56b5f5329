"""How cnnbuild's values become MLflow's: spec paths as param keys, the default tracking store.

MLflow keys may hold only letters, digits and ``_ - . : / space`` and at most 250 characters
(``model.layers[1].filters`` is refused), and param values are cut at 6000 characters.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

MAX_KEY = 250
MAX_VALUE = 6000
_NOT_ALLOWED = re.compile(r"[^\w\-. :/]")


def key(text: str) -> str:
    """A valid MLflow key for ``text`` (characters MLflow refuses become ``_``)."""
    return _NOT_ALLOWED.sub("_", text)[:MAX_KEY]


def value(item: Any) -> str:
    """A param value: text as it is, anything else as JSON; cut where MLflow would cut it silently, and marked."""
    text = item if isinstance(item, str) else json.dumps(item)
    mark = "...(truncated)"
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - len(mark)] + mark


def flatten(data: Any, prefix: str = "") -> dict[str, str]:
    """A resolved spec as params: ``model.layers.1.filters -> "16"``; lists of plain values stay one param."""
    if isinstance(data, dict):
        out: dict[str, str] = {}
        for name, item in data.items():
            out.update(flatten(item, f"{prefix}.{name}" if prefix else str(name)))
        return out
    if isinstance(data, list) and any(isinstance(item, (dict, list)) for item in data):
        out = {}
        for index, item in enumerate(data):
            out.update(flatten(item, f"{prefix}.{index}"))
        return out or {key(prefix): "[]"}
    return {key(prefix): value(data)}


def default_tracking_uri(output_dir: Path) -> str:
    """``sqlite:///OUTPUT_DIR/mlflow.db``: one file beside the runs, no server.

    MLflow 3 refuses plain folders (``./mlruns``) unless MLFLOW_ALLOW_FILE_STORE is set: the file
    store is in maintenance mode. A SQLite file needs no server, takes several writers at once
    (parallel sweep workers), and ``mlflow ui --backend-store-uri`` the same URI shows it.
    """
    return f"sqlite:///{output_dir.resolve() / 'mlflow.db'}"


def artifact_root(tracking_uri: str) -> str | None:
    """Where a new experiment keeps artifacts: beside a SQLite file (MLflow would use ./mlruns in the
    current directory); None (the server decides) for anything else."""
    if not tracking_uri.startswith("sqlite:///"):
        return None
    database = Path(tracking_uri.removeprefix("sqlite:///"))
    return (database.parent / "mlartifacts").as_uri()
