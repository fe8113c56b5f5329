"""The images an export is checked and calibrated on, drawn from the run's own data.

Validation examples come in pairs: the raw uint8 image an exported model is given, and the
float32 image the Keras model is given. For file-based sources the raw image is the file
decoded as ``predict`` and ``serve`` decode it (:mod:`cnnbuild.export.images`, no TensorFlow),
and the Keras image is what the run's validation pipeline made of it (crop, resize), so the
check covers the decode and the in-graph preprocessing users get. For array
sources the raw image is the source's image rounded to uint8 and the Keras model gets the same
pixels as float32, so the check measures the conversion alone.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cnnbuild.errors import DataError, ExportError

if TYPE_CHECKING:
    from cnnbuild.contracts.data import Datasets
    from cnnbuild.export.metadata import InputFacts
    from cnnbuild.spec.document import Spec


@dataclass
class Examples:
    """Validation examples: ``raw`` uint8 images (any sizes), ``keras_inputs`` float32 (N, h, w, C), ``labels``."""

    raw: list[Any]
    keras_inputs: Any
    labels: Any
    from_files: bool


def load_data(spec: Spec, class_names: list[str]) -> Datasets:
    """The run's data, read again with its own data source (the classes must not have changed)."""
    from cnnbuild.builder.data.source import load_source

    try:
        source = load_source(spec)
    except DataError as exc:
        raise ExportError(f"cannot verify the export: the run's data cannot be read again ({exc}); the parity check runs the model on the run's validation split") from exc
    if source.class_names != class_names:
        raise DataError(f"the data's classes {source.class_names} differ from the run's {class_names}; the parity check needs the run's own data")
    return source


def validation_examples(source: Datasets, facts: InputFacts, limit: int) -> Examples:
    """Up to ``limit`` validation examples, in the split's order; file-based ones decoded as predict and serve decode them."""
    import numpy as np

    if source.validation is None or source.validation_count == 0:
        raise ExportError("the run's data has no validation split (validation_split: 0), so the export cannot be verified; train with a validation split")
    images, labels = [], []
    for image, label in source.validation.take(limit).as_numpy_iterator():
        images.append(image)
        labels.append(int(label) if np.ndim(label) == 0 else np.asarray(label, dtype="float64"))  # multi-label and regression: a target vector
    keras_inputs = np.stack(images).astype("float32")
    paths = _paths(source, "validation")
    if paths is None:
        raw = [_to_uint8(image) for image in keras_inputs]
        return Examples(raw, np.stack(raw).astype("float32"), np.asarray(labels), from_files=False)
    if len(paths) < len(images):
        raise ExportError(f"the data source listed {len(paths)} validation files but delivered {len(images)} images; cannot pair them for the parity check")
    raw = [_read(path, facts) for path in paths[: len(images)]]
    return Examples(raw, keras_inputs, np.asarray(labels), from_files=True)


def calibration_images(source: Datasets, facts: InputFacts, count: int, seed: int | None) -> list[Any]:
    """``count`` raw uint8 training images (a seeded sample) for int8 calibration."""
    import numpy as np

    paths = _paths(source, "train")
    if paths is not None:
        order = np.random.default_rng(seed or 0).permutation(len(paths))[:count]
        return [_read(paths[index], facts) for index in sorted(order)]
    return [_to_uint8(image) for image, _ in source.train.take(count).as_numpy_iterator()]


def _paths(source: Datasets, split: str) -> list[str] | None:
    if source.files is None:
        return None
    return [path for path, _, where in source.files if where == split]


def _to_uint8(image: Any) -> Any:
    import numpy as np

    return np.clip(np.round(image), 0, 255).astype("uint8")


def _read(path: str, facts: InputFacts) -> Any:
    """The file decoded as ``predict`` and ``serve`` decode it (so the parity record covers what users get)."""
    from cnnbuild.export.images import ImageRejected, decode_image

    try:
        with open(os.fsencode(path), "rb") as handle:
            return decode_image(handle.read(), facts.channels, max_pixels=1 << 31, size=facts.image_size)
    except (OSError, ImageRejected) as exc:
        raise DataError(f"{path}: cannot read it again for the parity check: {exc}") from exc
