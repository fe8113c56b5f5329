"""Parameter types shared by spec sections, builtin plugins and third-party plugins.

Each type validates in one step (no unions), so an error names the key and says what is
expected instead of listing every alternative pydantic tried. Plugins import them from
``cnnbuild`` (``cnnbuild.Number``, ``cnnbuild.Pair``, ``cnnbuild.SpecPath``, ``cnnbuild.RunPath``, ...).
"""

from __future__ import annotations

import math
import re
from pathlib import PurePosixPath
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from cnnbuild.contracts.run_layout import reserved_reason

ACTIVATIONS = (
    "celu", "elu", "exponential", "gelu", "glu", "hard_shrink", "hard_sigmoid", "hard_silu",
    "hard_swish", "hard_tanh", "leaky_relu", "linear", "log_sigmoid", "log_softmax", "mish",
    "relu", "relu6", "selu", "sigmoid", "silu", "soft_shrink", "softmax", "softplus",
    "softsign", "sparse_plus", "sparse_sigmoid", "sparsemax", "squareplus", "swish", "tanh",
    "tanh_shrink", "threshold",
)  # fmt: skip

_FRACTION = re.compile(r"^\s*([-+]?\d+(?:\.\d*)?)\s*/\s*(\d+(?:\.\d*)?)\s*$")
# YAML 1.1 (PyYAML) reads 1e-6 as text, wanting 1.0e-6; a number in that notation is read as the number
_EXPONENT = re.compile(r"^\s*[-+]?(?:\d+\.?\d*|\.\d+)[eE][-+]?\d+\s*$")


class RelativeToSpec:
    """Marks a parameter as a file or folder path, relative to the spec file's folder (see :data:`SpecPath`)."""

    def __repr__(self) -> str:
        return "RelativeToSpec()"


#: A file or folder path in a spec, relative to the spec file's folder. Plugins use it for their
#: own path parameters: the ``spec.yaml`` a run keeps then holds it made absolute, so
#: ``cnnbuild run RUN_DIR/spec.yaml`` finds the same file (resolve it with ``DataContext.resolve_path``).
SpecPath = Annotated[str, RelativeToSpec(), Field(json_schema_extra={"format": "path"})]


def is_spec_path(field: Any) -> bool:
    """Whether a pydantic field holds :data:`SpecPath` values: ``SpecPath`` itself (pydantic moves
    its marker into the field's metadata), or inside ``SpecPath | None``, ``list[SpecPath]`` and the like."""
    from typing import get_args

    def marked(annotation: Any) -> bool:
        return any(isinstance(item, RelativeToSpec) for item in getattr(annotation, "__metadata__", ())) or any(marked(arg) for arg in get_args(annotation))

    return any(isinstance(item, RelativeToSpec) for item in field.metadata) or marked(field.annotation)


def literal_values(annotation: Any) -> set[Any]:
    """The values of every ``Literal`` in ``annotation`` and its unions."""
    from typing import get_args, get_origin

    if get_origin(annotation) is Literal:
        return set(get_args(annotation))
    return set().union(*(literal_values(arg) for arg in get_args(annotation)))


class Params(BaseModel):
    """Base for every spec section and parameter model: unknown keys and NaN are errors."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True, defer_build=True)


def _number(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("expected a number, got a boolean")
    if isinstance(value, str):
        if _EXPONENT.match(value):
            value = float(value)
            if not math.isfinite(value):
                raise ValueError("expected a finite number")
            return value
        match = _FRACTION.match(value)
        if not match:
            raise ValueError(f"expected a number or a fraction such as 1/255, got {value!r}")
        numerator, denominator = float(match.group(1)), float(match.group(2))
        if denominator == 0:
            raise ValueError(f"division by zero in {value!r}")
        return numerator / denominator
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("expected a finite number")
    return value


def _int(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("expected an integer, got a boolean")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


PAIR_LIMIT = 2**20


def _pair(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("expected an integer or a pair [height, width], got a boolean")
    if isinstance(value, int):
        value = (value, value)
    elif isinstance(value, (list, tuple)):
        if len(value) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise ValueError(f"expected an integer or a pair of integers [height, width], got {list(value)!r}")
        value = tuple(value)
    else:
        raise ValueError(f"expected an integer or a pair [height, width], got {value!r}")
    if not all(1 <= v <= PAIR_LIMIT for v in value):  # one message for the pair, not one per side
        raise ValueError(f"must be from 1 to {PAIR_LIMIT:,}, got {value[0] if value[0] == value[1] else list(value)}")
    return value


_PAIR_SCHEMA = {"anyOf": [{"type": "integer", "minimum": 1}, {"type": "array", "items": {"type": "integer", "minimum": 1}, "minItems": 2, "maxItems": 2}]}
_NUMBER_TEXT = f"{_FRACTION.pattern}|{_EXPONENT.pattern}"
_NUMBER_SCHEMA = {"anyOf": [{"type": "number"}, {"type": "string", "pattern": _NUMBER_TEXT}]}

#: A number; also accepts a simple fraction written as text, such as ``1/255``.
Number = Annotated[float, BeforeValidator(_number), WithJsonSchema(_NUMBER_SCHEMA)]
Fraction01 = Annotated[float, BeforeValidator(_number), Field(ge=0, lt=1), WithJsonSchema(_NUMBER_SCHEMA)]
NonNegativeNumber = Annotated[float, BeforeValidator(_number), Field(ge=0), WithJsonSchema(_NUMBER_SCHEMA)]
PositiveNumber = Annotated[float, BeforeValidator(_number), Field(gt=0), WithJsonSchema(_NUMBER_SCHEMA)]
# Constraints before the validator, so the JSON Schema says minimum/maximum (editors know those).
INT_LIMIT = 2**31 - 1


def _int32(value: int) -> int:
    # a validator, not Field(le=...): a parameter declared as `PositiveInt = Field(3, le=16)` must
    # keep its own bound, and pydantic keeps only the last of two `le` constraints
    if value > INT_LIMIT:
        raise ValueError(f"must be less than or equal to {INT_LIMIT}, got {value}")
    return value


PositiveInt = Annotated[int, Field(ge=1), BeforeValidator(_int), AfterValidator(_int32)]
NonNegativeInt = Annotated[int, Field(ge=0), BeforeValidator(_int), AfterValidator(_int32)]
#: An int or ``[height, width]``; always a pair after validation.
Pair = Annotated[tuple[int, int], BeforeValidator(_pair), WithJsonSchema(_PAIR_SCHEMA)]
Padding = Literal["valid", "same"]
Activation = Literal[ACTIVATIONS]  # type: ignore[valid-type]
ColorMode = Literal["rgb", "grayscale", "rgba"]
LabelMode = Literal["int", "binary", "categorical"]
Interpolation = Literal["bilinear", "nearest", "bicubic", "area", "lanczos3", "lanczos5", "gaussian", "mitchellcubic"]

CHANNELS = {"rgb": 3, "grayscale": 1, "rgba": 4}


def _units(value: Any) -> Any:
    if value == "auto":
        return value
    value = _int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"expected a positive integer or 'auto', got {value!r}")
    if value < 1:
        raise ValueError(f"must be a positive integer or 'auto', got {value}")
    return value


#: Output units of a Dense layer, or ``auto`` for the number of classes.
Units = Annotated[int | Literal["auto"], BeforeValidator(_units), WithJsonSchema({"anyOf": [{"type": "integer", "minimum": 1}, {"const": "auto"}]})]

Initializer = Literal[
    "glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_uniform", "lecun_normal",
    "random_normal", "random_uniform", "truncated_normal", "orthogonal", "zeros", "ones",
]  # fmt: skip


def _factor(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise ValueError(f"expected a number or a pair [lower, upper], got {list(value)!r}")
        lower, upper = (_number(v) for v in value)
        if lower > upper:
            raise ValueError(f"lower bound {lower} is above upper bound {upper}")
        return (lower, upper)
    return _number(value)


#: A number, or a pair ``[lower, upper]``, as Keras's random layers take it.
Factor = Annotated[
    float | tuple[float, float],
    BeforeValidator(_factor),
    WithJsonSchema({"anyOf": [_NUMBER_SCHEMA, {"type": "array", "items": _NUMBER_SCHEMA, "minItems": 2, "maxItems": 2}]}),
]


class NestedAugmentation:
    """Marks a parameter as a list of augmentation entries (see :data:`AugmentationList`)."""

    def __repr__(self) -> str:
        return "NestedAugmentation()"


#: A list of augmentation entries (``{type: ..., ...}``), as in the spec's ``augmentation`` list.
#: The spec model replaces it with the registered augmentation types, so each entry is
#: validated, with its own line in errors, and reaches the factory as its parameter model.
AugmentationList = Annotated[list[dict[str, Any]], NestedAugmentation(), Field(min_length=1)]


def nested_augmentation_fields(model: type[BaseModel]) -> list[str]:
    """The fields of ``model`` declared as :data:`AugmentationList`."""
    return [name for name, field in model.model_fields.items() if any(isinstance(item, NestedAugmentation) for item in field.metadata)]


def factor_within(lower: float, upper: float) -> Any:
    """A :data:`Factor` whose number, or both ends of its pair, lie in ``[lower, upper]``."""
    bounded = {"anyOf": [{"type": "number", "minimum": lower, "maximum": upper}, {"type": "string", "pattern": _NUMBER_TEXT}]}

    def check(value: Any) -> Any:
        for end in value if isinstance(value, tuple) else (value,):
            if not lower <= end <= upper:
                raise ValueError(f"must lie in [{lower:g}, {upper:g}], got {end:g}")
        return value

    return Annotated[Factor, AfterValidator(check), WithJsonSchema({"anyOf": [bounded, {"type": "array", "items": bounded, "minItems": 2, "maxItems": 2}]})]


#: A probability: a number in [0, 1].
Probability = Annotated[float, BeforeValidator(_number), Field(ge=0, le=1), WithJsonSchema({"anyOf": [{"type": "number", "minimum": 0, "maximum": 1}, {"type": "string", "pattern": _NUMBER_TEXT}]})]


def _inside_run(value: str) -> str:
    path = PurePosixPath(value.replace("\\", "/"))
    if not value.strip() or path.is_absolute() or ".." in path.parts or "\x00" in value or ":" in value.split("/")[0]:
        raise ValueError(f"must be a relative path inside the run directory, got {value!r}")
    reason = reserved_reason(value)
    if reason:
        raise ValueError(f"{value!r}: {reason}; choose another name, such as a sub-folder of its own")
    return value


#: A file or folder inside the run directory (a callback's log file, say): relative, never
#: leaving the run directory, never one of the files cnnbuild writes there itself.
RunPath = Annotated[str, AfterValidator(_inside_run), Field(json_schema_extra={"format": "path"})]
