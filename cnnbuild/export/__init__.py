"""Exported models: ``export_run`` (verified SavedModel, TFLite and ONNX exports of a run), ``open_model``
(an export or a run, as one callable taking uint8 images of any size) and ``predict_images``.

Above ``builder`` in the layering: it reads runs and builds on the builder's model loading and data.
"""

from __future__ import annotations

from typing import Any

__all__ = ["export_run", "open_model", "predict_images"]


def __getattr__(name: str) -> Any:
    # exporting imports TensorFlow and the converters; import them only when asked for
    if name == "export_run":
        from cnnbuild.export.exporter import export_run

        return export_run
    if name == "open_model":
        from cnnbuild.export.location import open_model

        return open_model
    if name == "predict_images":
        from cnnbuild.export.prediction import predict_images

        return predict_images
    raise AttributeError(f"module 'cnnbuild.export' has no attribute {name!r}")
