"""The plugin module the ``cnnbuild`` entry point names. No TensorFlow here: factories import it."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path
from typing import Any

from pydantic import Field

import cnnbuild


# -- data source: images listed in a CSV file ------------------------------------------------------------------
class CsvImagesParams(cnnbuild.DataParams):
    csv: cnnbuild.SpecPath = Field(description="a CSV file with the columns filename,label")
    root: cnnbuild.SpecPath | None = Field(None, description="the folder the file names are relative to (default: the CSV file's folder)")


def _rows(params: CsvImagesParams, context: cnnbuild.DataContext) -> tuple[Path, list[tuple[Path, str]]]:
    table = context.resolve_path(params.csv)
    if not table.is_file():
        raise cnnbuild.DataError(f"{table}: no such CSV file; set data.csv")
    root = context.resolve_path(params.root) if params.root else table.parent
    with table.open(newline="", encoding="utf-8") as handle:
        rows = [(root / row["filename"], row["label"]) for row in csv.DictReader(handle)]
    if not rows:
        raise cnnbuild.DataError(f"{table}: no rows; expected the columns filename,label")
    return table, rows


def csv_class_names(params: CsvImagesParams, context: cnnbuild.DataContext) -> list[str]:
    _, rows = _rows(params, context)
    return sorted({label for _, label in rows})


def _decode(rows: list[tuple[Path, str]], params: CsvImagesParams, classes: list[str]) -> tuple[Any, Any]:
    import numpy as np
    from PIL import Image

    height, width = params.image_size
    mode = {"rgb": "RGB", "grayscale": "L", "rgba": "RGBA"}[params.color_mode]
    images, labels = [], []
    for path, label in rows:
        try:
            with Image.open(path) as image:
                pixels = np.asarray(image.convert(mode).resize((width, height)), dtype="float32")
        except OSError as exc:
            raise cnnbuild.DataError(f"{path}: cannot read the image: {exc}") from None
        images.append(pixels.reshape(params.input_shape))
        labels.append(classes.index(label))
    return np.stack(images), np.asarray(labels, dtype="int32")


def csv_images(params: CsvImagesParams, context: cnnbuild.DataContext) -> cnnbuild.Datasets:
    import numpy as np
    import tensorflow as tf

    # the seeded, stratified split cnnbuild's own image_directory source uses
    from cnnbuild.plugins.builtin.splitting import stratified_split

    table, rows = _rows(params, context)
    classes = sorted({label for _, label in rows})
    cache = None
    if context.work_dir is not None:  # decoded images are kept in the work folder between runs
        key = hashlib.sha256(table.read_bytes() + repr((params.image_size, params.color_mode)).encode()).hexdigest()[:16]
        cache = Path(context.work_dir) / f"csv-images-{key}.npz"
    if cache is not None and cache.exists():
        with np.load(cache) as stored:
            x, y = stored["x"], stored["y"]
    else:
        x, y = _decode(rows, params, classes)
        if cache is not None:
            np.savez(cache, x=x, y=y)
    train, validation = stratified_split(y.tolist(), params.validation_split, context.seed)
    index, count = context.shard  # this process's slice of the training split when several processes train
    train = train[index::count]
    return cnnbuild.Datasets(
        train=tf.data.Dataset.from_tensor_slices((x[train], y[train])),
        validation=tf.data.Dataset.from_tensor_slices((x[validation], y[validation])) if validation else None,
        class_names=classes,
        train_count=len(train),
        validation_count=len(validation),
        fingerprint=hashlib.sha256(x.tobytes() + y.tobytes()).hexdigest(),
        train_labels=[int(label) for label in y[train]],
    )


# -- layer: a residual convolution block ------------------------------------------------------------------
class ResidualParams(cnnbuild.Params):
    filters: int = Field(ge=1)
    kernel_size: int = Field(3, ge=1)


def residual(params: ResidualParams) -> Any:
    from cnnbuild_csvkit.layers import ResidualConv2D

    return ResidualConv2D(filters=params.filters, kernel_size=params.kernel_size)


def residual_shape(params: ResidualParams, shape: tuple[int, ...]) -> cnnbuild.LayerShape:
    if len(shape) != 3:
        raise cnnbuild.ShapeError(f"needs a (height, width, channels) input, got {shape}", "put it after a convolution")
    channels, filters, kernel = shape[-1], params.filters, params.kernel_size
    count = (kernel * kernel * channels * filters + filters) + (kernel * kernel * filters * filters + filters)
    if channels != filters:  # the 1x1 projection of the shortcut
        count += channels * filters + filters
    return cnnbuild.LayerShape((shape[0], shape[1], filters), count)


# -- callback: a progress log in the run directory ------------------------------------------------------------
class ProgressLogParams(cnnbuild.Params):
    filename: str = "progress.jsonl"


def progress_log(params: ProgressLogParams, context: cnnbuild.CallbackContext) -> Any:
    from cnnbuild_csvkit.callbacks import ProgressLog

    done_before = len(next(iter(context.history.values()), []))  # epochs before a --resume
    return ProgressLog(context.run_dir / params.filename, context.epochs, context.learning_rate, context.steps_per_epoch, done_before)


# -- registration --------------------------------------------------------------------------------------------
@cnnbuild.hookimpl
def register_data_sources(register):
    register("csv_images", CsvImagesParams, csv_images, class_names=csv_class_names)


@cnnbuild.hookimpl
def register_layers(register):
    register("ResidualConv2D", ResidualParams, residual, shape=residual_shape)


@cnnbuild.hookimpl
def register_callbacks(register):
    register("ProgressLog", ProgressLogParams, progress_log)


@cnnbuild.hookimpl
def keras_objects():
    from cnnbuild_csvkit.layers import ResidualConv2D

    return {"ResidualConv2D": ResidualConv2D}


@cnnbuild.hookimpl
def register_commands(cli):
    from cnnbuild_csvkit.commands import csv_check

    cli.add_command(csv_check)
