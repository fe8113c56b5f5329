"""Where ``data.cache: PATH`` keeps decoded images, so that a cache is never read for other data
and a run killed while writing one does not block the next.

TensorFlow's file cache is keyed only by its path: pointed at a cache written for another
image size it fails mid-epoch, and for other images of the same size (files added, another
split) it silently trains on the old ones. A run killed while writing a cache leaves
TensorFlow's ``.lockfile`` behind, and every later run then fails on it. So the path gets a
key of everything that changes the decoded examples, and each run holds an OS lock on its
cache while it runs: whoever gets the lock knows that leftover lock files are stale.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any, TextIO

#: Open lock files of the caches this process uses; the OS releases them when it exits, however it exits.
_held: dict[str, TextIO] = {}


def cache_key(data_params: Any, fingerprint: str, split: str) -> str:
    """16 hex digits naming the decoded examples: the data source's fingerprint and the data
    parameters that change decoding (not batch size, shuffling or the cache setting itself)."""
    settings = data_params.model_dump(mode="json", exclude={"batch_size", "shuffle_buffer", "cache"})
    text = json.dumps({"fingerprint": fingerprint, "split": split, "data": settings}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def cache_prefix(path: Path, data_params: Any, fingerprint: str, split: str) -> Path | None:
    """The file prefix to give ``Dataset.cache`` for this data, or None when another running
    process holds it (the caller then caches in memory)."""
    prefix = path.parent / f"{path.name}.{split}-{cache_key(data_params, fingerprint, split)}"
    prefix.parent.mkdir(parents=True, exist_ok=True)
    if str(prefix) in _held:
        return prefix
    if not _lock(prefix):
        return None
    if sys.platform == "win32":
        return prefix  # no OS lock there to tell a dead writer from a live one: leave its files alone
    for stale in [*prefix.parent.glob(f"{prefix.name}_*.lockfile"), *prefix.parent.glob(f"{prefix.name}*.tempstate*")]:
        stale.unlink(missing_ok=True)  # left by a process that died writing this cache
    return prefix


def _lock(prefix: Path) -> bool:
    handle = open(f"{prefix}.cnnbuild-lock", "a", encoding="utf-8")  # noqa: SIM115 - held open on purpose
    if sys.platform != "win32":
        import fcntl

        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
    _held[str(prefix)] = handle
    return True
