"""``Backbone``: a pretrained keras.applications network (without its classifier) as one layer.

The layer takes the pipeline's 0..255 images and applies the architecture's own preprocessing
inside the model (``[-1, 1]``, ImageNet mean and standard deviation, or caffe's BGR means), so
a spec never needs to know which one an architecture wants; grayscale images are repeated to
three channels. Shapes and parameter counts come from :mod:`backbone_table` (no TensorFlow).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from cnnbuild.contracts.layers import LayerShape, Shape, ShapeError
from cnnbuild.contracts.values import Params, SpecPath
from cnnbuild.errors import CnnbuildError
from cnnbuild.plugins.builtin.backbone_table import ARCHITECTURES, CAFFE_MEAN_RGB, IMAGENET_MEAN, IMAGENET_STD, output_size, weights_file
from cnnbuild.plugins.hookspecs import hookimpl

WEIGHT_SUFFIXES = (".weights.h5", ".h5")


class BackboneParams(Params):
    architecture: Literal[tuple(ARCHITECTURES)] = Field(description="a keras.applications network, such as MobileNetV3Small, EfficientNetV2B0, ResNet50 or ConvNeXtTiny")  # type: ignore[valid-type]
    weights: Literal["imagenet", "none"] | SpecPath = Field(
        "imagenet", description="imagenet (Keras downloads and caches them), none (random), or a .weights.h5 file saved from the same architecture"
    )
    sha256: str | None = Field(None, pattern=r"^[0-9a-fA-F]{64}$", description="with a weights file: its SHA-256, checked before loading")
    trainable: bool = Field(False, description="false: frozen (train.fine_tune can unfreeze it later); true: trained whole from the first epoch")
    pooling: Literal["avg", "max", "none"] = Field("avg", description="avg or max: one vector per image; none: the feature map")

    @model_validator(mode="after")
    def _weights(self) -> BackboneParams:
        path = self.weights not in ("imagenet", "none")
        if path and not self.weights.lower().endswith(WEIGHT_SUFFIXES):
            raise ValueError(f"weights is imagenet, none, or a Keras weights file ending in .weights.h5 (or a legacy .h5), got {self.weights!r}")
        if self.sha256 is not None and not path:
            raise ValueError("sha256 checks a weights file; it applies only when weights is a path")
        if path and self.architecture.startswith("EfficientNetB"):
            raise ValueError(
                f"{self.architecture} builds another network for imagenet weights than for any other (Keras adds a Rescaling layer), "
                "so a weights file would load into the wrong preprocessing; use weights: imagenet, or EfficientNetV2B0"
            )
        return self


def backbone_shape(params: BackboneParams, shape: Shape) -> LayerShape:
    architecture = ARCHITECTURES[params.architecture]
    if len(shape) != 3:
        raise ShapeError(f"{params.architecture} needs (height, width, channels) images, got {shape}", "put it first, on the images")
    height, width, channels = shape
    if channels not in (1, 3):
        raise ShapeError(f"{params.architecture} takes RGB images (grayscale is repeated to 3 channels), got {channels} channels", "use color_mode: rgb")
    if min(height, width) < architecture.min_size:
        size = architecture.min_size
        raise ShapeError(f"{params.architecture} needs images of at least {size}x{size}, got {height}x{width}", f"use data.image_size of at least [{size}, {size}]")
    output = (architecture.channels,) if params.pooling != "none" else (*output_size(params.architecture, height, width), architecture.channels)
    return LayerShape(output, architecture.params, architecture.non_trainable if params.trainable else architecture.params)


def keras_cache() -> Path:
    """The folder Keras downloads application weights into (``$KERAS_HOME/models``, else ``~/.keras/models``)."""
    try:
        from keras.src.backend.config import keras_home

        return Path(keras_home()) / "models"
    except ImportError:  # a future Keras may move it
        from cnnbuild.data.native import keras_folder

        return Path(keras_folder()) / "models"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


def _core(params: BackboneParams, height: int, width: int) -> Any:
    import keras

    constructor = getattr(keras.applications, params.architecture)
    imagenet = params.weights == "imagenet"
    try:
        return constructor(include_top=False, weights="imagenet" if imagenet else None, input_shape=(height, width, 3), pooling=None if params.pooling == "none" else params.pooling)
    except Exception as exc:  # Keras raises a bare Exception when the download fails
        if not imagenet:
            raise
        wanted = weights_file(params.architecture, height, width)
        raise CnnbuildError(
            f"Backbone {params.architecture}: the imagenet weights could not be loaded ({_first_line(exc)}). Keras looks for {wanted} in {keras_cache()} "
            "and downloads it when it is missing, which needs internet access: copy that file there, or use a local file with weights: PATH "
            "(a .weights.h5 saved from the same architecture, or Keras's imagenet .h5 file)"
        ) from exc


def _load(core: Any, params: BackboneParams) -> None:
    path = Path(params.weights)
    if not path.is_file():
        raise CnnbuildError(f"Backbone {params.architecture}: weights file {path} does not exist")
    if params.sha256 is not None:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != params.sha256.lower():
            raise CnnbuildError(f"Backbone {params.architecture}: {path} has SHA-256 {digest}, not the {params.sha256.lower()} the spec gives; the file changed or is another one")
    try:
        core.load_weights(str(path))
    except Exception as exc:
        raise CnnbuildError(
            f"Backbone {params.architecture}: cannot load {path}: {_first_line(exc)}; the file must hold the weights of "
            f"keras.applications.{params.architecture}(include_top=False), saved with save_weights"
        ) from exc


def _preprocessing(architecture: str, x: Any) -> Any:
    """``x`` (0..255 RGB) as the architecture's ``preprocess_input`` would make it, with Keras layers."""
    import keras

    mode = ARCHITECTURES[architecture].preprocessing
    if mode == "tf":
        return keras.layers.Rescaling(1 / 127.5, offset=-1.0)(x)
    if mode == "torch":
        return keras.layers.Normalization(mean=[255 * m for m in IMAGENET_MEAN], variance=[(255 * s) ** 2 for s in IMAGENET_STD])(x)
    if mode == "caffe":  # BGR order, means subtracted: the same as subtracting the RGB means, then reversing the channels
        return keras.ops.flip(keras.layers.Normalization(mean=list(CAFFE_MEAN_RGB), variance=[1.0, 1.0, 1.0])(x), axis=-1)
    return x  # built into the network (MobileNetV3, EfficientNet, ConvNeXt)


def _without_dropout(core: Any) -> None:
    """Turn off the network's own dropout (EfficientNet's stochastic depth): a backbone runs as
    at inference in both phases, the standard transfer-learning recipe. Calling it with
    ``training=False`` is not enough: Keras 3 passes the outer model's ``training=True`` down
    to the layers of a nested functional model. (BatchNormalization is covered by being frozen.)"""
    import keras

    for layer in core.layers:
        if isinstance(layer, keras.layers.Dropout):
            layer.rate = 0.0
        elif hasattr(layer, "layers"):
            _without_dropout(layer)


def make_backbone(params: BackboneParams, input_shape: tuple[int, ...]) -> Any:
    """The pretrained network with its preprocessing in front, as one (nested) Keras model."""
    import keras

    height, width, channels = input_shape
    core = _core(params, height, width)
    if params.weights not in ("imagenet", "none"):
        _load(core, params)
    _without_dropout(core)
    inputs = keras.Input(shape=(height, width, channels))
    x = keras.layers.Concatenate()([inputs, inputs, inputs]) if channels == 1 else inputs
    outputs = core(_preprocessing(params.architecture, x), training=False)
    model = keras.Model(inputs, outputs)
    model.trainable = params.trainable
    return model


@hookimpl
def register_layers(register: Any) -> None:
    register("Backbone", BackboneParams, make_backbone, shape=backbone_shape, backbone=True)
