"""``Dataset.map`` without AutoGraph, for functions written for graph mode.

tf.data converts every map function with AutoGraph unless told not to, and the conversion
follows every call it can reach: tracing the flowers pipeline's augmentation map cost 1.6 s of
CPU that way against 0.3 s without it, on the 2-core benchmark machine, and each converted
function left a generated file in the temporary folder. Every map function cnnbuild makes is
its own and branches with ``tf.cond`` where it branches on a tensor; Keras layers are never
converted anyway (Keras is on AutoGraph's list of modules it leaves alone), so a plugin's layer
runs as it did. Should a function still need AutoGraph (a Python ``if`` or ``range`` on
a tensor), it is traced again with it rather than failing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from cnnbuild.data.native import import_tensorflow

log = logging.getLogger(__name__)


def graph_map(dataset: Any, function: Callable[..., Any], **options: Any) -> Any:
    """``dataset.map(function, **options)``, traced without AutoGraph where the function allows."""
    tf = import_tensorflow()
    try:
        return dataset.map(tf.autograph.experimental.do_not_convert(function), **options)
    except TypeError as exc:  # OperatorNotAllowedInGraphError (a Python `if` on a tensor), range() of one, ...
        log.debug("tracing %s again with AutoGraph: %s", getattr(function, "__qualname__", function), exc)
        return dataset.map(function, **options)
