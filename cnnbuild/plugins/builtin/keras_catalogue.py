"""What cnnbuild offers of Keras's layers, and why it leaves out what it leaves out: the tables.

Every builtin layer type is the Keras layer of the same name, and its parameters are Keras's,
with Keras's names and defaults. What a builtin layer does not take of its Keras layer's
parameters is listed in :data:`NOT_OFFERED`, each with its reason (:data:`REASONS`, by parameter
name, or :data:`LAYER_REASONS` for one layer); a spec that writes one gets that reason at the
key's line, and the JSON Schema marks the key as refused. A default that differs from Keras's on
purpose is in :data:`CHANGED_DEFAULTS`; Keras layers for images that are not offered at all are
registered as refused types (:data:`NOT_OFFERED_LAYERS`), so ``validate`` says why.

:func:`disagreements` compares all of it with the installed Keras's signatures;
``tools/keras_catalogue.py`` prints the comparison, and a test fails on any disagreement, so the
catalogue follows Keras as it changes.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field, TypeAdapter, create_model
from pydantic_core import PydanticUndefined

from cnnbuild.contracts.layers import GRAPH_KEYS
from cnnbuild.contracts.values import Params
from cnnbuild.plugins.hookspecs import hookimpl
from cnnbuild.plugins.parameter_models import DeferredParams

_WEIGHT_DECAY = "weight penalties are not set per layer: use compile.optimizer's weight_decay (every optimizer takes it), which decays every weight"
_CONSTRAINT = "weight constraints (max_norm, non_neg, ...) are rarely used by image classifiers and are not offered; a plugin layer can add one"
_INITIALIZER = "Keras's default is kept (zeros for biases and offsets, ones for scales, glorot_uniform for kernels); kernel_initializer is offered on Conv2D, Conv2DTranspose, Dense and MultiHeadAttention"

#: Why a Keras parameter is not offered, by its name, for every layer that has it.
REASONS: dict[str, str] = {
    "data_format": "cnnbuild's tensors are channels_last, (height, width, channels), in every layer",
    "seed": "random layers draw from the spec's top-level seed (keras.utils.set_random_seed; each augmentation entry its own stream), not from a seed per layer",
    "name": "cnnbuild names each layer after its entry (its name, or its place in model.layers)",
    "dtype": "train.precision sets every layer's dtype",
    **{key: _WEIGHT_DECAY for key in ("kernel_regularizer", "bias_regularizer", "activity_regularizer", "depthwise_regularizer", "pointwise_regularizer", "beta_regularizer", "gamma_regularizer", "alpha_regularizer")},
    **{key: _CONSTRAINT for key in ("kernel_constraint", "bias_constraint", "depthwise_constraint", "pointwise_constraint", "beta_constraint", "gamma_constraint", "alpha_constraint")},
    **{key: _INITIALIZER for key in ("bias_initializer", "depthwise_initializer", "pointwise_initializer", "beta_initializer", "gamma_initializer", "moving_mean_initializer", "moving_variance_initializer", "alpha_initializer")},
    "lora_rank": "LoRA adapts a trained Dense layer; cnnbuild fine-tunes with train.fine_tune",
    "lora_alpha": "LoRA adapts a trained Dense layer; cnnbuild fine-tunes with train.fine_tune",
    "quantization_config": "quantizing is export's work: cnnbuild export --quantize",
}  # fmt: skip

#: Why a Keras parameter is not offered, for one layer (where its name's reason in REASONS does not fit, or it has none).
LAYER_REASONS: dict[tuple[str, str], str] = {
    ("BatchNormalization", "axis"): "it normalises the channels, axis -1: cnnbuild's tensors are channels_last",
    ("BatchNormalization", "renorm"): "batch renormalization is not offered; for small batches use GroupNormalization",
    ("BatchNormalization", "renorm_clipping"): "batch renormalization is not offered; for small batches use GroupNormalization",
    ("BatchNormalization", "renorm_momentum"): "batch renormalization is not offered; for small batches use GroupNormalization",
    ("BatchNormalization", "synchronized"): "batch statistics synchronised across devices are not offered: each replica normalises its own share of the batch",
    ("Dropout", "noise_shape"): "Dropout drops single values; SpatialDropout2D drops whole channels, the shaped case image models use",
    ("Resizing", "pad_to_aspect_ratio"): "crop_to_aspect_ratio keeps the aspect ratio; padding to it is not offered",
    ("Resizing", "fill_mode"): "it only applies with pad_to_aspect_ratio, which is not offered",
    ("Resizing", "fill_value"): "it only applies with pad_to_aspect_ratio, which is not offered",
    ("Resizing", "antialias"): "Keras's default (no antialiasing) is kept, so training and exported models resize alike",
    ("RandomSaturation", "value_range"): "Keras clips the saturation, a 0..1 quantity, to value_range, so (0, 1) is always right and cnnbuild passes it",
    ("MultiHeadAttention", "sliding_window"): "attention runs across all positions (or attention_axes); windows over a flattened feature map would follow its rows, not its neighbourhoods",
    ("MultiHeadAttention", "flash_attention"): "Keras uses flash attention where the backend has it (its default)",
    ("MultiHeadAttention", "use_gate"): "gated attention (a learned sigmoid gate on each head's output) is not offered",
}

#: Keras parameters of each builtin layer that cnnbuild does not take (each has a reason above).
NOT_OFFERED: dict[str, tuple[str, ...]] = {
    "AdaptiveAveragePooling2D": ("data_format",),
    "AdaptiveMaxPooling2D": ("data_format",),
    "AugMix": ("seed", "data_format"),
    "AveragePooling2D": ("data_format", "name"),
    "BatchNormalization": (
        "axis", "beta_initializer", "gamma_initializer", "moving_mean_initializer", "moving_variance_initializer", "beta_regularizer",
        "gamma_regularizer", "beta_constraint", "gamma_constraint", "renorm", "renorm_clipping", "renorm_momentum", "synchronized",
    ),
    "CenterCrop": ("data_format",),
    "ContrastLimitedAdaptiveHistogramEqualization": ("data_format",),
    "Conv2D": ("data_format", "bias_initializer", "kernel_regularizer", "bias_regularizer", "activity_regularizer", "kernel_constraint", "bias_constraint"),
    "Conv2DTranspose": ("data_format", "bias_initializer", "kernel_regularizer", "bias_regularizer", "activity_regularizer", "kernel_constraint", "bias_constraint"),
    "Cropping2D": ("data_format",),
    "CutMix": ("seed", "data_format"),
    "Dense": (
        "bias_initializer", "kernel_regularizer", "bias_regularizer", "activity_regularizer", "kernel_constraint", "bias_constraint",
        "lora_rank", "lora_alpha", "quantization_config",
    ),
    "DepthwiseConv2D": (
        "data_format", "depthwise_initializer", "bias_initializer", "depthwise_regularizer", "bias_regularizer", "activity_regularizer",
        "depthwise_constraint", "bias_constraint",
    ),
    "Dropout": ("noise_shape", "seed"),
    "Flatten": ("data_format",),
    "GaussianDropout": ("seed",),
    "GaussianNoise": ("seed",),
    "GlobalAveragePooling2D": ("data_format",),
    "GlobalMaxPooling2D": ("data_format",),
    "GroupNormalization": ("beta_initializer", "gamma_initializer", "beta_regularizer", "gamma_regularizer", "beta_constraint", "gamma_constraint"),
    "LayerNormalization": ("beta_initializer", "gamma_initializer", "beta_regularizer", "gamma_regularizer", "beta_constraint", "gamma_constraint"),
    "MaxPooling2D": ("data_format", "name"),
    "MixUp": ("data_format", "seed"),
    "MultiHeadAttention": (
        "sliding_window", "flash_attention", "bias_initializer", "kernel_regularizer", "bias_regularizer", "activity_regularizer",
        "kernel_constraint", "bias_constraint", "use_gate", "seed",
    ),
    "Pipeline": ("name",),
    "PReLU": ("alpha_initializer", "alpha_regularizer", "alpha_constraint"),
    "RandAugment": ("seed", "data_format"),
    "RandomBrightness": ("seed",),
    "RandomColorDegeneration": ("data_format", "seed"),
    "RandomColorJitter": ("seed", "data_format"),
    "RandomContrast": ("seed",),
    "RandomCrop": ("seed", "data_format", "name"),
    "RandomErasing": ("seed", "data_format"),
    "RandomFlip": ("seed", "data_format"),
    "RandomGaussianBlur": ("data_format", "seed"),
    "RandomGrayscale": ("data_format", "seed"),
    "RandomHue": ("data_format", "seed"),
    "RandomInvert": ("seed", "data_format"),
    "RandomPerspective": ("seed", "data_format"),
    "RandomPosterization": ("data_format", "seed"),
    "RandomRotation": ("seed", "data_format"),
    "RandomSaturation": ("value_range", "data_format", "seed"),
    "RandomSharpness": ("data_format", "seed"),
    "RandomShear": ("data_format", "seed"),
    "RandomTranslation": ("seed", "data_format"),
    "RandomZoom": ("seed", "data_format"),
    "Resizing": ("pad_to_aspect_ratio", "fill_mode", "fill_value", "antialias", "data_format"),
    "SeparableConv2D": (
        "data_format", "depthwise_initializer", "pointwise_initializer", "bias_initializer", "depthwise_regularizer", "pointwise_regularizer",
        "bias_regularizer", "activity_regularizer", "depthwise_constraint", "pointwise_constraint", "bias_constraint",
    ),
    "Solarization": ("seed",),
    "SpatialDropout2D": ("data_format", "seed", "name", "dtype"),
    "UpSampling2D": ("data_format",),
    "ZeroPadding2D": ("data_format",),
}  # fmt: skip

#: Offered parameters whose default is not Keras's, and why.
CHANGED_DEFAULTS: dict[tuple[str, str], str] = {
    ("AveragePooling2D", "pool_size"): "Keras requires it; cnnbuild gives it MaxPooling2D's default, 2",
}

#: Builtin layer types that are not a Keras layer of that name, and what they are instead.
NOT_KERAS: dict[str, str] = {
    "Backbone": "a keras.applications network, chosen by architecture",
}

_FLAT = "cnnbuild's inputs are 2D images; a (positions, channels) sequence goes through the 2D layer after Reshape to [1, -1, channels], with a [1, k] window"
_DEEP = "cnnbuild's inputs are 2D images, (height, width, channels): there is no depth axis for a 3D layer"

#: Keras layers an image model might reach for that cnnbuild does not offer, and why (registered as refused types).
NOT_OFFERED_LAYERS: dict[str, str] = {
    **{name: _FLAT for name in (
        "Conv1D", "Conv1DTranspose", "SeparableConv1D", "DepthwiseConv1D", "MaxPooling1D", "AveragePooling1D", "GlobalAveragePooling1D",
        "GlobalMaxPooling1D", "AdaptiveAveragePooling1D", "AdaptiveMaxPooling1D", "UpSampling1D", "ZeroPadding1D", "Cropping1D", "SpatialDropout1D",
    )},
    **{name: _DEEP for name in (
        "Conv3D", "Conv3DTranspose", "MaxPooling3D", "AveragePooling3D", "GlobalAveragePooling3D", "GlobalMaxPooling3D", "AdaptiveAveragePooling3D", "AdaptiveMaxPooling3D",
        "UpSampling3D", "ZeroPadding3D", "Cropping3D", "SpatialDropout3D",
    )},
    "Lambda": "a spec runs no Python code; write the function as a layer of a plugin (docs/plugins.md)",
    "Normalization": "its mean and variance come from adapt() on the data before training, which a spec does not run; use Rescaling (scale: 1/255, or 1/127.5 with offset: -1) or BatchNormalization",
    "Attention": "dot-product attention without learned projections; use MultiHeadAttention (num_heads: 1), which takes its query and value the same way",
    "AdditiveAttention": "attention without learned projections; use MultiHeadAttention (num_heads: 1), which takes its query and value the same way",
    "GroupQueryAttention": "grouped-query attention is not offered; use MultiHeadAttention",
    "EinsumDense": "an einsum equation is not offered; Dense acts on the last axis, and Permute and Reshape move the others there",
    "SpectralNormalization": "it wraps another layer, and an entry cannot hold one",
    "TimeDistributed": "it wraps another layer, and an entry cannot hold one",
    "AlphaDropout": "it keeps SELU networks self-normalising, which cnnbuild's layers are not built for; use Dropout or GaussianDropout",
    "ActivityRegularization": _WEIGHT_DECAY,
}  # fmt: skip


def reason(layer: str, parameter: str) -> str | None:
    """Why ``layer``'s Keras parameter ``parameter`` is not offered; None where no table says."""
    return LAYER_REASONS.get((layer, parameter)) or REASONS.get(parameter)


class NotOffered:
    """Marks a field of a parameter model as a Keras parameter cnnbuild refuses (see :func:`with_refusals`)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return f"NotOffered({self.reason!r})"


def is_offered(field: Any) -> bool:
    """Whether a parameter model's field is one a spec may set (not a refused Keras parameter)."""
    return not any(isinstance(item, NotOffered) for item in field.metadata)


def _refusal(parameter: str, why: str) -> Any:
    def refuse(value: Any) -> Any:
        raise ValueError(f"{parameter} is a Keras parameter cnnbuild does not offer: {why}")

    return Annotated[Any, NotOffered(why), BeforeValidator(refuse)]


def with_refusals(layer: str, params: type[Params]) -> type[Params]:
    """``params`` with a field for each Keras parameter of ``layer`` in :data:`NOT_OFFERED`: setting
    one is an error saying why, at its key; unset, it is left out of dumps (Keras keeps its default)."""
    fields: dict[str, Any] = {
        parameter: (_refusal(parameter, why), Field(None, exclude=True, json_schema_extra={"not": {}, "description": f"not offered: {why}"}))
        for parameter in NOT_OFFERED.get(layer, ())
        if (why := reason(layer, parameter)) is not None and parameter not in params.model_fields and parameter not in GRAPH_KEYS
    }
    if not fields:
        return params
    return create_model(params.__name__, __base__=params, __module__=params.__module__, __doc__=params.__doc__, **fields)


def catalogued(register: Callable[..., None]) -> Callable[..., None]:
    """A ``register`` that gives each layer's parameter model its refused Keras parameters (:func:`with_refusals`)."""

    def register_catalogued(name: str, params: type[Params], factory: Callable[..., Any], **options: Any) -> None:
        register(name, DeferredParams(params, functools.partial(with_refusals, name, params)), factory, **options)

    return register_catalogued


def _same_default(field: Any, keras_default: Any) -> bool:
    ours = field.default
    if ours is PydanticUndefined or keras_default is inspect.Parameter.empty:
        return ours is PydanticUndefined and keras_default is inspect.Parameter.empty
    if ours is None or keras_default is None:
        return ours is None and keras_default is None
    try:  # Keras's default written in cnnbuild's type: (1, 1) and 1, 'Zeros' and 'zeros' may be the same setting
        annotation = Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation
        return TypeAdapter(annotation).validate_python(keras_default) == ours
    except Exception:
        return keras_default == ours


def keras_parameters(layer_class: type) -> dict[str, Any]:
    """A Keras layer class's own parameters and their defaults (``inspect.Parameter.empty``: required), without ``**kwargs``."""
    signature = inspect.signature(layer_class.__init__)
    return {p.name: p.default for p in signature.parameters.values() if p.name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}


def disagreements(layers: Mapping[str, Any], keras_layers: Any) -> list[str]:
    """Every way the catalogue and Keras disagree, one line each ([] when they agree).

    ``layers``: name -> registration of the builtin layers; ``keras_layers``: where their classes
    are found (``keras.layers``). Refused types and :data:`NOT_KERAS` types are not compared."""
    found: list[str] = []
    for name, registration in sorted(layers.items()):
        model: type[BaseModel] = registration.params
        if name in NOT_KERAS or name in NOT_OFFERED_LAYERS or (model.model_config.get("json_schema_extra") or {}).get("not") is not None:
            continue
        layer_class = getattr(keras_layers, name, None)
        if layer_class is None:
            found.append(f"{name}: Keras has no layer of that name; add it to NOT_KERAS with what it is, or rename it")
            continue
        keras_params = keras_parameters(layer_class)
        offered = {key: field for key, field in model.model_fields.items() if key not in ("type", "name", "inputs") and is_offered(field)}
        for key, field in offered.items():
            if key not in keras_params:
                found.append(f"{name}.{key}: offered, and Keras's {name} has no such parameter")
            elif (name, key) not in CHANGED_DEFAULTS and not _same_default(field, keras_params[key]):
                default = "required" if field.default is PydanticUndefined else repr(field.default)
                keras_default = "required" if keras_params[key] is inspect.Parameter.empty else repr(keras_params[key])
                found.append(f"{name}.{key}: cnnbuild's default is {default}, Keras's is {keras_default}; make them agree or say why in CHANGED_DEFAULTS")
        refused_here = set(NOT_OFFERED.get(name, ()))
        for key in keras_params:
            if key in offered:
                continue
            if key not in refused_here:
                found.append(f"{name}.{key}: a parameter of Keras's {name} that cnnbuild neither offers nor lists in NOT_OFFERED with a reason")
            elif reason(name, key) is None:
                found.append(f"{name}.{key}: listed in NOT_OFFERED without a reason in REASONS or LAYER_REASONS")
        for key in sorted(refused_here - set(keras_params)):
            found.append(f"{name}.{key}: listed in NOT_OFFERED, and Keras's {name} has no such parameter any more")
        for (layer, key) in CHANGED_DEFAULTS:
            if layer == name and key not in offered:
                found.append(f"{name}.{key}: in CHANGED_DEFAULTS, and cnnbuild does not offer it")
    for layer in sorted(set(NOT_OFFERED) - set(layers)):
        found.append(f"{layer}: in NOT_OFFERED, and no builtin layer has that name")
    return found


@hookimpl
def register_layers(register: Any) -> None:
    from cnnbuild.plugins.builtin.preprocessing_layers import not_offered, refused  # it registers through catalogued, defined here

    for name, why in NOT_OFFERED_LAYERS.items():
        register(name, DeferredParams(Params, functools.partial(refused, name, why)), not_offered)
