"""Predicted masks as files: a palette PNG whose pixel values are class indices (class 0 black, the
others in matplotlib's tab10 colours), resized to the image's size with nearest neighbour, and the
share of the image each class covers. Run predictions, export predictions, evaluations and the
server write masks this one way (no TensorFlow)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from cnnbuild.data.written_files import WrittenFiles

#: a mask PNG holds one byte a pixel: class indices 0..255
MAX_MASK_CLASSES = 256


def check_mask_classes(num_classes: int) -> None:
    """DataError when masks of ``num_classes`` classes cannot be written as mask PNGs (one byte a pixel)."""
    from cnnbuild.errors import DataError

    if num_classes > MAX_MASK_CLASSES:
        raise DataError(
            f"the model has {num_classes} classes, and a mask PNG holds class indices 0..{MAX_MASK_CLASSES - 1} only; "
            f"masks of more than {MAX_MASK_CLASSES} classes cannot be written: train with at most {MAX_MASK_CLASSES} classes"
        )


def mask_palette(num_classes: int) -> list[int]:
    """A flat RGB palette of 256 entries: class 0 black, the others from matplotlib's tab10 (repeating)."""
    from matplotlib import colormaps

    check_mask_classes(num_classes)

    colours = [(0, 0, 0)] + [tuple(int(255 * c) for c in colormaps["tab10"].colors[(index - 1) % 10]) for index in range(1, num_classes)]
    flat = [value for colour in colours for value in colour]
    return flat + [0] * (768 - len(flat))


def mask_picture(mask: Any, size: tuple[int, int], num_classes: int) -> Any:
    """``mask`` (class indices, (H, W)) resized to ``size`` (width, height) with nearest neighbour, as a palette image."""
    from PIL import Image

    check_mask_classes(num_classes)  # never wrap an index past 255 into another class
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


#: the record, in a --masks-out folder, of the mask PNGs predict wrote there (name -> sha256)
MASKS_RECORD = "masks.json"
_WRITTEN_BY = "cnnbuild predict"


class MaskFolder:
    """A ``--masks-out`` folder: one ``STEM.png`` per image, and ``masks.json`` naming each PNG
    predict wrote with its sha256. Predicting into the folder again replaces those PNGs; a file
    predict did not write (a dataset's own masks, or one changed since) is never replaced: the
    constructor refuses, before any mask is computed."""

    def __init__(self, out: str | Path, images: list[Path]) -> None:
        from cnnbuild.errors import DataError

        self.path = Path(out)
        if self.path.exists() and not self.path.is_dir():
            raise DataError(f"--masks-out {self.path}: a file, not a folder; choose another --masks-out folder")
        self.record = WrittenFiles(self.path, MASKS_RECORD, _WRITTEN_BY)
        used: set[str] = set()
        self.targets = [mask_path(self.path, image, used) for image in images]
        foreign = self.record.foreign(target.name for target in self.targets)
        if foreign:
            raise DataError(
                f"--masks-out {self.path}: {self.path / foreign[0]} already there and not written by cnnbuild predict (or changed since); "
                "nothing was replaced: choose another --masks-out folder, or move that file away"
            )
        self._earlier = self.record.unchanged()
        self._written: dict[str, str] = {}
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DataError(f"cannot write masks to {self.path}: {exc.strerror or exc}; choose a writable folder with --masks-out") from exc

    def save(self, index: int, mask: Any, size: tuple[int, int], num_classes: int) -> Path:
        """The mask of image ``index`` (as passed in) written at ``size`` (width, height); its path."""
        import hashlib

        from cnnbuild.errors import DataError

        target = self.targets[index]
        data = mask_png(mask, size, num_classes)
        try:
            target.write_bytes(data)
        except OSError as exc:
            raise DataError(f"cannot write {target}: {exc.strerror or exc}; choose a writable folder with --masks-out") from exc
        self._written[target.name] = hashlib.sha256(data).hexdigest()
        return target

    def close(self) -> None:
        """Write the record naming every PNG predict wrote here (this time and, still unchanged, before)."""
        from cnnbuild.errors import DataError

        try:
            self.record.write(self._earlier | self._written)
        except OSError as exc:
            raise DataError(f"cannot write {self.path / MASKS_RECORD}: {exc.strerror or exc}; choose a writable folder with --masks-out") from exc


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
