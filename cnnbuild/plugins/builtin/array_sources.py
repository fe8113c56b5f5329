"""Data sources that start from arrays: ``digits`` (offline), ``keras_dataset`` and ``npz``."""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from pydantic import Field, model_validator

from cnnbuild.errors import DataError
from cnnbuild.plugins.builtin.splitting import stratified_split
from cnnbuild.plugins.contracts import DataContext, Datasets
from cnnbuild.plugins.hookspecs import hookimpl
from cnnbuild.spec.sections import DataParams
from cnnbuild.spec.types import CHANNELS, ColorMode, Interpolation, Pair, SpecPath

CLASS_NAMES = {
    "mnist": [str(i) for i in range(10)],
    "fashion_mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
    "cifar10": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"],
    # the fine labels of keras.datasets.cifar100.load_data(), 0 to 99: the dataset's names, in alphabetical order
    "cifar100": """
        apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus butterfly
        camel can castle caterpillar cattle chair chimpanzee clock cloud cockroach couch crab crocodile cup
        dinosaur dolphin elephant flatfish forest fox girl hamster house kangaroo keyboard lamp lawn_mower
        leopard lion lizard lobster man maple_tree motorcycle mountain mouse mushroom oak_tree orange orchid
        otter palm_tree pear pickup_truck pine_tree plain plate poppy porcupine possum rabbit raccoon ray
        road rocket rose sea seal shark shrew skunk skyscraper snail snake spider squirrel streetcar
        sunflower sweet_pepper table tank telephone television tiger tractor train trout tulip turtle
        wardrobe whale willow_tree wolf woman worm
    """.split(),
}


class DigitsParams(DataParams):
    image_size: Pair = Field((8, 8), description="the digits are 8x8; they are resized to this size")
    color_mode: ColorMode = "grayscale"
    interpolation: Interpolation = "bilinear"


class KerasDatasetParams(DataParams):
    name: Literal["mnist", "fashion_mnist", "cifar10", "cifar100"]
    image_size: Pair = Field((28, 28), description="default: the dataset's own size (mnist 28x28, cifar 32x32)")
    color_mode: ColorMode = Field("grayscale", description="default: the dataset's own (mnist grayscale, cifar rgb)")
    interpolation: Interpolation = "bilinear"

    @model_validator(mode="before")
    @classmethod
    def _native_defaults(cls, data: Any) -> Any:
        if isinstance(data, dict) and str(data.get("name", "")).startswith("cifar"):
            data = {"image_size": (32, 32), "color_mode": "rgb", **data}
        return data


class NpzParams(DataParams):
    path: SpecPath = Field(description=".npz file with x_train, y_train and optionally x_val/y_val and x_test/y_test; relative to the spec file")
    class_names: list[str] | None = Field(None, min_length=2, description="names of label 0, 1, ...; default: the label numbers")
    interpolation: Interpolation = "bilinear"


def _images(x: Any, params: DataParams, where: str) -> Any:
    """uint8-range float32 images in the spec's size and color mode."""
    import numpy as np
    import tensorflow as tf

    x = np.asarray(x)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] not in (1, 3, 4):
        raise DataError(f"{where}: images must have shape (N, height, width) or (N, height, width, 1|3|4), got {x.shape}")
    x = x.astype("float32")
    if x.size and float(x.max()) <= 1.0:
        x = x * 255.0  # arrays in 0..1 are scaled to the 0..255 range every source delivers
    channels = CHANNELS[params.color_mode]
    if x.shape[-1] != channels:
        if x.shape[-1] == 4:
            x = x[..., :3]
        if channels == 1 and x.shape[-1] == 3:
            x = (x @ np.array([0.299, 0.587, 0.114], dtype="float32"))[..., None]
        elif channels >= 3 and x.shape[-1] == 1:
            x = np.repeat(x, 3, axis=-1)
        if channels == 4:
            x = np.concatenate([x, np.full(x.shape[:-1] + (1,), 255.0, dtype="float32")], axis=-1)
    if tuple(x.shape[1:3]) != tuple(params.image_size):
        x = tf.image.resize(x, params.image_size, method=getattr(params, "interpolation", "bilinear")).numpy()
    return x


def _labels(y: Any, where: str) -> Any:
    import numpy as np

    y = np.asarray(y).reshape(-1)
    if not np.issubdtype(y.dtype, np.integer):
        if np.issubdtype(y.dtype, np.floating) and np.all(np.mod(y, 1) == 0):
            y = y.astype("int64")
        else:
            raise DataError(f"{where}: labels must be integer class indices, got dtype {y.dtype}")
    if y.size and y.min() < 0:
        raise DataError(f"{where}: labels must be non-negative class indices")
    return y.astype("int32")


def from_arrays(x: Any, y: Any, params: DataParams, context: DataContext, class_names: list[str], *, x_val: Any = None, y_val: Any = None, x_test: Any = None, y_test: Any = None, where: str) -> Datasets:
    """Datasets from in-memory arrays; without ``x_val`` the validation split is taken from ``x``."""
    import tensorflow as tf

    x, y = _images(x, params, where), _labels(y, where)
    if len(x) != len(y):
        raise DataError(f"{where}: {len(x)} images but {len(y)} labels")
    if y.size and int(y.max()) >= len(class_names):
        raise DataError(f"{where}: label {int(y.max())} but only {len(class_names)} class names")
    if x_val is None:
        train_index, validation_index = stratified_split(y.tolist(), params.validation_split, context.seed)
        x_val, y_val = x[validation_index], y[validation_index]
        x, y = x[train_index], y[train_index]
    else:
        x_val, y_val = _images(x_val, params, where), _labels(y_val, where)
    index, count = context.shard
    if count > 1:
        x, y = x[index::count], y[index::count]

    def dataset(images: Any, labels: Any) -> Any:
        return tf.data.Dataset.from_tensor_slices((images, labels)) if len(images) else None

    test = None
    if x_test is not None:
        x_test, y_test = _images(x_test, params, where), _labels(y_test, where)
        test = dataset(x_test, y_test)
    fingerprint = hashlib.sha256(x.tobytes() + y.tobytes()).hexdigest()
    return Datasets(
        train=dataset(x, y),
        validation=dataset(x_val, y_val),
        class_names=class_names,
        train_count=len(x),
        validation_count=len(x_val),
        test=test,
        test_count=0 if x_test is None else len(x_test),
        fingerprint=fingerprint,
        train_labels=y.tolist(),
    )


def load_digits(params: DigitsParams, context: DataContext) -> Datasets:
    from sklearn.datasets import load_digits as sklearn_digits

    digits = sklearn_digits()
    images = digits.images * (255.0 / 16.0)
    return from_arrays(images, digits.target, params, context, CLASS_NAMES["mnist"], where="scikit-learn digits")


def load_keras_dataset(params: KerasDatasetParams, context: DataContext) -> Datasets:
    import keras

    try:
        (x, y), (x_test, y_test) = getattr(keras.datasets, params.name).load_data()
    except Exception as exc:  # network errors come in many types
        raise DataError(f"keras dataset {params.name!r}: download failed ({type(exc).__name__}: {exc}); it needs network access on first use") from None
    return from_arrays(x, y, params, context, CLASS_NAMES[params.name], x_test=x_test, y_test=y_test, where=f"keras dataset {params.name}")


def load_npz(params: NpzParams, context: DataContext) -> Datasets:
    import numpy as np

    path = context.resolve_path(params.path)
    try:
        arrays = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read .npz file: {exc}") from None
    with arrays:
        missing = [key for key in ("x_train", "y_train") if key not in arrays.files]
        if missing:
            raise DataError(f"{path}: missing arrays {missing}; found {arrays.files}")
        get = {key: arrays[key] for key in arrays.files}
    y = _labels(get["y_train"], str(path))
    names = params.class_names or [str(i) for i in range(int(y.max()) + 1 if y.size else 0)]
    return from_arrays(
        get["x_train"], y, params, context, names,
        x_val=get.get("x_val"), y_val=get.get("y_val"), x_test=get.get("x_test"), y_test=get.get("y_test"), where=str(path),
    )  # fmt: skip


@hookimpl
def register_data_sources(register) -> None:
    register("digits", DigitsParams, load_digits, class_names=lambda params, context: CLASS_NAMES["mnist"])
    register("keras_dataset", KerasDatasetParams, load_keras_dataset, class_names=lambda params, context: CLASS_NAMES[params.name])
    register("npz", NpzParams, load_npz, class_names=lambda params, context: params.class_names)
