"""Checks of the ``augmentation`` list that need the whole spec: where label-mixing layers may
go, and what they require of the labels, the loss and the monitored metrics."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cnnbuild.contracts.layers import GRAPH_KEYS
from cnnbuild.contracts.values import nested_augmentation_fields
from cnnbuild.spec.codes import Code

if TYPE_CHECKING:
    from cnnbuild.plugins.registry import Registry
    from cnnbuild.spec.document import Spec

#: What a run with label mixing reports instead of training metrics (see the trainer's callbacks).
MIXED_TRAINING_METRICS = "with label mixing, training metrics other than loss are left out (against mixed labels they mean nothing)"


def _nested_issues(spec: Spec, registry: Registry, add: Any) -> None:
    """Entries inside a Pipeline's ``layers``: no label mixing (a Pipeline passes images only), no Pipeline."""
    for index, entry in enumerate(spec.augmentation):
        registration = registry.layers.get(entry.type)
        for name in nested_augmentation_fields(registration.params) if registration is not None else ():
            for inner_index, inner in enumerate(getattr(entry, name)):
                inner_type = getattr(inner, "type", None)
                inner_registration = registry.layers.get(inner_type) if inner_type else None
                where = ("augmentation", index, name, inner_index)
                if inner_registration is not None and inner_registration.mixes_labels:
                    add(where, Code.NOT_ALLOWED_HERE, f"{inner_type} mixes labels, and a {entry.type} passes its layers the images only; list {inner_type} directly under augmentation")
                elif inner_registration is not None and nested_augmentation_fields(inner_registration.params):
                    add(where, Code.NOT_ALLOWED_HERE, f"a {inner_type} inside a {entry.type} adds nothing; list its layers here instead")


def augmentation_issues(spec: Spec, registry: Registry, add: Any) -> None:
    """Report each problem through ``add(path, code, message)``."""
    for index, entry in enumerate(spec.augmentation):
        for key in GRAPH_KEYS:
            if getattr(entry, key, None) is not None:
                add(("augmentation", index, key), Code.NOT_ALLOWED_HERE, f"{key} names entries of model.layers (a graph); augmentation is a list applied in order")
    _nested_issues(spec, registry, add)
    for path, layer in spec.graph.entries():
        if (r := registry.layers.get(layer.type)) is not None and r.mixes_labels:
            add(path, Code.NOT_ALLOWED_HERE, f"{layer.type} mixes the labels as well as the images, and a layer of the model never sees the labels; list it under augmentation")
    mixing = [(index, entry.type) for index, entry in enumerate(spec.augmentation) if (r := registry.layers.get(entry.type)) is not None and r.mixes_labels]
    if not mixing:
        return
    kinds = sorted({name for _, name in mixing})
    names = f"{' and '.join(kinds)} {'mix' if len(kinds) > 1 else 'mixes'}"
    if spec.augmentation_placement == "model":
        for index, name in mixing:
            add(
                ("augmentation", index),
                Code.LABEL_MIXING,
                f"{name} mixes the labels as well as the images, which only the tf.data pipeline can do (a layer inside the model never sees the labels); "
                "use augmentation_placement: pipeline",
            )
    if spec.data.label_mode == "int":
        add(("data", "label_mode"), Code.LABEL_MIXING, f"{names} labels, so training labels are soft (weights of two classes) and cannot be class indices; use label_mode: categorical, or leave it unset")
    if spec.compile.loss.type == "sparse_categorical_crossentropy":
        add(("compile", "loss", "type"), Code.LABEL_MIXING, f"{names} labels, and sparse_categorical_crossentropy takes class indices only; use loss: auto (categorical_crossentropy)")
    for index, callback in enumerate(spec.train.callbacks):
        monitor = getattr(callback, "monitor", None)
        if isinstance(monitor, str) and monitor != "loss" and not monitor.startswith("val_") and monitor in spec.compile.metrics:
            add(("train", "callbacks", index, "monitor"), Code.LABEL_MIXING, f"{MIXED_TRAINING_METRICS}; monitor val_{monitor} or loss")

