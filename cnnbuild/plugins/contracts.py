"""Deprecated: where plugin API 1.0 kept the values hooks are given and return (``cnnbuild.contracts`` since 1.1).

Importing a name from here still works, with a ``DeprecationWarning``; import it from ``cnnbuild``.
"""

from __future__ import annotations

from cnnbuild.contracts.plugin_api import moved_names

__getattr__ = moved_names(
    __name__,
    {
        **dict.fromkeys(("DataContext", "Datasets", "SkippedFile"), "cnnbuild.contracts.data"),
        "CallbackContext": "cnnbuild.contracts.callbacks",
        **dict.fromkeys(("LayerShape", "Shape", "ShapeError"), "cnnbuild.contracts.layers"),
    },
)
