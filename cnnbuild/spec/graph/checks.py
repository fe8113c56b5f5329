"""Checks of pretrained backbones in the graph: a Rescaling that rescales the images a second
time, a backbone trained whole from the first epoch, and ``train.fine_tune`` without a frozen backbone."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cnnbuild.spec.codes import Code
from cnnbuild.spec.graph.nodes import Graph, Node

if TYPE_CHECKING:
    from cnnbuild.plugins.registry import Registry
    from cnnbuild.spec.document import Spec


def backbones(spec: Spec, registry: Registry) -> list[Node]:
    """The graph's nodes whose layer type is registered with ``backbone=True``."""
    return [node for node in spec.graph.nodes if (r := registry.layers.get(node.type)) is not None and r.backbone]


def _ancestors(graph: Graph, node: Node) -> list[Node]:
    found: dict[str, Node] = {}
    waiting = list(node.inputs)
    while waiting:
        current = graph.node(waiting.pop())
        if current is not None and current.id not in found:
            found[current.id] = current
            waiting.extend(current.inputs)
    return sorted(found.values(), key=lambda n: graph.nodes.index(n))


def backbone_issues(spec: Spec, registry: Registry, add: Any) -> None:
    """Report each problem through ``add(path, code, message, severity=...)``."""
    found = backbones(spec, registry)
    fine_tune = spec.train.fine_tune
    if fine_tune is not None and not found:
        add(("train", "fine_tune"), Code.FINE_TUNE, "fine_tune unfreezes a pretrained backbone after the first epochs, and model.layers has none; add a Backbone, or remove fine_tune")
    for node in found:
        name = getattr(node.entry, "architecture", node.type)
        for earlier in _ancestors(spec.graph, node):
            if earlier.type == "Rescaling":
                add(
                    earlier.path,
                    Code.DOUBLE_RESCALING,
                    f"this Rescaling changes the pixels before {name} ({node.where}), which applies its own preprocessing to the 0..255 images: "
                    "they would be rescaled twice; remove the Rescaling",
                    severity="warning",
                )
        trainable = bool(getattr(node.entry, "trainable", False))
        pretrained = getattr(node.entry, "weights", "imagenet") != "none"
        if trainable and fine_tune is not None:
            add((*node.path, "trainable"), Code.FINE_TUNE, f"{name} trains from the first epoch, so train.fine_tune has nothing to unfreeze; set trainable: false (frozen, then fine-tuned) or remove fine_tune")
        elif trainable and pretrained:
            add(
                (*node.path, "trainable"),
                Code.BACKBONE_TRAINABLE,
                f"{name} trains whole from the first epoch, its BatchNormalization statistics included, while the new layers after it are still random; "
                "the usual recipe is trainable: false with train.fine_tune",
                severity="warning",
            )
        elif not trainable and not pretrained and fine_tune is None:
            add(
                (*node.path, "weights"),
                Code.BACKBONE_RANDOM_FROZEN,
                f"{name} has random weights (weights: none) and stays frozen (trainable: false, no train.fine_tune), so the layers after it "
                "learn from random features that never improve; use weights: imagenet, or trainable: true to train it from scratch",
                severity="warning",
            )
