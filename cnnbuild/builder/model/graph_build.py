"""A graph spec -> a functional ``keras.Model``: one Keras layer per node, named by the node."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cnnbuild.builder.model.build import model_layer, model_name
from cnnbuild.contracts.layers import ShapeError
from cnnbuild.errors import CnnbuildError
from cnnbuild.spec.graph.nodes import INPUT, PROJECTION, projection_entry

if TYPE_CHECKING:
    from cnnbuild.plugins.registry import Registry
    from cnnbuild.spec.document import Spec


def build_functional(spec: Spec, registry: Registry, num_classes: int | None, binary: bool, first: list[Any], *, load_weights: bool = True) -> Any:
    """The model of ``spec.graph``, after the layers ``first`` (augmentation inside the model).

    Each node's layer is named by the node's id (``stem``, ``1_residual.2.add``), so summaries,
    diagrams and the pure-Python rows name the same layers."""
    import keras

    graph = spec.graph
    inputs = keras.Input(shape=spec.data.input_shape)
    x = inputs
    for layer in first:
        x = layer(x)
    tensors: dict[str, Any] = {INPUT: x}
    for node in graph.nodes:
        feeds = [tensors[name] for name in node.inputs]
        entry = node.entry
        if node.type == PROJECTION:
            try:
                entry = projection_entry(tuple(feeds[0].shape[1:]), tuple(tensors[node.shape_of].shape[1:]), registry)
            except ShapeError as exc:
                raise CnnbuildError(f"{node.described}: {exc}; {exc.hint}") from exc
            if entry is None:
                tensors[node.id] = feeds[0]
                continue
        layer = model_layer(registry, entry, node.described, (num_classes, binary), spec, tuple(feeds[0].shape[1:]), output=node.id == graph.output, load_weights=load_weights)
        layer.name = node.id
        tensors[node.id] = layer(feeds if registry.layers[entry.type].merges else feeds[0])
    return keras.Model(inputs, tensors[graph.output], name=model_name(spec))
