"""The values plugins and specs share: parameter types, data and callback contexts, shapes, the run layout.

This is the bottom of the package: it imports nothing else of cnnbuild, and no TensorFlow.
"""

from __future__ import annotations

from cnnbuild.contracts.callbacks import CallbackContext
from cnnbuild.contracts.data import DataContext, DataParams, Datasets, SkippedFile
from cnnbuild.contracts.layers import LayerShape, Shape, ShapeError
from cnnbuild.contracts.values import Factor, Number, Pair, Params, RunPath, SpecPath

__all__ = [
    "CallbackContext", "DataContext", "DataParams", "Datasets", "Factor", "LayerShape", "Number", "Pair", "Params",
    "RunPath", "Shape", "ShapeError", "SkippedFile", "SpecPath",
]  # fmt: skip
