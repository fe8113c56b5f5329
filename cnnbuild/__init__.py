"""cnnbuild: declarative CNN image classifiers, from a YAML spec to a trained Keras model.

Importing cnnbuild is light: TensorFlow is imported only by what trains or builds models. The
library prints nothing: it logs to ``logging.getLogger("cnnbuild")``, and the ``cnnbuild``
command decides what reaches the terminal.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from cnnbuild.contracts import (
    PLUGIN_API_VERSION,
    PLUGIN_API_VERSION_INFO,
    AugmentationList,
    CallbackContext,
    DataContext,
    DataParams,
    Datasets,
    Factor,
    LayerContext,
    LayerShape,
    Number,
    Pair,
    Params,
    Probability,
    RunPath,
    ShapeError,
    SkippedFile,
    SpecPath,
)
from cnnbuild.errors import CnnbuildError, DataError, DataNotFound, PluginError, RunError
from cnnbuild.plugins.hookspecs import hookimpl
from cnnbuild.spec import Spec, SpecError, load_spec

if TYPE_CHECKING:  # imported when first used (__getattr__ below), so that importing cnnbuild stays light
    from cnnbuild.builder.model.build import build_model
    from cnnbuild.builder.training import run
    from cnnbuild.data.arrays import from_arrays as datasets_from_arrays
    from cnnbuild.data.files import file_list_source
    from cnnbuild.runs import RunRecord, load_run
    from cnnbuild.sweep import run_sweep

logging.getLogger("cnnbuild").addHandler(logging.NullHandler())

__all__ = [
    "PLUGIN_API_VERSION", "PLUGIN_API_VERSION_INFO",
    "AugmentationList", "CallbackContext", "CnnbuildError", "DataContext", "DataError", "DataNotFound", "DataParams", "Datasets", "Factor",
    "LayerContext", "LayerShape", "Number", "Pair", "Params", "PluginError", "Probability", "RunError", "RunPath", "RunRecord", "ShapeError",
    "SkippedFile", "Spec", "SpecError", "SpecPath", "build_model", "datasets_from_arrays", "file_list_source", "hookimpl",
    "load_run", "load_spec", "run", "run_sweep",
]  # fmt: skip


def __getattr__(name: str) -> Any:
    # build_model and run need TensorFlow; import them only when asked for.
    if name == "build_model":
        from cnnbuild.builder.model.build import build_model

        return build_model
    if name == "run":
        from cnnbuild.builder.training import run

        return run
    if name == "file_list_source":
        from cnnbuild.data.files import file_list_source

        return file_list_source
    if name in ("RunRecord", "load_run"):  # run folders: not needed to validate a spec
        import cnnbuild.runs

        return getattr(cnnbuild.runs, name)
    if name == "run_sweep":
        from cnnbuild.sweep import run_sweep

        return run_sweep
    if name == "datasets_from_arrays":
        from cnnbuild.data.arrays import from_arrays

        return from_arrays
    raise AttributeError(f"module 'cnnbuild' has no attribute {name!r}")
