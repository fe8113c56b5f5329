"""Draw the synthetic shapes with Pillow."""

from __future__ import annotations

import random

import numpy as np
from PIL import Image, ImageDraw


def draw_shapes(shapes: list[str], per_class: int, size: tuple[int, int], seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``per_class`` RGB images of each shape at random positions, sizes and colours."""
    rng = random.Random(seed)
    height, width = size
    images, labels = [], []
    for label, shape in enumerate(shapes):
        for _ in range(per_class):
            image = Image.new("RGB", (width, height), tuple(rng.randint(0, 60) for _ in range(3)))
            draw = ImageDraw.Draw(image)
            radius = rng.uniform(0.2, 0.4) * min(height, width)
            cx, cy = rng.uniform(radius, width - radius), rng.uniform(radius, height - radius)
            colour = tuple(rng.randint(120, 255) for _ in range(3))
            if shape == "circle":
                draw.ellipse([cx - radius, cy - radius, cx + radius, cy + radius], fill=colour)
            elif shape == "square":
                draw.rectangle([cx - radius, cy - radius, cx + radius, cy + radius], fill=colour)
            elif shape == "triangle":
                draw.polygon([(cx, cy - radius), (cx - radius, cy + radius), (cx + radius, cy + radius)], fill=colour)
            else:
                draw.text((cx - radius, cy - radius), shape[:3], fill=colour)
            images.append(np.asarray(image))
            labels.append(label)
    return np.stack(images), np.asarray(labels)
