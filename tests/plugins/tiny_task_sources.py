"""A tiny plugin whose data sources supply each task, written as a plugin author would: only names
of the plugin API (docs/plugins.md), the tasks declared with ``register(..., tasks=)``.

- ``tiny_table``: a CSV of images; ``task: multi_label`` reads its ``labels`` column (labels
  joined by ``|``), ``task: regression`` the numeric ``target_columns``.
- ``tiny_masks``: ``images/`` and ``masks/`` folders of PNGs with the same names, built into
  ``tf.data`` by hand, as the contract says (float32 images 0..255, int32 masks).
"""

from __future__ import annotations

import csv
import hashlib

from pydantic import Field

import cnnbuild
from cnnbuild.data.targets import datasets_from_targets

CNNBUILD_PLUGIN_API = ">=1.5,<2"


class TableParams(cnnbuild.DataParams):
    path: cnnbuild.SpecPath = Field(description="the CSV file: filename, then the task's columns")
    target_columns: list[str] = Field(["count"], description="task regression: the numeric columns")


def _rows(params: TableParams, context: cnnbuild.DataContext) -> tuple[list[dict[str, str]], list[str]]:
    with context.resolve_path(params.path).open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if context.task == "regression":
        return rows, list(params.target_columns)
    return rows, sorted({label for row in rows for label in row["labels"].split("|")})


def table_names(params: TableParams, context: cnnbuild.DataContext) -> list[str]:
    return _rows(params, context)[1]


def load_table(params: TableParams, context: cnnbuild.DataContext) -> cnnbuild.Datasets:
    rows, names = _rows(params, context)
    folder = context.resolve_path(params.path).parent
    paths = [str(folder / row["filename"]) for row in rows]
    if context.task == "regression":
        targets = [[float(row[column]) for column in names] for row in rows]
    else:
        targets = [[1.0 if name in row["labels"].split("|") else 0.0 for name in names] for row in rows]
    return datasets_from_targets(paths, targets, names, params, context, task=context.task, where=str(params.path))


class MasksParams(cnnbuild.DataParams):
    folder: cnnbuild.SpecPath = Field(description="holds images/ and masks/")


def masks_names(params: MasksParams, context: cnnbuild.DataContext) -> list[str]:
    classes = context.task_options.get("classes")
    if not classes:
        raise cnnbuild.DataError("tiny_masks needs task.classes, e.g. {0: background, 1: circle}")
    return [classes[key] for key in sorted(classes, key=int)]


def load_masks(params: MasksParams, context: cnnbuild.DataContext) -> cnnbuild.Datasets:
    import numpy as np
    import tensorflow as tf
    from PIL import Image

    height, width = params.image_size
    folder = context.resolve_path(params.folder)
    images, masks = [], []
    for path in sorted((folder / "images").glob("*.png")):
        with Image.open(path) as image, Image.open(folder / "masks" / path.name) as mask:
            images.append(np.asarray(image.convert("RGB").resize((width, height), Image.Resampling.BILINEAR), dtype="float32"))
            masks.append(np.asarray(mask.resize((width, height), Image.Resampling.NEAREST), dtype="int32"))
    cut = max(1, round(len(images) * (1 - params.validation_split)))

    def dataset(part: slice) -> object:
        return tf.data.Dataset.from_tensor_slices((np.stack(images[part]), np.stack(masks[part]))) if images[part] else None

    return cnnbuild.Datasets(
        train=dataset(slice(0, cut)),
        validation=dataset(slice(cut, None)),
        class_names=masks_names(params, context),
        train_count=cut,
        validation_count=len(images) - cut,
        fingerprint=hashlib.sha256(np.stack(images).tobytes() + np.stack(masks).tobytes()).hexdigest(),
        task="segmentation",
    )


@cnnbuild.hookimpl
def register_data_sources(register):
    register("tiny_table", TableParams, load_table, class_names=table_names, tasks=("multi_label", "regression"))
    register("tiny_masks", MasksParams, load_masks, class_names=masks_names, tasks=("segmentation",))
