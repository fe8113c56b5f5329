"""Predict masks with a finished ``task: segmentation`` run: each image decoded as training decodes
it, its mask of class indices written as a palette PNG at the image's own size (nearest
neighbour), with the share of the image each class covers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cnnbuild.builder.inference import FinishedRun, call_model, image_paths, open_finished
from cnnbuild.errors import DataError
from cnnbuild.spec.labels import label_encoding


def mask_palette(num_classes: int) -> list[int]:
    """A flat RGB palette of 256 entries: class 0 black, the others from matplotlib's tab10 (repeating)."""
    from matplotlib import colormaps

    colours = [(0, 0, 0)] + [tuple(int(255 * c) for c in colormaps["tab10"].colors[(index - 1) % 10]) for index in range(1, num_classes)]
    flat = [value for colour in colours for value in colour]
    return flat + [0] * (768 - len(flat))


def save_mask(mask: Any, size: tuple[int, int], path: Path, num_classes: int) -> None:
    """``mask`` (class indices, (H, W)) resized to ``size`` (width, height) with nearest neighbour, as a palette PNG."""
    from PIL import Image

    picture = Image.fromarray(mask.astype("uint8"), mode="L").resize(size, Image.Resampling.NEAREST).convert("P")
    picture.putpalette(mask_palette(num_classes))
    picture.save(path)


def _outputs_to_masks(finished: FinishedRun, outputs: Any) -> Any:
    from cnnbuild.builder.reports.segmentation_report import predicted_masks

    labels = label_encoding(finished.spec, len(finished.class_names))
    return predicted_masks(outputs, labels.mode == "binary_mask", labels.from_logits)


def predict_masks(run_dir: str | Path, inputs: list[str | Path], out: str | Path, *, allow_unsafe: bool = False) -> list[dict[str, Any]]:
    """For each image: ``mask`` (the PNG written in ``out``, named after the image) and ``classes``
    (each class's share of the pixels); an image that cannot be read gets an ``error`` instead.
    What a folder holds besides images comes last, each with ``not_used``."""
    import numpy as np

    from cnnbuild.data.masks import decode_image

    finished = open_finished(run_dir, allow_unsafe=allow_unsafe)
    spec, names = finished.spec, finished.class_names
    paths, not_used = image_paths(inputs)
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot write masks to {out}: {exc.strerror or exc}; choose a writable folder with --masks-out") from exc
    results: list[dict[str, Any]] = []
    used: set[str] = set()
    for path in paths:
        result: dict[str, Any] = {"path": str(path)}
        results.append(result)
        try:
            image, size = decode_image(path, spec.data)
        except Exception as exc:  # Pillow raises many kinds for a bad file
            result["error"] = f"cannot decode: {exc}"
            continue
        outputs = np.asarray(call_model(finished, lambda model, image=image: model.predict_on_batch(image[None].astype("float32"))), dtype="float32")
        mask = _outputs_to_masks(finished, outputs)[0]
        name = path.stem
        while name in used:  # two inputs with one stem (a/x.jpg, b/x.png) keep both masks
            name += "_"
        used.add(name)
        target = out / f"{name}.png"
        save_mask(mask, size, target, len(names))
        counts = np.bincount(mask.reshape(-1), minlength=len(names))
        result["mask"] = str(target)
        result["classes"] = {class_name: round(float(count) / mask.size, 6) for class_name, count in zip(names, counts, strict=True)}
    return results + not_used
