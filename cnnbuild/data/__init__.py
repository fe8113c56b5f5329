"""Helpers for data sources: checking image files, deterministic splits, archives, arrays.

Builtin data sources are made of these, and plugin data sources may use them too. Nothing here
imports TensorFlow at import time.
"""

from __future__ import annotations

from cnnbuild.data.splitting import stratified_split

__all__ = ["stratified_split"]
