"""What a layer's shape function returns, and raises, so ``validate`` checks shapes without TensorFlow."""

from __future__ import annotations

from typing import NamedTuple

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
