"""``shapes``: a synthetic, offline dataset of shapes on textured backgrounds, generated from a
seed (nothing is downloaded). It is made-up data for examples and tests, not a benchmark of
anything real.

Each image has a striped, noisy background in random colours and shapes (circles, squares,
triangles, crosses) in other colours at random places of a grid. What an image's label is
depends on the spec's task:

- ``single_label``: one shape per image; the class is its kind.
- ``multi_label``: each kind is present or not, independently (half the time each); the labels
  are the kinds present.
- ``regression``: 0 to ``max_shapes`` shapes of any kinds; the target ``count`` is how many.
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from pydantic import Field

from cnnbuild.contracts.data import DataContext, DataParams, Datasets
from cnnbuild.contracts.values import NonNegativeInt, Pair
from cnnbuild.data.arrays import from_arrays
from cnnbuild.data.targets import datasets_from_targets
from cnnbuild.errors import DataError
from cnnbuild.plugins.hookspecs import hookimpl

KINDS = ("circle", "square", "triangle", "cross")
#: The grid of places shapes are put at: at most this many shapes per image (GRID x GRID).
GRID = 3


class ShapesParams(DataParams):
    image_size: Pair = Field((32, 32), description="[height, width] of the generated images")
    count: int = Field(600, ge=8, le=200_000, description="how many images to generate (before the validation split)")
    shapes: list[Literal[KINDS]] = Field(list(KINDS[:3]), min_length=2, description="the kinds of shape drawn (the classes or labels)")  # type: ignore[valid-type]
    max_shapes: int = Field(4, ge=1, le=GRID * GRID, description="regression: the most shapes an image has (the target is 0 to this)")
    seed: NonNegativeInt | None = Field(None, description="the generator's seed; default: the spec's seed (or 0)")


def _draw_image(rng: object, size: tuple[int, int], kinds: list[str]) -> object:
    """One image (uint8 height x width x 3): a striped, noisy background and ``kinds`` drawn at distinct grid places."""
    import numpy as np
    from PIL import Image, ImageDraw

    height, width = size
    y, x = np.mgrid[0:height, 0:width].astype("float32")
    angle = rng.uniform(0, np.pi)
    period = rng.uniform(3, 8)
    stripes = 0.5 + 0.5 * np.sin((x * np.cos(angle) + y * np.sin(angle)) * 2 * np.pi / period)
    base, other = rng.integers(0, 120, 3), rng.integers(0, 120, 3)
    background = base[None, None, :] + stripes[..., None] * (other - base)[None, None, :] + rng.normal(0, 12, (height, width, 3))
    image = Image.fromarray(np.clip(background, 0, 255).astype("uint8"))
    draw = ImageDraw.Draw(image)
    cell_h, cell_w = height / GRID, width / GRID
    places = rng.permutation(GRID * GRID)[: len(kinds)]
    for kind, place in zip(kinds, places, strict=True):
        row, column = divmod(int(place), GRID)
        radius = min(cell_h, cell_w) * rng.uniform(0.3, 0.45)
        cy = (row + 0.5) * cell_h + rng.uniform(-0.1, 0.1) * cell_h
        cx = (column + 0.5) * cell_w + rng.uniform(-0.1, 0.1) * cell_w
        colour = tuple(int(c) for c in rng.integers(150, 256, 3))
        draw_shape(draw, kind, cx, cy, radius, colour)
    return np.asarray(image)


def draw_shape(draw: Any, kind: str, cx: float, cy: float, radius: float, fill: Any) -> None:
    """One shape of ``kind`` (circle, square, triangle or cross) centred at ``(cx, cy)`` onto a Pillow ``ImageDraw``."""
    box = (cx - radius, cy - radius, cx + radius, cy + radius)
    if kind == "circle":
        draw.ellipse(box, fill=fill)
    elif kind == "square":
        draw.rectangle(box, fill=fill)
    elif kind == "triangle":
        draw.polygon([(cx, cy - radius), (cx - radius, cy + radius), (cx + radius, cy + radius)], fill=fill)
    else:
        arm = max(1.0, radius / 3)
        draw.rectangle((cx - radius, cy - arm, cx + radius, cy + arm), fill=fill)
        draw.rectangle((cx - arm, cy - radius, cx + arm, cy + radius), fill=fill)


def generate(params: ShapesParams, task: str, seed: int) -> tuple[object, list[list[float]] | list[int], list[str]]:
    """``(images uint8 (N, H, W, 3), labels, names)`` for ``task``: class indices (single-label),
    0/1 vectors over the kinds (multi-label) or ``[count]`` (regression)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    kinds = list(params.shapes)
    images, labels = [], []
    for _ in range(params.count):
        if task == "single_label":
            label = int(rng.integers(len(kinds)))
            drawn = [kinds[label]]
            labels.append(label)
        elif task == "multi_label":
            present = rng.random(len(kinds)) < 0.5
            drawn = [kind for kind, on in zip(kinds, present, strict=True) if on]
            labels.append([float(on) for on in present])
        else:
            how_many = int(rng.integers(0, params.max_shapes + 1))
            drawn = [kinds[int(i)] for i in rng.integers(0, len(kinds), how_many)]
            labels.append([float(how_many)])
        images.append(_draw_image(rng, params.image_size, drawn))
    return np.stack(images), labels, names_for(params, task)


def names_for(params: ShapesParams, task: str) -> list[str]:
    """The class, label or target names of ``task``."""
    return ["count"] if task == "regression" else list(params.shapes)


def _seed(params: ShapesParams, context: DataContext) -> int:
    return params.seed if params.seed is not None else (context.seed or 0)


def load(params: ShapesParams, context: DataContext) -> Datasets:
    if len(set(params.shapes)) != len(params.shapes):
        raise DataError(f"data.shapes lists a kind twice: {params.shapes}; list each kind once")
    images, labels, names = generate(params, context.task, _seed(params, context))
    where = f"shapes (synthetic, seed {_seed(params, context)})"
    if context.task == "single_label":
        datasets = from_arrays(images, labels, params, context, names, where=where)
    else:
        datasets = datasets_from_targets(images, labels, names, params, context, task=context.task, where=where)
    # the generator's output is fixed by its parameters: the fingerprint says which
    datasets.fingerprint = hashlib.sha256(f"{params.model_dump_json()}|{context.task}|{_seed(params, context)}".encode()).hexdigest()
    return datasets


def class_names(params: ShapesParams, context: DataContext) -> list[str]:
    return names_for(params, context.task)


@hookimpl
def register_data_sources(register) -> None:
    register("shapes", ShapesParams, load, class_names=class_names, tasks=("single_label", "multi_label", "regression"))
