"""Predict masks with a finished ``task: segmentation`` run: each image decoded as training decodes
it, its mask of class indices written as a palette PNG at the image's own size (nearest
neighbour), with the share of the image each class covers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cnnbuild.builder.inference import FinishedRun, call_model, image_paths, open_finished
from cnnbuild.data.mask_pngs import MaskFolder, check_mask_classes, class_shares
from cnnbuild.spec.labels import label_encoding


def _outputs_to_masks(finished: FinishedRun, outputs: Any) -> Any:
    from cnnbuild.builder.reports.segmentation_report import predicted_masks

    labels = label_encoding(finished.spec, len(finished.class_names))
    return predicted_masks(outputs, labels.mode == "binary_mask", labels.from_logits)


def predict_masks(run_dir: str | Path, inputs: list[str | Path], out: str | Path, *, allow_unsafe: bool = False) -> list[dict[str, Any]]:
    """For each image: ``mask`` (the PNG written in ``out``, named after the image) and ``classes``
    (each class's share of the pixels); an image that cannot be read gets an ``error`` instead.
    What a folder holds besides images comes last, each with ``not_used``; a file in ``out`` that
    predict did not write is never replaced (see :class:`MaskFolder`)."""
    paths, not_used = image_paths(inputs)
    folder = MaskFolder(out, paths)  # refuses, before any work, to replace a file predict did not write
    finished = open_finished(run_dir, allow_unsafe=allow_unsafe)
    check_mask_classes(len(finished.class_names))  # before any image is predicted
    results: list[dict[str, Any]] = []
    try:
        _predict_into(finished, paths, folder, results)
    finally:
        folder.close()
    return results + not_used


def _predict_into(finished: FinishedRun, paths: list[Path], folder: MaskFolder, results: list[dict[str, Any]]) -> None:
    import numpy as np

    from cnnbuild.data.masks import decode_image

    spec, names = finished.spec, finished.class_names
    for index, path in enumerate(paths):
        result: dict[str, Any] = {"path": str(path)}
        results.append(result)
        try:
            image, size = decode_image(path, spec.data)
        except Exception as exc:  # Pillow raises many kinds for a bad file
            result["error"] = f"cannot decode: {exc}"
            continue
        outputs = np.asarray(call_model(finished, lambda model, image=image: model.predict_on_batch(image[None].astype("float32"))), dtype="float32")
        mask = _outputs_to_masks(finished, outputs)[0]
        result["mask"] = str(folder.save(index, mask, size, len(names)))
        result["classes"] = class_shares(mask, names)
