"""Data sources that start from arrays: ``digits`` (offline), ``keras_dataset`` and ``npz``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from cnnbuild.contracts.data import DataContext, DataParams, Datasets
from cnnbuild.contracts.values import ColorMode, Interpolation, Pair, SpecPath
from cnnbuild.data.arrays import from_arrays, labels_array
from cnnbuild.errors import DataError
from cnnbuild.plugins.hookspecs import hookimpl

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
        raise DataError(f"keras dataset {params.name!r}: download failed ({type(exc).__name__}: {exc}); it needs network access on first use") from exc
    return from_arrays(x, y, params, context, CLASS_NAMES[params.name], x_test=x_test, y_test=y_test, where=f"keras dataset {params.name}")


def load_npz(params: NpzParams, context: DataContext) -> Datasets:
    import numpy as np

    path = context.resolve_path(params.path)
    try:
        arrays = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read .npz file: {exc}") from exc
    with arrays:
        missing = [key for key in ("x_train", "y_train") if key not in arrays.files]
        if missing:
            raise DataError(f"{path}: missing arrays {missing}; found {arrays.files}")
        get = {key: arrays[key] for key in arrays.files}
    y = labels_array(get["y_train"], str(path))
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
