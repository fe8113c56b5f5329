"""The plugin module named by the ``cnnbuild`` entry point.

It imports no TensorFlow: factories import what they need when a model is built, so
`cnnbuild --help` and `cnnbuild validate` stay fast with the plugin installed.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

import cnnbuild
from cnnbuild import DataContext, Datasets, LayerShape, Params, ShapeError

#: The cnnbuild plugin API versions this plugin is written for (docs/plugins.md, "Versions"):
#: outside them cnnbuild names the plugin and does not load it.
CNNBUILD_PLUGIN_API = ">=1.3,<2"


class SqueezeExcitationParams(Params):
    ratio: int = Field(4, ge=1, description="channels are squeezed by this factor in the gate")


def squeeze_excitation_shape(params: SqueezeExcitationParams, shape: tuple[int, ...]) -> LayerShape:
    if len(shape) != 3:
        raise ShapeError(f"needs a (height, width, channels) input, got {shape}", "put it after a convolution")
    channels = shape[-1]
    hidden = max(1, channels // params.ratio)
    # two Dense layers with biases: channels -> hidden -> channels
    return LayerShape(shape, channels * hidden + hidden + hidden * channels + channels)


def squeeze_excitation(params: SqueezeExcitationParams) -> Any:
    from cnnbuild_example.layers import SqueezeExcitation2D

    return SqueezeExcitation2D(ratio=params.ratio)


class SyntheticShapesParams(cnnbuild.DataParams):
    per_class: int = Field(100, ge=2, le=100_000, description="images drawn per class")
    shapes: list[str] = Field(default_factory=lambda: ["circle", "square", "triangle"], min_length=2)


def synthetic_shapes(params: SyntheticShapesParams, context: DataContext) -> Datasets:
    from cnnbuild_example.drawing import draw_shapes

    images, labels = draw_shapes(params.shapes, params.per_class, params.image_size, seed=context.seed or 0)
    return cnnbuild.datasets_from_arrays(images, labels, params, context, list(params.shapes), where="synthetic_shapes")


class ManifestParams(cnnbuild.DataParams):
    path: cnnbuild.SpecPath = Field(description='a JSON file: {"images": [{"file": "a.jpg", "label": "cat"}, ...]}, files relative to it')
    class_names: list[str] | None = Field(None, min_length=2, description="classes in label order; default: every label, sorted")


def json_manifest(params: ManifestParams, context: DataContext) -> Datasets:
    """A data source written with the file-list helper: checking, splitting, decoding, listing what
    is not used and the fingerprint all come from cnnbuild; this reads the manifest."""
    import json

    manifest = context.resolve_path(params.path)
    try:
        entries = json.loads(manifest.read_text(encoding="utf-8"))["images"]
        pairs = [(manifest.parent / entry["file"], str(entry["label"])) for entry in entries]
    except FileNotFoundError:
        raise cnnbuild.DataNotFound(f"{manifest}: file does not exist; set data.path to the manifest") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise cnnbuild.DataError(f'{manifest}: not a manifest of the form {{"images": [{{"file": ..., "label": ...}}]}}: {exc}') from None
    return cnnbuild.file_list_source(pairs, params, context, class_names=params.class_names, where=str(manifest))


class TimeLimitParams(Params):
    minutes: float = Field(gt=0, description="stop after the epoch that crosses this budget")


def time_limit(params: TimeLimitParams, context: cnnbuild.CallbackContext) -> Any:
    from cnnbuild_example.callbacks import TimeLimit

    return TimeLimit(params.minutes * 60)


@cnnbuild.hookimpl
def register_layers(register):
    register("SqueezeExcitation2D", SqueezeExcitationParams, squeeze_excitation, shape=squeeze_excitation_shape)


@cnnbuild.hookimpl
def register_data_sources(register):
    register("synthetic_shapes", SyntheticShapesParams, synthetic_shapes, class_names=lambda params, context: list(params.shapes))
    register("json_manifest", ManifestParams, json_manifest)


@cnnbuild.hookimpl
def register_callbacks(register):
    register("TimeLimit", TimeLimitParams, time_limit)


@cnnbuild.hookimpl
def keras_objects():
    from cnnbuild_example.layers import SqueezeExcitation2D

    return {"SqueezeExcitation2D": SqueezeExcitation2D}
