"""Data sources of ``task: segmentation``: ``image_masks`` (an images folder and a masks folder
paired by file stem) and ``shape_masks`` (synthetic shapes on textured backgrounds with their
masks, generated from a seed: made-up data for examples and tests, nothing is downloaded)."""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from pydantic import Field

from cnnbuild.contracts.data import DataContext, DataParams, Datasets
from cnnbuild.contracts.values import NonNegativeInt, Pair, SpecPath
from cnnbuild.errors import DataError, DataNotFound
from cnnbuild.plugins.builtin.synthetic_shapes import draw_shape
from cnnbuild.plugins.hookspecs import hookimpl

KINDS = ("circle", "square", "triangle", "cross")
BACKGROUND = "background"


class ImageMasksParams(DataParams):
    images: SpecPath = Field(description="folder of images, relative to the spec file")
    masks: SpecPath = Field(description="folder of mask PNGs with the images' file stems (cat.jpg -> cat.png): class indices, single-channel or palette")


def _classes(context: DataContext) -> list[str] | None:
    classes = context.task_options.get("classes")
    return [classes[key] for key in sorted(classes, key=int)] if classes else None


def image_masks_names(params: ImageMasksParams, context: DataContext) -> list[str]:
    names = _classes(context)
    if names is None:
        raise DataError("data source image_masks needs the class of each mask index: add task.classes, e.g. {0: background, 1: cell}")
    for key in ("images", "masks"):
        folder = context.resolve_path(getattr(params, key))
        if not folder.is_dir():
            raise DataNotFound(f"data.{key}: {folder} is not a folder (yet)")
    return names


def load_image_masks(params: ImageMasksParams, context: DataContext) -> Datasets:
    import numpy as np

    from cnnbuild.data.masks import datasets_from_masks, pair_masks  # loading only: validate reads no masks

    names = image_masks_names(params, context)
    images, masks = context.resolve_path(params.images), context.resolve_path(params.masks)
    pairs, skipped = pair_masks(images, masks, len(names), context.task_options.get("ignore_index"), params)
    if not pairs:
        raise DataError(f"no usable image and mask pair in {images} and {masks} ({len(skipped)} file(s) skipped, e.g. {skipped[0].path}: {skipped[0].reason})" if skipped else f"no images in {images}")
    stacked_images = np.stack([pair.image for pair in pairs])
    stacked_masks = np.stack([pair.mask for pair in pairs])
    return datasets_from_masks(stacked_images, stacked_masks, names, params, context, skipped=skipped, where=str(images))


class ShapeMasksParams(DataParams):
    image_size: Pair = Field((32, 32), description="[height, width] of the generated images")
    count: int = Field(400, ge=8, le=100_000, description="how many images to generate (before the validation split)")
    shapes: list[Literal[KINDS]] = Field(list(KINDS[:2]), min_length=1, description="the kinds of shape drawn: classes 1.. after background (0)")  # type: ignore[valid-type]
    max_shapes: int = Field(3, ge=1, le=6, description="the most shapes an image has (1 to this)")
    seed: NonNegativeInt | None = Field(None, description="the generator's seed; default: the spec's seed (or 0)")


def generate_masks(params: ShapeMasksParams, seed: int) -> tuple[Any, Any]:
    """``(images uint8 (N, H, W, 3), masks int32 (N, H, W))``: striped, noisy backgrounds with 1 to
    ``max_shapes`` shapes of random kinds, sizes and colours; a mask pixel is 0 (background) or
    1 + the index of the kind drawn there last (shapes may overlap)."""
    import numpy as np
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    height, width = params.image_size
    y, x = np.mgrid[0:height, 0:width].astype("float32")
    images, masks = [], []
    for _ in range(params.count):
        angle, period = rng.uniform(0, np.pi), rng.uniform(3, 8)
        stripes = 0.5 + 0.5 * np.sin((x * np.cos(angle) + y * np.sin(angle)) * 2 * np.pi / period)
        base, other = rng.integers(0, 140, 3), rng.integers(0, 140, 3)
        background = base[None, None, :] + stripes[..., None] * (other - base)[None, None, :] + rng.normal(0, 12, (height, width, 3))
        image = Image.fromarray(np.clip(background, 0, 255).astype("uint8"))
        mask = Image.new("L", (width, height), 0)
        draw_image, draw_mask = ImageDraw.Draw(image), ImageDraw.Draw(mask)
        for _shape in range(int(rng.integers(1, params.max_shapes + 1))):
            kind = int(rng.integers(len(params.shapes)))
            radius = min(height, width) * rng.uniform(0.12, 0.25)
            cx, cy = rng.uniform(radius, width - radius), rng.uniform(radius, height - radius)
            colour = tuple(int(c) for c in rng.integers(120, 256, 3))
            draw_shape(draw_image, params.shapes[kind], cx, cy, radius, colour)
            draw_shape(draw_mask, params.shapes[kind], cx, cy, radius, kind + 1)
        images.append(np.asarray(image))
        masks.append(np.asarray(mask, dtype="int32"))
    return np.stack(images), np.stack(masks)


def shape_masks_names(params: ShapeMasksParams, context: DataContext) -> list[str]:
    names = [BACKGROUND, *params.shapes]
    given = _classes(context)
    if given is not None and len(given) != len(names):
        raise DataError(f"task.classes names {len(given)} classes but shape_masks draws {len(names)} ({', '.join(names)}); name each, or leave task.classes out")
    return given or names


def load_shape_masks(params: ShapeMasksParams, context: DataContext) -> Datasets:
    import numpy as np

    from cnnbuild.data.masks import datasets_from_masks

    if len(set(params.shapes)) != len(params.shapes):
        raise DataError(f"data.shapes lists a kind twice: {params.shapes}; list each kind once")
    seed = params.seed if params.seed is not None else (context.seed or 0)
    images, masks = generate_masks(params, seed)
    if params.color_mode == "grayscale":
        images = np.round(images.astype("float32") @ np.array([0.299, 0.587, 0.114], "float32"))[..., None].astype("uint8")
    elif params.color_mode == "rgba":
        images = np.concatenate([images, np.full((*images.shape[:3], 1), 255, "uint8")], axis=-1)
    datasets = datasets_from_masks(images, masks, shape_masks_names(params, context), params, context, where=f"shape_masks (synthetic, seed {seed})")
    datasets.fingerprint = hashlib.sha256(f"{params.model_dump_json()}|{seed}".encode()).hexdigest()  # the generator's output is fixed by these
    return datasets


@hookimpl
def register_data_sources(register) -> None:
    register("image_masks", ImageMasksParams, load_image_masks, class_names=image_masks_names, tasks=("segmentation",))
    register("shape_masks", ShapeMasksParams, load_shape_masks, class_names=shape_masks_names, tasks=("segmentation",))
