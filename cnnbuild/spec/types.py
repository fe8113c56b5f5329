"""Deprecated: where plugin API 1.0 kept the parameter types (``cnnbuild.contracts.values`` since 1.1).

Importing a name from here still works, with a ``DeprecationWarning``; import it from ``cnnbuild``
or ``cnnbuild.contracts.values``.
"""

from __future__ import annotations

from cnnbuild.contracts.plugin_api import moved_names

__getattr__ = moved_names(
    __name__,
    dict.fromkeys(
        (
            "Activation", "ColorMode", "Fraction01", "Interpolation", "LabelMode", "NonNegativeInt", "NonNegativeNumber", "Number", "Padding",
            "Pair", "Params", "PositiveInt", "PositiveNumber", "SpecPath",
        ),
        "cnnbuild.contracts.values",
    ),
)  # fmt: skip
