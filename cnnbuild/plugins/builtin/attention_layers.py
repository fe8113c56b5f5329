"""MultiHeadAttention as a graph entry: self-attention over one input, or a query attending to a second input.

Keras's layer is called as ``layer(query, value)``; an entry of ``model.layers`` gives a layer
its inputs as one tensor or a list, so cnnbuild's layer (a subclass, registered for saved models
as ``cnnbuild>MultiHeadAttention``) reads them so:

- one input (the entry before it, or ``inputs: [x]``): self-attention, query = value = key = x;
- two inputs (``inputs: [q, v]``): the first is the query, the second the value (and the key).

Over an (H, W, C) feature map the attention runs across all H x W positions (``attention_axes``
unset), each position's C channels being its features; over (N, C) across the N positions.
The output has the query's shape, its last dimension ``output_shape`` where given.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import Field

from cnnbuild.contracts.layers import LayerShape, ShapeError, Shapes
from cnnbuild.contracts.values import Fraction01, Initializer, Params, PositiveInt
from cnnbuild.plugins.builtin.keras_catalogue import catalogued
from cnnbuild.plugins.builtin.layer_values import Axes, axis_indices
from cnnbuild.plugins.hookspecs import hookimpl


class MultiHeadAttentionParams(Params):
    num_heads: PositiveInt
    key_dim: PositiveInt = Field(description="size of each head's query and key")
    value_dim: PositiveInt | None = Field(None, description="size of each head's value; default: key_dim")
    dropout: Fraction01 = Field(0.0, description="dropout on the attention weights while training")
    use_bias: bool = True
    output_shape: PositiveInt | None = Field(None, description="the output's last dimension; default: the query's")
    attention_axes: Axes | None = Field(None, description="the axes attended across; default: every axis but the batch and the last (all H x W positions of a feature map)")
    kernel_initializer: Initializer = "glorot_uniform"


def attention_shape(params: MultiHeadAttentionParams, shapes: Shapes) -> LayerShape:
    query = shapes[0]
    value = shapes[1] if len(shapes) > 1 else query
    if len(query) < 2:
        raise ShapeError(f"needs positions and features, such as (height, width, channels) or (positions, channels), got {query}", "put it before Flatten and global pooling")
    if len(value) != len(query):
        raise ShapeError(f"the query {query} and the value {value} have different ranks", "bring the value to the query's rank (Reshape)")
    if params.attention_axes is not None:
        indices = axis_indices(params.attention_axes, len(query))
        if indices is None or len(query) - 1 in indices:
            written = params.attention_axes if isinstance(params.attention_axes, int) else list(params.attention_axes)
            raise ShapeError(f"attention_axes {written} must be axes of {query} other than the batch (0) and the last (the features)", "leave it unset to attend across every position")
    heads, key_dim = params.num_heads, params.key_dim
    value_dim = params.value_dim or key_dim
    output = params.output_shape or query[-1]
    bias = int(params.use_bias)
    weights = (
        (query[-1] + bias) * heads * key_dim  # query projection
        + (value[-1] + bias) * heads * key_dim  # key projection (the key is the value)
        + (value[-1] + bias) * heads * value_dim  # value projection
        + heads * value_dim * output + bias * output  # output projection
    )
    return LayerShape((*query[:-1], output), weights)


@cache
def attention_class() -> type:
    """The Keras layer class: Keras's MultiHeadAttention taking one tensor or ``[query, value]``."""
    import keras

    @keras.saving.register_keras_serializable(package="cnnbuild", name="MultiHeadAttention")
    class MultiHeadAttention(keras.layers.MultiHeadAttention):
        """Self-attention on one tensor; on a list ``[query, value]``, the query attends to the value."""

        @staticmethod
        def _split(inputs: Any) -> tuple[Any, Any]:
            if isinstance(inputs, (list, tuple)):
                return (inputs[0], inputs[1]) if len(inputs) > 1 else (inputs[0], inputs[0])
            return inputs, inputs

        def build(self, input_shape: Any) -> None:
            nested = isinstance(input_shape, (list, tuple)) and bool(input_shape) and isinstance(input_shape[0], (list, tuple))
            query, value = self._split(input_shape) if nested else (input_shape, input_shape)
            super().build(tuple(query), tuple(value))

        def call(self, inputs: Any, training: Any = None) -> Any:
            query, value = self._split(inputs)
            return super().call(query, value, training=training)

        def compute_output_shape(self, input_shape: Any, value_shape: Any = None, key_shape: Any = None) -> Any:
            if value_shape is not None:  # Keras's own compute_output_spec asks with (query, value, key) shapes
                return super().compute_output_shape(input_shape, value_shape, key_shape)
            nested = isinstance(input_shape, (list, tuple)) and bool(input_shape) and isinstance(input_shape[0], (list, tuple))
            query, value = self._split(input_shape) if nested else (input_shape, input_shape)
            return super().compute_output_shape(query, value)

        def compute_output_spec(self, inputs: Any, training: Any = None) -> Any:
            query, value = self._split(inputs)
            return super().compute_output_spec(query, value)

    return MultiHeadAttention


def make_attention(params: MultiHeadAttentionParams) -> Any:
    options = params.model_dump(exclude={"type"})
    if isinstance(options["attention_axes"], tuple):
        options["attention_axes"] = list(options["attention_axes"])
    return attention_class()(**options)


@hookimpl
def register_layers(register: Any) -> None:
    register = catalogued(register)
    register("MultiHeadAttention", MultiHeadAttentionParams, make_attention, shape=attention_shape, inputs=(1, 2))


@hookimpl
def keras_objects() -> dict[str, Any]:
    return {"cnnbuild>MultiHeadAttention": attention_class()}

