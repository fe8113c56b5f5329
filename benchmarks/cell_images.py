"""Small PNG crops of the flower photos that stand in for the malaria tutorial's cell images.

The NIH malaria set (27,558 PNGs of single cells, about 100 to 200 pixels a side, two classes)
is not available offline. What the legacy comparison depends on is the kind of file the input
flow decodes, so the stand-in has the same kind: small RGB PNGs, 110 to 160 pixels a side, cut
from the photos of two flower classes (the class is the flower), ``CROPS`` per photo.

A crop's file name starts with its crop number (``03_<photo>.png``), so a split that takes the
first or last fifth of the sorted names (ImageDataGenerator's ``validation_split``) holds out
crops of photos whose other crops are trained on, as a random split (cnnbuild's) does; the two
validation accuracies are then alike in kind.

Written once to $CNNBUILD_BENCH_CACHE or ~/.cache/cnnbuild-bench (never into the repository),
and used again while its ``complete.json`` matches.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from generated_images import cache_root

CLASSES = ("daisy", "roses")
CROPS = 10
SIDES = (110, 160)


def ensure_cell_images(photos: Path, root: Path | None = None) -> Path:
    """The folder of PNG crops of ``photos``' daisy and roses sub-folders, written first when needed."""
    import numpy as np
    from PIL import Image

    folder = (root or cache_root()) / "cell-images"
    recipe = {"photos": str(photos.resolve()), "classes": list(CLASSES), "crops": CROPS, "sides": list(SIDES)}
    marker = folder / "complete.json"
    if marker.exists() and {k: v for k, v in json.loads(marker.read_text(encoding="utf-8")).items() if k != "count"} == recipe:
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    rng = np.random.default_rng(0)
    count = 0
    for name in CLASSES:
        (folder / name).mkdir(parents=True)
        for photo in sorted((photos / name).iterdir()):
            if photo.suffix.lower() not in (".jpg", ".jpeg", ".png"):
                continue
            with Image.open(photo) as image:
                rgb = image.convert("RGB")
            for crop in range(CROPS):
                side = int(rng.integers(SIDES[0], min(SIDES[1], *rgb.size) + 1))
                left = int(rng.integers(0, rgb.width - side + 1))
                top = int(rng.integers(0, rgb.height - side + 1))
                rgb.crop((left, top, left + side, top + side)).save(folder / name / f"{crop:02d}_{photo.stem}.png")
                count += 1
    marker.write_text(json.dumps({**recipe, "count": count}) + "\n", encoding="utf-8")
    return folder
