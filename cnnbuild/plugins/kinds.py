"""The kinds of things plugins register, in one table.

Each :class:`Kind` says which hook registers it, which options ``register`` accepts, which base
class its parameter models need, what a factory must return, and where in a spec its entries
appear (:class:`Use`). The registry, the plugin manager, the spec model, the shorthand
normaliser, the error translator and the JSON Schema all read this table, so a new kind is one
row here and one hookspec in :mod:`cnnbuild.plugins.hookspecs`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cnnbuild.contracts.data import DataParams
from cnnbuild.contracts.values import Params


@dataclass(frozen=True)
class Use:
    """Where a kind's entries appear in a spec.

    ``path`` is the key path of the entry (``many=False``) or of the list of entries; ``noun``
    names an entry there in messages ("unknown augmentation layer type ..."); ``accepts``
    selects which registrations may appear (default: all of the kind).
    """

    path: tuple[str, ...]
    noun: str
    many: bool = True
    description: str = ""
    required: bool = False
    accepts: Callable[[Any], bool] | None = None
    #: why a registration of the kind that ``accepts`` refuses cannot appear here (for the error message)
    refusal: Callable[[Any], str] | None = None
    #: the list describes a graph: entries may carry ``name`` and ``inputs``, and containers
    #: (``Residual``, ``Parallel``) and uses of the spec's ``blocks`` may appear (``cnnbuild.spec.graph``)
    graph: bool = False


@dataclass(frozen=True)
class Kind:
    """One kind of registered type."""

    name: str  # "layer": in messages, and the key of the registry's tables
    hook: str  # the hookspec whose ``register`` callback registers it
    #: keyword options ``register`` accepts besides name, params and factory; every kind takes
    #: ``requires``: packages the type needs ("module" or "module:pip requirement"), checked by ``validate``
    options: tuple[str, ...]
    params_base: type  # parameter models must subclass this
    produces: str  # what the factory returns, for messages ("a keras.layers.Layer")
    uses: tuple[Use, ...]

    @property
    def plural(self) -> str:
        return f"{self.name}s"


LAYER = Kind(
    "layer",
    hook="register_layers",
    options=("shape", "aliases", "augmentation", "mixes_labels", "not_augmentation", "inputs", "backbone", "requires", "context"),
    params_base=Params,
    produces="a keras.layers.Layer",
    uses=(
        Use(
            ("model", "layers"),
            "layer",
            required=True,
            graph=True,
            description="the layers, input first: a chain, or a graph where entries name their inputs",
        ),
        Use(
            ("augmentation",),
            "augmentation layer",
            description="random transforms applied only while training",
            accepts=lambda registration: registration.augmentation,
            refusal=lambda registration: registration.options.get("not_augmentation") or "it is a layer for model.layers, not an augmentation layer",
        ),
    ),
)
DATA_SOURCE = Kind(
    "data source",
    hook="register_data_sources",
    options=("class_names", "requires", "tasks"),
    params_base=DataParams,
    produces="a cnnbuild.Datasets",
    uses=(Use(("data",), "data source", many=False, required=True, description="where the images come from"),),
)
CALLBACK = Kind(
    "callback",
    hook="register_callbacks",
    options=("requires",),
    params_base=Params,
    produces="a keras.callbacks.Callback",
    uses=(Use(("train", "callbacks"), "callback", description="Keras callbacks, run in this order"),),
)

KINDS: tuple[Kind, ...] = (LAYER, DATA_SOURCE, CALLBACK)
BY_HOOK = {kind.hook: kind for kind in KINDS}


def uses() -> list[tuple[Kind, Use]]:
    """Every place in a spec that holds registered entries, with its kind."""
    return [(kind, use) for kind in KINDS for use in kind.uses]


def use_at(path: tuple[Any, ...]) -> tuple[Kind, Use] | None:
    """The kind and use whose entries ``path`` (a key path into the spec) is inside, if any."""
    for kind, use in uses():
        if tuple(path[: len(use.path)]) == use.path:
            return kind, use
    return None
