"""Folders of small generated JPEGs for the scale benchmark, written once and reused.

They go to $CNNBUILD_BENCH_CACHE or ~/.cache/cnnbuild-bench (never into the repository):
``images-<count>/class_<k>/<n>.jpg``, ten classes, 40x40 pixels. A folder is used again only
when its ``complete.json`` says it holds ``count`` images; an interrupted generation starts over.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

CLASSES = 10
SIZE = 40


def cache_root() -> Path:
    return Path(os.environ.get("CNNBUILD_BENCH_CACHE") or Path.home() / ".cache" / "cnnbuild-bench")


def ensure_images(count: int, root: Path | None = None) -> Path:
    """The folder of ``count`` generated images, generating it first when needed."""
    import numpy as np
    from PIL import Image

    folder = (root or cache_root()) / f"images-{count}"
    marker = folder / "complete.json"
    if marker.exists() and json.loads(marker.read_text(encoding="utf-8")).get("count") == count:
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    rng = np.random.default_rng(count)
    colours = rng.integers(30, 225, (CLASSES, 3))
    for label in range(CLASSES):
        (folder / f"class_{label}").mkdir(parents=True, exist_ok=True)
    for index in range(count):
        label = index % CLASSES
        # a class colour plus noise, so a small model can learn something from the pixels
        pixels = np.clip(colours[label] + rng.normal(0, 40, (SIZE, SIZE, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"class_{label}" / f"{index:06d}.jpg", quality=90)
    marker.write_text(json.dumps({"count": count, "classes": CLASSES, "size": SIZE}) + "\n", encoding="utf-8")
    return folder
