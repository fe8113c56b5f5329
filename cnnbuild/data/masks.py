"""Segmentation data: images and masks of class indices paired by file stem, every unusable pair
listed (never dropped silently), a deterministic split stratified by the classes present, and
``Datasets`` of ``(image, mask)``.

A mask is a single-channel PNG (mode L, I or I;16: the value is the class index) or a palette PNG
(mode P: the palette index is the class index, whatever its colour). Images are resized with
bilinear interpolation and masks with nearest neighbour, so a mask holds class indices only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cnnbuild.contracts.data import DataContext, DataParams, Datasets, SkippedFile
from cnnbuild.contracts.values import CHANNELS
from cnnbuild.data.graph_map import graph_map
from cnnbuild.data.splitting import stratified_split
from cnnbuild.data.walk import IMAGE_SUFFIXES
from cnnbuild.errors import DataError

#: PIL modes whose pixel values are class indices
INDEX_MODES = frozenset({"L", "P", "I", "I;16", "I;16L", "I;16B", "1"})


@dataclass(frozen=True)
class MaskPair:
    """An image and its mask, decoded at the data's size: uint8 ``(H, W, C)`` and int32 ``(H, W)``."""

    image_path: str
    mask_path: str
    image: Any
    mask: Any


def _files(folder: Path) -> dict[str, list[Path]]:
    by_stem: dict[str, list[Path]] = {}
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith("."):
            by_stem.setdefault(path.stem, []).append(path)
    return by_stem


def decode_image(path: Path, params: DataParams) -> tuple[Any, tuple[int, int]]:
    import numpy as np
    from PIL import Image, ImageOps

    with Image.open(path) as opened:
        image = ImageOps.exif_transpose(opened)
        size = image.size
        mode = {"rgb": "RGB", "grayscale": "L", "rgba": "RGBA"}[params.color_mode]
        resized = image.convert(mode).resize((params.image_size[1], params.image_size[0]), Image.Resampling.BILINEAR)
    array = np.asarray(resized, dtype="uint8")
    return array.reshape(*array.shape[:2], CHANNELS[params.color_mode]), size


def _decode_mask(path: Path, params: DataParams) -> tuple[Any, tuple[int, int], str]:
    """``(indices int32 (H, W) at the data's size, the mask's own (width, height), its mode)``; None for a mode without indices."""
    import numpy as np
    from PIL import Image

    with Image.open(path) as mask:
        size, mode = mask.size, mask.mode
        if mode not in INDEX_MODES:
            return None, size, mode
        indices = np.asarray(mask if mode != "1" else mask.convert("L"), dtype="int64")
    resized = Image.fromarray(indices.astype("int32"), mode="I").resize((params.image_size[1], params.image_size[0]), Image.Resampling.NEAREST)
    return np.asarray(resized, dtype="int32"), size, mode


def pair_masks(images: Path, masks: Path, num_classes: int, ignore_index: int | None, params: DataParams) -> tuple[list[MaskPair], list[SkippedFile]]:
    """Every image with the mask of the same stem, decoded; each image or mask that cannot be used, with why."""
    import numpy as np

    for folder, what in ((images, "images"), (masks, "masks")):
        if not folder.is_dir():
            raise DataError(f"{what} folder {folder} does not exist; give data.{what} as a folder of {'images' if what == 'images' else 'mask PNGs named like the images'}")
    image_files, mask_files = _files(images), _files(masks)
    skipped: list[SkippedFile] = []
    pairs: list[MaskPair] = []
    for stem, paths in image_files.items():
        for extra in paths[1:]:
            skipped.append(SkippedFile(str(extra), f"another image has the stem {stem!r} ({paths[0].name}): a mask pairs with one image; rename one"))
        image_path = paths[0]
        found = mask_files.get(stem)
        if not found:
            skipped.append(SkippedFile(str(image_path), f"no mask named {stem}.png (or another image suffix) in {masks}"))
            continue
        mask_path = found[0]
        try:
            image, image_size = decode_image(image_path, params)
        except Exception as exc:  # Pillow raises many kinds for a bad file
            skipped.append(SkippedFile(str(image_path), f"cannot decode the image: {exc}"))
            continue
        try:
            mask, mask_size, mode = _decode_mask(mask_path, params)
        except Exception as exc:
            skipped.append(SkippedFile(str(mask_path), f"cannot decode the mask: {exc}"))
            continue
        if mask is None:
            skipped.append(SkippedFile(str(mask_path), f"mask is {mode}, not class indices: save it as a single-channel (L) or palette (P) PNG whose values are class indices"))
            continue
        if mask_size != image_size:
            skipped.append(
                SkippedFile(str(mask_path), f"mask is {mask_size[0]}x{mask_size[1]} but its image {image_path.name} is {image_size[0]}x{image_size[1]} (width x height); a mask must have its image's size")
            )
            continue
        values = np.unique(mask)
        bad = [int(v) for v in values if v >= num_classes and v != ignore_index]
        if bad:
            shown = ", ".join(map(str, bad[:5])) + (", ..." if len(bad) > 5 else "")
            ignore = f", or the ignore index {ignore_index}" if ignore_index is not None else ""
            skipped.append(SkippedFile(str(mask_path), f"mask holds index {shown}, outside the classes 0..{num_classes - 1}{ignore}; fix the mask or name more classes in task.classes"))
            continue
        pairs.append(MaskPair(str(image_path), str(mask_path), image, mask))
    for stem, paths in mask_files.items():
        if stem not in image_files:
            skipped.extend(SkippedFile(str(path), f"no image named {stem}.* in {images}") for path in paths)
    return pairs, skipped


def presence_key(mask: Any, num_classes: int) -> int:
    """Which classes a mask shows, as one integer (a bit per class): the split's stratum."""
    import numpy as np

    present = np.unique(mask)
    return sum(1 << int(value) for value in present if 0 <= value < num_classes)


def split_masks(masks: Sequence[Any], num_classes: int, fraction: float, seed: int | None) -> tuple[list[int], list[int]]:
    """Indices ``(train, validation)``, stratified by the set of classes each mask shows (the same seed, the same split)."""
    keys = [presence_key(mask, num_classes) for mask in masks]
    return stratified_split(keys, fraction, seed)


def datasets_from_masks(
    images: Any, masks: Any, class_names: list[str], params: DataParams, context: DataContext, *, skipped: Sequence[SkippedFile] = (), where: str
) -> Datasets:
    """``Datasets`` of ``(image float32 (H, W, C) in 0..255, mask int32 (H, W))`` from arrays, split by :func:`split_masks`
    with ``context.seed``. ``images`` is ``(N, H, W, C)`` and ``masks`` ``(N, H, W)`` of class indices, both already at
    ``params.image_size``; ``skipped`` lists what the source left out. Part of the plugin API (1.5)."""
    import numpy as np
    import tensorflow as tf

    images = np.asarray(images, dtype="uint8")
    masks = np.asarray(masks, dtype="int32")
    if len(images) == 0:
        raise DataError(f"{where}: no usable image and mask pair ({len(skipped)} skipped: see skipped.json or the list after the run)")
    train_index, validation_index = split_masks(masks, len(class_names), params.validation_split, context.seed)

    def dataset(index: list[int]) -> Any:
        if not index:
            return None
        return graph_map(tf.data.Dataset.from_tensor_slices((images[index], masks[index])), lambda image, mask: (tf.cast(image, tf.float32), mask))

    fingerprint = hashlib.sha256(images.tobytes() + masks.tobytes() + "|".join(class_names).encode()).hexdigest()
    return Datasets(
        train=dataset(train_index),
        validation=dataset(validation_index),
        class_names=list(class_names),
        train_count=len(train_index),
        validation_count=len(validation_index),
        skipped=list(skipped),
        fingerprint=fingerprint,
        task="segmentation",
    )
