"""Predicted masks as files: a palette PNG whose pixel values are class indices (class 0 black, the
others in matplotlib's tab10 colours), resized to the image's size with nearest neighbour, and the
share of the image each class covers. Run predictions, export predictions, evaluations and the
server write masks this one way (no TensorFlow)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any


def mask_palette(num_classes: int) -> list[int]:
    """A flat RGB palette of 256 entries: class 0 black, the others from matplotlib's tab10 (repeating)."""
    from matplotlib import colormaps

    colours = [(0, 0, 0)] + [tuple(int(255 * c) for c in colormaps["tab10"].colors[(index - 1) % 10]) for index in range(1, num_classes)]
    flat = [value for colour in colours for value in colour]
    return flat + [0] * (768 - len(flat))


def mask_picture(mask: Any, size: tuple[int, int], num_classes: int) -> Any:
    """``mask`` (class indices, (H, W)) resized to ``size`` (width, height) with nearest neighbour, as a palette image."""
    from PIL import Image

    picture = Image.fromarray(mask.astype("uint8"), mode="L").resize(size, Image.Resampling.NEAREST).convert("P")
    picture.putpalette(mask_palette(num_classes))
    return picture


def save_mask(mask: Any, size: tuple[int, int], path: Path, num_classes: int) -> None:
    """``mask`` at ``size`` (width, height) written to ``path`` as a palette PNG of class indices."""
    mask_picture(mask, size, num_classes).save(path, "PNG")


def mask_png(mask: Any, size: tuple[int, int], num_classes: int) -> bytes:
    """The palette PNG :func:`save_mask` writes, as bytes."""
    buffer = io.BytesIO()
    mask_picture(mask, size, num_classes).save(buffer, "PNG")
    return buffer.getvalue()


def mask_folder(out: str | Path) -> Path:
    """``out``, made if missing, for predicted mask PNGs; DataError when it cannot be."""
    from cnnbuild.errors import DataError

    folder = Path(out)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot write masks to {folder}: {exc.strerror or exc}; choose a writable folder with --masks-out") from exc
    return folder


def mask_path(folder: Path, image: Path, used: set[str]) -> Path:
    """``folder/STEM.png`` for the mask of ``image``; two images with one stem (a/x.jpg, b/x.png) keep both masks."""
    name = image.stem
    while name in used:
        name += "_"
    used.add(name)
    return folder / f"{name}.png"


def class_shares(mask: Any, names: list[str]) -> dict[str, float]:
    """Each class's share of the mask's pixels (six decimals), every class named, in class order."""
    import numpy as np

    counts = np.bincount(mask.reshape(-1), minlength=len(names))
    return {name: round(float(count) / mask.size, 6) for name, count in zip(names, counts, strict=True)}
