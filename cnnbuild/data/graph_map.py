"""``Dataset.map`` without AutoGraph, for functions written for graph mode.

tf.data converts every map function with AutoGraph unless told not to, and the conversion
follows every call it can reach: the flowers pipeline's augmentation (three Keras layers) cost
1.6 s of CPU to trace that way against 0.3 s without it, on the 2-core benchmark machine, and
each converted function leaves a generated file in the temporary folder. cnnbuild's own map
functions use ``tf.cond`` where they branch on a tensor, and Keras layers are written to run
without AutoGraph (Keras's own training functions turn it off), so they are traced as written.
A plugin's augmentation layer that branches on a tensor with a Python ``if`` still works: such
a function is traced again with AutoGraph.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cnnbuild.data.native import import_tensorflow


def graph_map(dataset: Any, function: Callable[..., Any], **options: Any) -> Any:
    """``dataset.map(function, **options)``, traced without AutoGraph where the function allows."""
    tf = import_tensorflow()
    try:
        return dataset.map(tf.autograph.experimental.do_not_convert(function), **options)
    except tf.errors.OperatorNotAllowedInGraphError:  # a Python `if` or loop over a tensor: AutoGraph rewrites it
        return dataset.map(function, **options)
