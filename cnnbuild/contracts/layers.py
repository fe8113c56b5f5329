"""What a layer's shape function returns, and raises, so ``validate`` checks shapes without TensorFlow."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, NamedTuple

from pydantic import BaseModel, BeforeValidator, Field, model_serializer

#: An output shape without the batch axis; a dimension may be None where it is unknown.
Shape = tuple[int | None, ...]


class LayerShape(NamedTuple):
    """A layer's output shape (without the batch axis) and its parameter counts.

    ``params`` counts every weight of the layer (trainable and not, as Keras's ``count_params``);
    ``non_trainable`` is the part of it that training does not change (BatchNormalization's
    moving mean and variance).
    """

    output_shape: Shape
    params: int = 0
    non_trainable: int = 0


class ShapeError(ValueError):
    """Raised by a shape function when the input shape cannot go through the layer.

    ``hint`` says what to change; ``validate`` prints ``message; hint`` at the entry's line.
    """

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


def same_shape(params: object, shape: Shape) -> LayerShape:
    """The shape function of a layer that keeps its input shape and has no weights (Dropout, Activation)."""
    return LayerShape(shape)


@dataclass(frozen=True)
class LayerContext:
    """Given as the keyword argument ``context`` to the factory and the shape function of a layer
    registered with ``context=True``: a layer made of other entries (as ``Pipeline``'s ``layers``,
    a ``cnnbuild.AugmentationList``) builds and checks them through the registry the spec was
    validated with.

    ``make_layer(entry)`` is the Keras layer of a nested entry, from its registered factory;
    ``layer_shape(entry, input_shape)`` is what its shape function declares (a
    :class:`LayerShape`), or None when its type has no shape function.
    """

    make_layer: Callable[[Any], Any]
    layer_shape: Callable[[Any, Shape], LayerShape | None]


#: Shapes of a merge layer's inputs (registered with ``inputs=``), in the order the entry lists them.
Shapes = list[Shape]

#: What a graph entry's ``name`` may be: it names Keras layers too, so no dots or slashes.
ENTRY_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$"


def _listed(value: object) -> object:
    return [value] if isinstance(value, str) else value


class GraphEntryFields(BaseModel):
    """The keys every entry of ``model.layers`` may carry besides its parameters: ``name`` and
    ``inputs`` (a graph). Unset, they are left out of dumps, so factories and ``spec.yaml`` see
    exactly the layer's parameters."""

    name: Annotated[str, Field(pattern=ENTRY_NAME_PATTERN)] | None = Field(
        None, description="a name for this entry's output, which other entries list in inputs (letters, digits, '_' and '-')"
    )
    inputs: Annotated[list[str], BeforeValidator(_listed), Field(min_length=1)] | None = Field(
        None, description="the names of the entries whose outputs this one takes ('input' is the model's input); default: the entry before it"
    )

    @model_serializer(mode="wrap")
    def _leave_out_unset(self, handler: Any) -> Any:
        data = handler(self)
        if isinstance(data, dict):
            for key in GRAPH_KEYS:
                if data.get(key) is None:
                    data.pop(key, None)
        return data


#: The keys :class:`GraphEntryFields` adds to an entry.
GRAPH_KEYS = ("name", "inputs")
