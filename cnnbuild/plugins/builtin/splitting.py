"""Deprecated: where plugin API 1.0 kept the stratified split (``cnnbuild.data.stratified_split`` since 1.1)."""

from __future__ import annotations

from cnnbuild.contracts.plugin_api import moved_names

__getattr__ = moved_names(__name__, {"stratified_split": "cnnbuild.data.splitting"})
