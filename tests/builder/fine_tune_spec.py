"""The transfer-learning spec and data the two fine-tuning test modules share (split in two so that
the two pytest-xdist workers can run them side by side)."""

from __future__ import annotations

from pathlib import Path

from ..conftest import make_images


def fine_tune_images(folder: Path) -> Path:
    """Three classes of eight 32x32 images: the smallest input the backbones take."""
    return make_images(folder / "images", {"red": 8, "green": 8, "blue": 8}, size=(32, 32))


def saved_backbone(architecture: str, folder: Path) -> tuple[Path, object]:
    """``keras.applications.ARCHITECTURE`` at 32x32 with random weights, saved to a weights file; returns the file and the network."""
    import keras

    core = getattr(keras.applications, architecture)(include_top=False, weights=None, input_shape=(32, 32, 3), pooling="avg")
    path = folder / "backbone.weights.h5"
    core.save_weights(path)
    return path, core


def spec(images: Path, weights: Path, *, architecture: str = "MobileNetV3Small", epochs: int = 1, fine_tune: str = "{epochs: 1, last_layers: 12}", callbacks: str = "[]") -> str:
    return f"""
name: transfer
seed: 5
data: {{type: image_directory, path: {images}, image_size: [32, 32], batch_size: 8}}
model:
  layers:
    - {{type: Backbone, architecture: {architecture}, weights: {weights}}}
    - {{type: Dropout, rate: 0.2}}
    - {{type: Dense, units: auto}}
compile: {{optimizer: {{type: adam, learning_rate: 0.01}}}}
train:
  epochs: {epochs}
  verbose: quiet
  fine_tune: {fine_tune}
  callbacks: {callbacks}
output: {{keep_checkpoints: 5}}
"""
