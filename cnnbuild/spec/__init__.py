"""What a user may write: pydantic models of the spec, YAML with positions, error rendering.

Nothing here imports TensorFlow.
"""

from __future__ import annotations

from cnnbuild.contracts.plugin_api import moved_module, moved_names
from cnnbuild.spec.document import Spec, apply_to_spec, load_spec, spec_from_dict, spec_from_text, spec_model, validate_source
from cnnbuild.spec.errors import SpecError, SpecIssue, render_errors

__all__ = [
    "Spec", "SpecError", "SpecIssue", "apply_to_spec", "load_spec", "render_errors",
    "spec_from_dict", "spec_from_text", "spec_model", "validate_source",
]  # fmt: skip

# plugin API 1.0 exported the parameter bases here, and kept the parameter types in cnnbuild.spec.types
__getattr__ = moved_names(__name__, {"Params": "cnnbuild.contracts.values", "DataParams": "cnnbuild.contracts.data"})
types = moved_module(
    f"{__name__}.types",
    dict.fromkeys(
        (
            "Activation", "ColorMode", "Fraction01", "Interpolation", "LabelMode", "NonNegativeInt", "NonNegativeNumber", "Number", "Padding",
            "Pair", "Params", "PositiveInt", "PositiveNumber", "SpecPath",
        ),
        "cnnbuild.contracts.values",
    ),
    "Deprecated: where plugin API 1.0 kept the parameter types (cnnbuild.contracts.values since 1.1); import them from cnnbuild.",
)  # fmt: skip
