"""Small, valid datasets of each task written to disk, for a plugin's tests: a multi-label CSV, a
regression CSV, and image and mask folders. Each image shows what its labels say (shapes of one
colour per label on a dark background), so a tiny model can learn it, and the same seed writes the
same files."""

from __future__ import annotations

import csv
import random
from collections.abc import Sequence
from pathlib import Path

#: The shapes drawn for the labels, in turn, and one colour per label.
_KINDS = ("circle", "square", "triangle", "cross")
_PALETTE = ((220, 40, 40), (40, 200, 60), (40, 80, 220), (230, 200, 40), (160, 60, 200), (30, 200, 200))


def _canvas(rng: random.Random, size: tuple[int, int], shade: int | None = None):  # noqa: ANN202 (a Pillow image)
    from PIL import Image

    return Image.new("RGB", (size[1], size[0]), (rng.randint(0, 40) if shade is None else shade,) * 3)


def _place(rng: random.Random, size: tuple[int, int], spot: int, spots: int) -> tuple[float, float, float]:
    """``(cx, cy, radius)`` of shape number ``spot`` of ``spots`` side by side, so shapes do not cover each other."""
    height, width = size
    cell = width / spots
    radius = max(1.5, min(cell, height) * 0.35)
    return (spot + 0.5) * cell, rng.uniform(radius, height - radius), radius


def _draw(draw, index: int, cx: float, cy: float, radius: float, fill) -> None:  # noqa: ANN001
    from cnnbuild.plugins.builtin.synthetic_shapes import draw_shape

    draw_shape(draw, _KINDS[index % len(_KINDS)], cx, cy, radius, fill)


def write_multi_label_csv(
    folder: Path, labels: Sequence[str] = ("circle", "square", "triangle"), count: int = 12, *, separator: str | None = "|", size: tuple[int, int] = (16, 16), seed: int = 0
) -> Path:
    """``count`` PNG images in ``folder/images/`` showing any non-empty set of ``labels`` (each
    label its own shape and colour), and ``folder/labels.csv`` naming each image's labels: a
    ``filename`` column and a ``labels`` column of labels joined by ``separator``, or, with
    ``separator=None``, one 0/1 column per label. With ``count`` at least twice the labels, every label
    is on some image and off some other.
    Returns the CSV file's path."""
    from PIL import ImageDraw

    if len(labels) < 2 or count < 2:
        raise ValueError("write_multi_label_csv needs at least two labels and two images")
    rng = random.Random(seed)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    for number in range(count):
        present = [index for index in range(len(labels)) if rng.random() < 0.5]
        # the first images turn each label on and then off in turn, so every label is seen both ways
        if number < 2 * len(labels):
            present = [number // 2] if number % 2 == 0 else [i for i in range(len(labels)) if i != number // 2]
        present = present or [rng.randrange(len(labels))]
        image = _canvas(rng, size)
        draw = ImageDraw.Draw(image)
        for spot, index in enumerate(present):
            _draw(draw, index, *_place(rng, size, spot, len(present)), _PALETTE[index % len(_PALETTE)])
        name = f"images/image_{number:03d}.png"
        image.save(folder / name)
        rows.append((name, present))
    path = folder / "labels.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        if separator is None:
            writer.writerow(["filename", *labels])
            writer.writerows([name, *(int(i in present) for i in range(len(labels)))] for name, present in rows)
        else:
            writer.writerow(["filename", "labels"])
            writer.writerows([name, separator.join(labels[i] for i in present)] for name, present in rows)
    return path


def write_regression_csv(folder: Path, targets: Sequence[str] = ("count",), count: int = 12, *, size: tuple[int, int] = (16, 16), max_shapes: int = 3, seed: int = 0) -> Path:
    """``count`` PNG images in ``folder/images/`` and ``folder/targets.csv`` with a ``filename``
    column and one numeric column per name in ``targets``: the first target is how many squares
    the image shows (0 to ``max_shapes``), any further one the background's brightness (0 to 1).
    Returns the CSV file's path."""
    from PIL import ImageDraw

    if not targets or count < 2:
        raise ValueError("write_regression_csv needs at least one target and two images")
    rng = random.Random(seed)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    path = folder / "targets.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["filename", *targets])
        for number in range(count):
            shapes = number % (max_shapes + 1) if number <= max_shapes else rng.randint(0, max_shapes)
            shade = rng.randint(0, 80)
            image = _canvas(rng, size, shade)
            draw = ImageDraw.Draw(image)
            for spot in range(shapes):
                _draw(draw, 1, *_place(rng, size, spot, max_shapes), _PALETTE[3])
            name = f"images/image_{number:03d}.png"
            image.save(folder / name)
            writer.writerow([name, shapes, *(f"{shade / 255:.4f}" for _ in targets[1:])])
    return path


def write_image_masks(
    folder: Path, classes: Sequence[str] = ("background", "circle", "square"), count: int = 8, *, size: tuple[int, int] = (16, 16), palette: bool = False, seed: int = 0
) -> Path:
    """``count`` PNG images in ``folder/images/`` and their masks of the same file names in
    ``folder/masks/``: class 0 (``classes[0]``) is the background, and each image shows one or
    two shapes of the other classes, the mask holding the class index of every pixel.
    Masks are single-channel (mode L) PNGs, or palette (mode P) PNGs with ``palette=True``.
    Returns ``folder`` (``task.classes`` of a spec reading it: ``dict(enumerate(classes))``)."""
    from PIL import Image, ImageDraw

    if len(classes) < 2 or count < 2:
        raise ValueError("write_image_masks needs at least two classes (the background and one more) and two images")
    rng = random.Random(seed)
    for sub in ("images", "masks"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    for number in range(count):
        drawn = [1 + (number % (len(classes) - 1))] + ([rng.randrange(1, len(classes))] if rng.random() < 0.5 else [])
        image = _canvas(rng, size)
        mask = Image.new("L", (size[1], size[0]), 0)
        draw_image, draw_mask = ImageDraw.Draw(image), ImageDraw.Draw(mask)
        for spot, index in enumerate(drawn):
            place = _place(rng, size, spot, len(drawn))
            _draw(draw_image, index - 1, *place, _PALETTE[(index - 1) % len(_PALETTE)])
            _draw(draw_mask, index - 1, *place, index)
        image.save(folder / "images" / f"image_{number:03d}.png")
        if palette:  # the same indices, shown in colour by viewers
            mask = Image.frombytes("P", mask.size, mask.tobytes())
            mask.putpalette([channel for index in range(256) for channel in ((0, 0, 0) if index == 0 else _PALETTE[(index - 1) % len(_PALETTE)])])
        mask.save(folder / "masks" / f"image_{number:03d}.png")
    return folder
