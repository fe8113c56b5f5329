"""SavedModel: the serving module saved with TensorFlow, the metadata as an asset and a signature;
run with TensorFlow (:class:`SavedModelModel`)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from cnnbuild.errors import ExportError
from cnnbuild.export.metadata import INPUT_NAME, OUTPUT_NAME, SAVED_MODEL_ASSET, ExportMetadata
from cnnbuild.export.runtimes import ExportedModel

VARIABLES_INDEX = "variables/variables.index"


class SavedModelModel(ExportedModel):
    """The SavedModel's serving signature, run by TensorFlow."""

    runtime = "TensorFlow (SavedModel)"

    def __init__(self, path: Path, info: ExportMetadata) -> None:
        super().__init__(path, info)
        from cnnbuild.data.native import import_tensorflow

        self.tf = import_tensorflow()  # quietly, and the fast way in a command's process
        self.function = self.tf.saved_model.load(str(path)).signatures["serving_default"]

    def __call__(self, images: Any) -> Any:
        return self.function(**{INPUT_NAME: self.tf.constant(images)})[OUTPUT_NAME].numpy()


def convert(module: Any, info: ExportMetadata, quantize: str, folder: Path, calibration: list[Any]) -> None:
    """Save ``module`` to ``folder``: ``serving_default`` (uint8 images -> probabilities),
    ``metadata`` (the document as a string) and ``assets/cnnbuild.json``."""
    import tensorflow as tf

    text = info.to_json(indent=1)
    with tempfile.TemporaryDirectory(prefix="cnnbuild-savedmodel-") as scratch:
        source = Path(scratch) / SAVED_MODEL_ASSET
        source.write_text(text, encoding="utf-8")
        module.metadata_asset = tf.saved_model.Asset(str(source))  # copied into assets/ by save
        module.metadata = tf.function(lambda: {"json": tf.constant(text)}, input_signature=[])
        tf.saved_model.save(module, str(folder), signatures={"serving_default": module.serve, "metadata": module.metadata})


def open(path: Path) -> SavedModelModel:
    """The SavedModel folder ``path`` loaded with TensorFlow; ExportError naming what is missing or wrong."""
    asset = path / "assets" / SAVED_MODEL_ASSET
    if not asset.is_file():
        raise ExportError(f"{path}: assets/{SAVED_MODEL_ASSET} is missing: not a SavedModel made by cnnbuild export")
    info = ExportMetadata.from_json(asset.read_bytes(), str(asset))
    if not (path / VARIABLES_INDEX).is_file():
        raise ExportError(f"{path}: {VARIABLES_INDEX} is missing, so the model has no weights; copy the whole export folder again, or export again")
    if not any((path / "variables").glob("variables.data-*")):
        raise ExportError(f"{path}: variables/variables.data-* is missing, so the model has no weights; copy the whole export folder again, or export again")
    from cnnbuild.builder.runtime import import_tensorflow

    import_tensorflow()
    try:
        return SavedModelModel(path, info)
    except Exception as exc:  # TensorFlow's OpError and friends: a damaged or partial SavedModel
        detail = " ".join(str(exc).split())[:300] or type(exc).__name__
        raise ExportError(f"{path}: TensorFlow cannot load this SavedModel ({detail}); copy the whole export folder again, or export again") from exc
