"""When a converter fails on the whole model, find the part it fails on alone and name it:
the preprocessing (an interpolation the format lacks) or a layer, with the plugin it comes from."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cnnbuild.export.metadata import ExportMetadata
    from cnnbuild.spec.document import Spec

log = logging.getLogger(__name__)


def layer_names(spec: Spec, model: Any) -> list[str]:
    """How the spec names each of the model's layers: ``model.layers[2] (SqueezeExcitation2D, from plugin ...)``."""
    registry = spec.registry
    entries = [("augmentation", entry) for entry in spec.augmentation] if len(model.layers) > len(spec.model.layers) else []
    entries += [("model.layers", entry) for entry in spec.model.layers]
    names, counters = [], {"augmentation": 0, "model.layers": 0}
    for where, entry in entries[: len(model.layers)]:  # the model's layers past the spec's entries are named below
        registration = registry.layers.get(entry.type)
        origin = "" if registration is None or registration.plugin.builtin else f", from {registration.plugin.describe()}"
        names.append(f"{where}[{counters[where]}] ({entry.type}{origin})")
        counters[where] += 1
    return names + [f"layer {layer.name!r} ({type(layer).__name__})" for layer in model.layers[len(names) :]]


def failing_part(spec: Spec, model: Any, info: ExportMetadata, attempt: Callable[[Any], Any]) -> str | None:
    """The first part ``attempt(module)`` fails on when given it alone, or None when every part converts."""
    from cnnbuild.export.graph import layer_module, preprocessing_module

    try:
        attempt(preprocessing_module(info))
    except Exception as exc:
        log.debug("the preprocessing alone fails: %s", exc)
        return f"the preprocessing (resize with interpolation {info.input.interpolation!r}{', centre crop' if info.input.crop_to_aspect_ratio else ''})"
    shape = tuple(model.input_shape[1:])
    for name, layer in zip(layer_names(spec, model), model.layers, strict=True):
        try:
            attempt(layer_module(layer, shape))
        except Exception as exc:
            log.debug("%s alone fails: %s", name, exc)
            return name
        shape = tuple(layer.compute_output_shape((None, *shape))[1:])
    return None
