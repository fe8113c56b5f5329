"""What runs a model: the :class:`ExportedModel` interface every runtime has, and the run
directory's in-memory serving graph (:class:`KerasModel`). Each export format's module holds its
own runtime and opens its exports (``open``): LiteRT, ONNX Runtime, TensorFlow for a SavedModel.

Every runtime has the same call: uint8 ``(N, H, W, C)`` images -> float32 ``(N, classes)`` probabilities.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from cnnbuild.errors import ExportError
from cnnbuild.export.metadata import ExportMetadata

log = logging.getLogger(__name__)


class ExportedModel:
    """A model that takes raw uint8 images and returns class probabilities; ``info`` says what it is."""

    runtime = ""

    def __init__(self, path: Path, info: ExportMetadata) -> None:
        self.path = path
        self.info = info

    def __call__(self, images: Any) -> Any:
        raise NotImplementedError

    def warm(self) -> None:
        """Run the model once at its input size, so the first real call does not pay for compiling or allocating."""
        import numpy as np

        height, width = self.info.input.image_size
        self(np.zeros((1, height, width, self.info.input.channels), np.uint8))

    def size_bytes(self) -> int:
        """The bytes a deployment copies: the file, or every file of a SavedModel folder."""
        if self.path.is_dir():
            return sum(item.stat().st_size for item in self.path.rglob("*") if item.is_file())
        return self.path.stat().st_size


class KerasModel(ExportedModel):
    """A run's Keras model inside the same serving graph the exports are made from."""

    runtime = "TensorFlow (Keras model)"

    def __init__(self, path: Path, info: ExportMetadata, module: Any) -> None:
        super().__init__(path, info)
        self.module = module

    def __call__(self, images: Any) -> Any:
        return self.module(images)


def sidecar_metadata(path: Path) -> ExportMetadata:
    """The metadata in ``path``'s sidecar ``PATH.json``; ExportError when there is none."""
    sidecar = path.with_name(path.name + ".json")
    if not sidecar.is_file():
        raise ExportError(f"{path}: no cnnbuild metadata inside it and no {sidecar.name} beside it; export the model with cnnbuild export")
    return ExportMetadata.from_json(sidecar.read_bytes(), str(sidecar))


def read_bytes(path: Path) -> bytes:
    """``path``'s bytes; ExportError saying why they cannot be read."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ExportError(f"{path}: cannot read: {exc.strerror or exc}") from exc
