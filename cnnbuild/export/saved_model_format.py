"""SavedModel: the serving module saved with TensorFlow, the metadata as an asset and a signature."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from cnnbuild.export.metadata import SAVED_MODEL_ASSET, ExportMetadata


def convert(module: Any, info: ExportMetadata, out: Path) -> None:
    """Save ``module`` to the folder ``out``: ``serving_default`` (uint8 images -> probabilities),
    ``metadata`` (the document as a string) and ``assets/cnnbuild.json``."""
    import tensorflow as tf

    text = info.to_json(indent=1)
    with tempfile.TemporaryDirectory(prefix="cnnbuild-savedmodel-") as folder:
        source = Path(folder) / SAVED_MODEL_ASSET
        source.write_text(text, encoding="utf-8")
        module.metadata_asset = tf.saved_model.Asset(str(source))  # copied into assets/ by save
        module.metadata = tf.function(lambda: {"json": tf.constant(text)}, input_signature=[])
        tf.saved_model.save(module, str(out), signatures={"serving_default": module.serve, "metadata": module.metadata})
