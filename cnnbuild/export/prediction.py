"""``cnnbuild predict`` with an exported model: the image files decoded as training decodes
them (with Pillow: TFLite and ONNX exports never load TensorFlow), the model's own runtime, the
same answers as the run gives (within the parity check's tolerance, which covers this decode)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnnbuild.contracts.ranking import top_classes
from cnnbuild.contracts.tasks import task_named
from cnnbuild.export.answers import pixel_mask, task_answer

if TYPE_CHECKING:
    from cnnbuild.data.mask_pngs import MaskFolder
    from cnnbuild.export.runtimes import ExportedModel

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


def predict_images(
    model_path: str | Path, inputs: list[str | Path], *, top_k: int = 1, allow_modified: bool = False, masks_out: str | Path = "masks"
) -> list[dict[str, Any]]:
    """For each image: its top-k classes with probabilities (labels, values or a mask, by the
    export's task), or an ``error`` saying why it was skipped.

    ``model_path`` is an exported model (.tflite, .onnx, a SavedModel or export folder); a file
    changed since the export refuses it unless ``allow_modified`` (then a warning says so). A
    segmentation export writes each image's mask into ``masks_out`` (see :func:`predict_masks`).
    """
    import numpy as np

    from cnnbuild.builder.inference import image_paths
    from cnnbuild.export.location import open_exported

    paths, not_used = image_paths(inputs)
    model = open_exported(model_path, allow_modified=allow_modified)
    if task_named(model.info.output.task).per_pixel:
        return predict_masks(model, paths, masks_out) + not_used
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


def predict_masks(model: ExportedModel, paths: list[Path], out: str | Path) -> list[dict[str, Any]]:
    """A segmentation export's answer for each image, as ``cnnbuild predict`` gives it for the run:
    the image decoded and resized as training does (Pillow, bilinear), its mask of class indices
    written into ``out`` as a palette PNG at the image's own size (nearest neighbour; ``mask``: its
    path) and each class's share of the pixels (``classes``); or an ``error``."""
    from cnnbuild.data.mask_pngs import MaskFolder, check_mask_classes

    check_mask_classes(len(model.info.class_names))  # before any image is predicted
    folder = MaskFolder(out, paths)  # refuses, before any work, to replace a file predict did not write
    results: list[dict[str, Any]] = []
    try:
        _masks_into(model, paths, folder, results)
    finally:
        folder.close()
    return results


def _masks_into(model: ExportedModel, paths: list[Path], folder: MaskFolder, results: list[dict[str, Any]]) -> None:
    from cnnbuild.data.mask_pngs import class_shares
    from cnnbuild.data.masks import decode_image

    names = model.info.class_names
    for index, path in enumerate(paths):
        result: dict[str, Any] = {"path": str(path)}
        results.append(result)
        checked = read_pixels(path, model.info.input)  # the limits and the reasons predict gives for every export
        if isinstance(checked, str):
            result["error"] = checked
            continue
        try:
            pixels, size = decode_image(path, model.info.input)
        except Exception as exc:  # Pillow raises many kinds for a bad file
            result["error"] = f"cannot decode: {exc}"
            continue
        mask = pixel_mask(model(pixels[None])[0])
        result["mask"] = str(folder.save(index, mask, size, len(names)))
        result["classes"] = class_shares(mask, names)
