"""Parameter types of the builtin layers that no other plugin needs yet: margins, axes, shapes.

Each validates in one step and says what it expects, as the shared types of
``cnnbuild.contracts.values`` do; their JSON Schema says the same.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, WithJsonSchema

from cnnbuild.contracts.values import PAIR_LIMIT

_COUNT = {"type": "integer", "minimum": 0}
_PAIR_OF_COUNTS = {"type": "array", "items": _COUNT, "minItems": 2, "maxItems": 2}


def _count(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected {what}, got {value!r}")
    if not 0 <= value <= PAIR_LIMIT:
        raise ValueError(f"must be from 0 to {PAIR_LIMIT:,}, got {value}")
    return value


def _non_negative_pair(value: Any) -> tuple[int, int]:
    what = "an integer or a pair [height, width] of integers from 0"
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise ValueError(f"expected {what}, got {list(value)!r}")
        return (_count(value[0], what), _count(value[1], what))
    count = _count(value, what)
    return (count, count)


def _margins(value: Any) -> tuple[tuple[int, int], tuple[int, int]]:
    what = "an integer, [height, width] or [[top, bottom], [left, right]] of integers from 0"
    if isinstance(value, (list, tuple)) and any(isinstance(side, (list, tuple)) for side in value):
        if len(value) != 2 or not all(isinstance(side, (list, tuple)) and len(side) == 2 for side in value):
            raise ValueError(f"expected {what}, got {list(value)!r}")
        (top, bottom), (left, right) = ((_count(end, what) for end in side) for side in value)
        return ((top, bottom), (left, right))
    height, width = _non_negative_pair(value)
    return ((height, height), (width, width))


def _axes(value: Any) -> Any:
    if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, (list, tuple)) and value and all(isinstance(v, int) and not isinstance(v, bool) for v in value))):
        raise ValueError(f"expected an axis or a list of axes (integers; -1 is the channels, 1 the first axis after the batch), got {value!r}")
    if isinstance(value, int):
        return value
    if len(set(value)) != len(value):
        raise ValueError(f"an axis is listed twice in {list(value)!r}")
    return tuple(value)


def _dimensions(value: Any) -> tuple[int, ...]:
    if not isinstance(value, (list, tuple)) or not value or any(isinstance(v, bool) or not isinstance(v, int) for v in value):
        raise ValueError(f"expected a list of integers such as [16, 64], got {value!r}")
    if any(v < 1 and v != -1 for v in value) or list(value).count(-1) > 1:
        raise ValueError(f"every dimension must be a positive integer, and one at most may be -1 (inferred), got {list(value)!r}")
    return tuple(value)


#: An int or ``[height, width]`` from 0; always a pair after validation.
NonNegativePair = Annotated[tuple[int, int], BeforeValidator(_non_negative_pair), WithJsonSchema({"anyOf": [_COUNT, _PAIR_OF_COUNTS]})]
#: Rows and columns added or removed at each side, as Keras's ZeroPadding2D and Cropping2D take them:
#: an int, ``[height, width]`` (both sides alike) or ``[[top, bottom], [left, right]]``.
Margins = Annotated[
    tuple[tuple[int, int], tuple[int, int]],
    BeforeValidator(_margins),
    WithJsonSchema({"anyOf": [_COUNT, _PAIR_OF_COUNTS, {"type": "array", "items": _PAIR_OF_COUNTS, "minItems": 2, "maxItems": 2}]}),
]
#: An axis or a list of distinct axes, counted as Keras counts them (0 is the batch, -1 the last).
Axes = Annotated[
    int | tuple[int, ...],
    BeforeValidator(_axes),
    WithJsonSchema({"anyOf": [{"type": "integer"}, {"type": "array", "items": {"type": "integer"}, "minItems": 1, "uniqueItems": True}]}),
]
#: A shape without the batch axis; one dimension may be -1, inferred from the others.
Dimensions = Annotated[
    tuple[int, ...],
    BeforeValidator(_dimensions),
    WithJsonSchema({"type": "array", "items": {"type": "integer", "minimum": -1}, "minItems": 1}),
]


def axis_indices(axes: int | tuple[int, ...], rank: int) -> tuple[int, ...] | None:
    """``axes`` (Keras's count: 0 the batch, negative from the end) as indices into a shape of
    ``rank`` dimensions without the batch axis; None when one is the batch axis or out of range."""
    found = []
    for axis in (axes,) if isinstance(axes, int) else axes:
        index = axis - 1 if axis > 0 else rank + axis
        if axis == 0 or not 0 <= index < rank:
            return None
        found.append(index)
    return tuple(found) if len(set(found)) == len(found) else None
