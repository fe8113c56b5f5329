"""What a user may write: pydantic models of the spec, YAML with positions, error rendering.

Nothing here imports TensorFlow.
"""

from __future__ import annotations

from cnnbuild.spec.document import Spec, load_spec, spec_from_dict, spec_from_text, spec_model, validate_source
from cnnbuild.spec.errors import SpecError, SpecIssue, render_errors
from cnnbuild.spec.sections import DataParams
from cnnbuild.spec.types import Params

__all__ = [
    "DataParams", "Params", "Spec", "SpecError", "SpecIssue", "load_spec", "render_errors",
    "spec_from_dict", "spec_from_text", "spec_model", "validate_source",
]  # fmt: skip
