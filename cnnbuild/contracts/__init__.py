"""The values plugins and specs share: parameter types, data and callback contexts, shapes, the run layout.

This is the bottom of the package: it imports nothing else of cnnbuild, and no TensorFlow.
"""

from __future__ import annotations

from cnnbuild.contracts.callbacks import CallbackContext
from cnnbuild.contracts.data import DataContext, DataParams, Datasets, SkippedFile
from cnnbuild.contracts.layers import LayerContext, LayerShape, Shape, ShapeError
from cnnbuild.contracts.plugin_api import PLUGIN_API_VERSION, PLUGIN_API_VERSION_INFO
from cnnbuild.contracts.values import AugmentationList, Factor, Number, Pair, Params, Probability, RunPath, SpecPath

__all__ = [
    "PLUGIN_API_VERSION", "PLUGIN_API_VERSION_INFO", "AugmentationList", "CallbackContext", "DataContext", "DataParams", "Datasets", "Factor",
    "LayerContext", "LayerShape", "Number", "Pair", "Params", "Probability", "RunPath", "Shape", "ShapeError", "SkippedFile", "SpecPath",
]  # fmt: skip
