"""``cnnbuild predict`` with an exported model: the image files decoded as training decodes
them (with Pillow: TFLite and ONNX exports never load TensorFlow), the model's own runtime, the
same answers as the run gives (within the parity check's tolerance, which covers this decode)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cnnbuild.contracts.ranking import top_classes
from cnnbuild.export.answers import task_answer

#: a file with more pixels is refused, as training's checks refuse it (Pillow's decompression-bomb limit)
MAX_PIXELS = 178_956_970


def read_pixels(path: Path, model_input: Any) -> Any:
    """uint8 pixels of the image file at ``path`` for an exported model's ``input`` (channels and
    size), decoded as training decodes; or a string saying why the file cannot be used."""
    from cnnbuild.export.images import ImageRejected, decode_image

    try:
        return decode_image(path.read_bytes(), model_input.channels, max_pixels=MAX_PIXELS, size=model_input.image_size)
    except ImageRejected as exc:
        return exc.reason
    except OSError as exc:
        return f"cannot read: {exc.strerror or exc}"


def predict_images(model_path: str | Path, inputs: list[str | Path], *, top_k: int = 1, allow_modified: bool = False) -> list[dict[str, Any]]:
    """For each image: its top-k classes with probabilities, or an ``error`` saying why it was skipped.

    ``model_path`` is an exported model (.tflite, .onnx, a SavedModel or export folder); a file
    changed since the export refuses it unless ``allow_modified`` (then a warning says so).
    """
    import numpy as np

    from cnnbuild.builder.inference import image_paths
    from cnnbuild.export.location import open_exported

    paths, not_used = image_paths(inputs)
    model = open_exported(model_path, allow_modified=allow_modified)
    names = model.info.class_names
    results: list[dict[str, Any]] = []
    for path in paths:
        pixels = read_pixels(path, model.info.input)
        if isinstance(pixels, str):
            results.append({"path": str(path), "error": pixels})
            continue
        row = np.asarray(model(pixels[None])[0], dtype="float64")
        answer = task_answer(row, model.info)
        if answer is not None:  # multi-label or regression
            results.append({"path": str(path), **answer})
            continue
        order = top_classes(row, top_k)
        results.append({"path": str(path), "predictions": [{"class": names[i], "probability": float(row[i])} for i in order]})
    return results + not_used  # what the folders held besides images, each with why it was not used
