"""What a user may write: pydantic models of the spec, YAML with positions, error rendering.

Nothing here imports TensorFlow.
"""

from __future__ import annotations

from cnnbuild.spec.document import Spec, apply_to_spec, load_spec, spec_from_dict, spec_from_text, spec_model, validate_source
from cnnbuild.contracts.plugin_api import moved_names
from cnnbuild.spec.errors import SpecError, SpecIssue, render_errors

__all__ = [
    "Spec", "SpecError", "SpecIssue", "apply_to_spec", "load_spec", "render_errors",
    "spec_from_dict", "spec_from_text", "spec_model", "validate_source",
]  # fmt: skip

# plugin API 1.0 exported the parameter bases here
__getattr__ = moved_names(__name__, {"Params": "cnnbuild.contracts.values", "DataParams": "cnnbuild.contracts.data"})
