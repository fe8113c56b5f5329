"""cnnbuild: declarative CNN image classifiers, from a YAML spec to a trained Keras model.

Importing cnnbuild is light: TensorFlow is imported only by what trains or builds models.
"""

from __future__ import annotations

from typing import Any

from cnnbuild.errors import CnnbuildError, DataError, PluginError, RunError
from cnnbuild.plugins.contracts import CallbackContext, DataContext, Datasets, LayerShape, ShapeError, SkippedFile
from cnnbuild.plugins.hookspecs import hookimpl
from cnnbuild.spec import DataParams, Params, Spec, SpecError, load_spec
from cnnbuild.spec.types import SpecPath

__all__ = [
    "CallbackContext", "CnnbuildError", "DataContext", "DataError", "DataParams", "Datasets",
    "LayerShape", "Params", "PluginError", "RunError", "ShapeError", "SkippedFile", "Spec",
    "SpecError", "SpecPath", "build_model", "datasets_from_arrays", "hookimpl", "load_spec", "run",
]  # fmt: skip


def __getattr__(name: str) -> Any:
    # build_model and run need TensorFlow; import them only when asked for.
    if name == "build_model":
        from cnnbuild.builder.model import build_model

        return build_model
    if name == "run":
        from cnnbuild.builder.training import run

        return run
    if name == "datasets_from_arrays":
        from cnnbuild.plugins.builtin.array_sources import from_arrays

        return from_arrays
    raise AttributeError(f"module 'cnnbuild' has no attribute {name!r}")
