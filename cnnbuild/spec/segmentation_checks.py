"""What ``task: segmentation`` requires of a spec, checked before TensorFlow loads: an output with
the input's height and width (naming the layer where the resolution is lost), a per-pixel softmax
(or one sigmoid for two classes), a loss and metrics that fit masks, augmentation that can move the
masks with the images."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from cnnbuild.spec.codes import Code
from cnnbuild.spec.labels import applied_activation, binary_labels, output_layer

if TYPE_CHECKING:
    from cnnbuild.plugins.registry import Registry
    from cnnbuild.spec.document import Spec
    from cnnbuild.spec.shapes import LayerRow

Add = Callable[..., None]

#: ``compile.metrics`` a segmentation spec might try, and the one it means
_INSTEAD = {"accuracy": "pixel_accuracy", "f1_micro": "dice", "f1_macro": "dice"}


def _spatial(shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
    return tuple(shape[:-1])


def _shown(shape: tuple[int | None, ...]) -> str:
    spatial = _spatial(shape)
    return "x".join(str(d) for d in spatial) if len(spatial) == 2 else f"{len(shape)}-d shape {shape} (no height and width)"


def resolution_issue(spec: Spec, rows: list[LayerRow], add: Add) -> None:
    """The model's output must keep the input's height and width (a mask pixel per image pixel);
    else name the layer on the output's path that made the output's size, and what it is."""
    if not rows:
        return
    by_name = {row.name: row for row in rows if row.name}
    graph = spec.graph
    last = by_name.get(graph.output) if graph.output in by_name else rows[-1]
    if last is None or last.output_shape is None:
        return
    wanted = spec.data.image_size
    final = _spatial(last.output_shape)
    if final == tuple(wanted):
        return
    culprit = last
    while culprit.input_shape is not None and _spatial(culprit.input_shape) == final:
        previous = by_name.get(culprit.inputs[0]) if culprit.inputs else (rows[culprit.index - 1] if culprit.index > 0 and not by_name else None)
        if previous is None or previous.output_shape is None:
            break
        culprit = previous
    before = _shown(culprit.input_shape) if culprit.input_shape is not None else "?"
    where = ".".join(str(part) for part in culprit.location)
    fix = (
        "keep height and width to the output: after a layer that downsamples, upsample as many times (UpSampling2D or Conv2DTranspose with strides 2), "
        "and end with a per-pixel layer (Conv2D with padding: same, or Dense) instead of Flatten or global pooling"
    )
    add(
        last.location,
        Code.SEGMENTATION_RESOLUTION,
        f"segmentation needs a mask of {wanted[0]}x{wanted[1]} (the input's height and width) but the model outputs {_shown(last.output_shape)}: "
        f"{culprit.type} at {where} turns {before} into {_shown(culprit.output_shape or ())}, and no later layer restores it; {fix}",
    )


def _rows(spec: Spec, registry: Registry, num_classes: int | None) -> list[LayerRow]:
    from cnnbuild.spec.graph.infer import infer_graph
    from cnnbuild.spec.shapes import ShapeFunctionFailed, ShapeProblem

    try:
        return infer_graph(spec.graph, spec.data.input_shape, registry, num_classes=num_classes, binary=binary_labels(spec, num_classes))
    except (ShapeProblem, ShapeFunctionFailed):
        return []  # the shape checks report it at its layer


def segmentation_issues(spec: Spec, registry: Registry, num_classes: int | None, add: Add) -> None:
    """Every issue of a ``task: segmentation`` spec (the data source's support is checked by the caller)."""
    task = spec.task_row
    graph = spec.graph
    output = graph.node(graph.output)
    last_path = output.path if output is not None else ("model", "layers")
    for node in graph.nodes:
        if node is not output and getattr(node.entry, "units", None) == "auto":
            add((*node.path, "units"), Code.TASK_MISMATCH, "'auto' is only allowed on the layer whose output the model returns (it means the number of classes)")
    resolution_issue(spec, _rows(spec, registry, num_classes), add)
    last = output_layer(spec)
    activation = applied_activation(last)
    units = getattr(last, "units", None)
    binary = binary_labels(spec, num_classes)
    if activation == "sigmoid" and not binary and (num_classes is None or num_classes != 2 or units not in ("auto", 1)):
        add(
            (*last_path, "activation"),
            Code.TASK_MISMATCH,
            f"a per-pixel sigmoid fits two classes with one output unit (the data has {num_classes if num_classes is not None else 'an unknown number of'} classes, units: {units}); "
            "use activation: softmax with units: auto",
        )
    elif activation not in task.activations:
        add((*last_path, "activation"), Code.TASK_MISMATCH, f"{activation} does not give a class per pixel; use activation: softmax (one probability per class and pixel)")
    if num_classes is not None and isinstance(units, int) and units != (1 if binary else num_classes) and activation != "sigmoid":
        add((*last_path, "units"), Code.TASK_MISMATCH, f"the data has {num_classes} classes but the output layer has {units} units per pixel; use units: auto")
    loss = spec.compile.loss
    if loss.type != "auto" and loss.type not in task.losses:
        add(("compile", "loss", "type"), Code.TASK_MISMATCH, f"{loss.type} does not fit masks of class indices; use auto ({task.default_loss}) or dice_crossentropy (Dice plus cross-entropy)")
    if loss.label_smoothing:
        add(("compile", "loss", "label_smoothing"), Code.TASK_MISMATCH, "label smoothing is not applied to masks; remove it")
    if activation in ("softmax", "sigmoid") and loss.from_logits:
        add(("compile", "loss", "from_logits"), Code.TASK_MISMATCH, f"the output layer applies {activation}, so its outputs are probabilities, not logits; set from_logits: false or remove the activation")
    for index, metric in enumerate(spec.compile.metrics):
        if metric not in task.metrics:
            instead = f"use {_INSTEAD[metric]} (" if metric in _INSTEAD else "use "
            add(
                ("compile", "metrics", index),
                Code.TASK_MISMATCH,
                f"{metric} does not make sense for masks; {instead}{', '.join(task.metrics)}{')' if metric in _INSTEAD else ''} (or leave metrics out: all of them)",
            )
    if spec.data.label_mode is not None:
        add(("data", "label_mode"), Code.TASK_MISMATCH, f"label_mode is for single-label classes; segmentation labels are {task.targets}: remove it")
    weights = spec.train.class_weight
    if isinstance(weights, dict) and num_classes is not None:
        for key in weights:
            if not 0 <= key < num_classes:
                add(("train", "class_weight", key), Code.TASK_MISMATCH, f"{key} is not a class index of the masks (0 to {num_classes - 1})", key=True)
    augmentation_issues(spec, registry, add)


def augmentation_issues(spec: Spec, registry: Registry, add: Add) -> None:
    """Augmentation must move each mask exactly as its image: in the pipeline, without label-mixing layers."""
    if spec.augmentation and spec.augmentation_placement == "model":
        add(("augmentation_placement",), Code.TASK_MISMATCH, "augmentation inside the model would move the images but not their masks; use augmentation_placement: pipeline")
    for index, entry in enumerate(spec.augmentation):
        registration = registry.layers.get(entry.type)
        if registration is not None and registration.mixes_labels:
            add(("augmentation", index), Code.TASK_MISMATCH, f"{entry.type} mixes labels of whole images and has no meaning for masks; remove it (flips, rotations, zooms, translations and colour changes apply to masks)")


def dice_loss_issue(spec: Spec, add: Add) -> None:
    """``dice_crossentropy`` is a segmentation loss."""
    if spec.compile.loss.type == "dice_crossentropy" and spec.task_row.name != "segmentation":
        add(("compile", "loss", "type"), Code.TASK_MISMATCH, "dice_crossentropy is a loss for masks (task: segmentation); use auto or a cross-entropy")

