"""What plugins registered: each type with its kind, parameter model, factory and owner."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from cnnbuild.contracts.layers import LayerContext, LayerShape, Shape
from cnnbuild.errors import CnnbuildError, PluginError
from cnnbuild.plugins.compatibility import api_hint
from cnnbuild.plugins.kinds import CALLBACK, DATA_SOURCE, KINDS, LAYER, Kind
from cnnbuild.plugins.parameter_models import ModelOnUse


@dataclass(frozen=True)
class PluginInfo:
    """A plugin as ``cnnbuild plugins`` lists it."""

    name: str
    distribution: str
    version: str
    builtin: bool
    #: the plugin API versions it declares it works with (``CNNBUILD_PLUGIN_API``), as written; None: none declared
    api: str | None = None

    def describe(self) -> str:
        return f"plugin {self.name!r} ({self.distribution} {self.version})"


@dataclass(frozen=True)
class Registration:
    """One registered type: its name, validated parameter model, factory and options."""

    kind: Kind
    name: str
    #: the model (:func:`spec_model`), or, for builtin plugins, what makes it when :attr:`params` is first read
    model: type[BaseModel] | ModelOnUse
    factory: Callable[..., Any]
    plugin: PluginInfo
    options: Mapping[str, Any] = field(default_factory=dict)
    #: the registry it was added to: a ``context=True`` layer builds its nested entries with that registry's types
    registry: Registry | None = field(default=None, compare=False, repr=False)

    @property
    def params(self) -> type[BaseModel]:
        """The parameter model with its ``type`` tag (and graph keys for layers), unknown keys forbidden."""
        return self.model.get() if isinstance(self.model, ModelOnUse) else self.model

    @property
    def shape(self) -> Callable[[Any, Shape], LayerShape] | None:
        """The shape function, called as ``shape(params, input_shape)`` (its ``context`` given, where registered with ``context=True``)."""
        shape = self.options.get("shape")
        return functools.partial(shape, context=self.layer_context()) if shape is not None and self.takes_context else shape

    @property
    def takes_context(self) -> bool:
        """Whether the factory and shape function take a :class:`~cnnbuild.LayerContext` (the ``context`` option)."""
        return bool(self.options.get("context", False))

    def layer_context(self) -> LayerContext:
        """What the factory and shape function of a ``context=True`` layer are given: its registry's types."""
        if self.registry is None:
            raise PluginError(f"{self.plugin.describe()}: {self.kind.name} {self.name!r} needs its registry, and it is in none")
        return self.registry.layer_context()

    @property
    def aliases(self) -> tuple[str, ...]:
        return tuple(self.options.get("aliases", ()))

    @property
    def augmentation(self) -> bool:
        """Whether the layer may appear in the ``augmentation`` list (label-mixing layers may)."""
        return bool(self.options.get("augmentation", False)) or self.mixes_labels

    @property
    def mixes_labels(self) -> bool:
        """Whether the layer mixes images and their labels across a batch (MixUp, CutMix): it is
        called as ``layer({"images": x, "labels": y}, training=True)`` and returns the same keys."""
        return bool(self.options.get("mixes_labels", False))

    @property
    def input_range(self) -> tuple[int, int | None]:
        """How many inputs the layer takes, ``(at_least, at_most)``; at_most None: any number (the ``inputs`` option)."""
        return self.options.get("inputs", (1, 1))

    @property
    def merges(self) -> bool:
        """Whether the layer takes several inputs: its shape function gets a list of shapes and the layer a list of tensors."""
        return self.input_range != (1, 1)

    @property
    def backbone(self) -> bool:
        """Whether the layer is a pretrained network taking 0..255 images (the ``backbone`` option):
        its factory gets the input shape, and ``train.fine_tune`` unfreezes it."""
        return bool(self.options.get("backbone", False))

    @property
    def tasks(self) -> tuple[str, ...]:
        """The tasks a data source supplies (the ``tasks`` option; default: single-label only)."""
        from cnnbuild.contracts.tasks import DEFAULT_TASK

        return tuple(self.options.get("tasks", (DEFAULT_TASK,)))

    @property
    def class_names(self) -> Callable[..., list[str] | None] | None:
        return self.options.get("class_names")

    def make(self, expected: type, *args: Any) -> Any:
        """``factory(*args)``; an exception or a result that is not ``expected`` becomes a
        :class:`PluginError` naming the plugin (a :class:`CnnbuildError` passes through)."""
        try:
            made = self.factory(*args, **({"context": self.layer_context()} if self.takes_context else {}))
        except CnnbuildError:
            raise
        except Exception as exc:
            # a name the plugin expects and this cnnbuild lacks (or has changed): say which plugin API each side has
            hint = api_hint(self.plugin.api) if isinstance(exc, (AttributeError, ImportError, NameError, TypeError)) and not self.plugin.builtin else ""
            raise PluginError(f"{self.plugin.describe()}: building {self.kind.name} {self.name!r} failed: {type(exc).__name__}: {exc}{hint}") from exc
        if not isinstance(made, expected):
            raise PluginError(f"{self.plugin.describe()}: the factory of {self.kind.name} {self.name!r} returned {type(made).__name__}, not {self.kind.produces}")
        return made


def input_range(value: Any, where: str) -> tuple[int, int | None]:
    """The ``inputs`` registration option as ``(at_least, at_most)``: a count, or a pair whose
    second item may be None (any number); PluginError otherwise."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return (value, value)
    if isinstance(value, (tuple, list)) and len(value) == 2:
        low, high = value
        if isinstance(low, int) and not isinstance(low, bool) and low >= 1 and (high is None or (isinstance(high, int) and not isinstance(high, bool) and high >= low)):
            return (low, high)
    raise PluginError(f"{where}: inputs={value!r}; give a count (2) or a range (2, None) meaning at least 2")


def supplied_tasks(value: Any, where: str) -> tuple[str, ...]:
    """The ``tasks`` registration option of a data source as a tuple of task names; PluginError otherwise."""
    from cnnbuild.contracts.tasks import TASKS

    names = (value,) if isinstance(value, str) else tuple(value) if isinstance(value, (list, tuple)) else None
    if not names or not all(isinstance(item, str) and item in TASKS for item in names):
        raise PluginError(f"{where} tasks={value!r}; give task names from {sorted(TASKS)}, such as ('single_label', 'multi_label')")
    return names


@dataclass
class Registry:
    """Every registered type by kind and name, and the plugins that registered them."""

    plugins: list[PluginInfo] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    #: names of the plugins that failed (to load, in a hook, or registering): none of their types or commands are used
    failed_plugins: set[str] = field(default_factory=set)
    tables: dict[str, dict[str, Registration]] = field(default_factory=lambda: {kind.name: {} for kind in KINDS})
    alias_tables: dict[str, dict[str, str]] = field(default_factory=lambda: {kind.name: {} for kind in KINDS})
    #: what commands each plugin added (``register_commands``), by plugin name
    commands: dict[str, list[str]] = field(default_factory=dict)
    #: things computed from the registrations (the spec model), kept while they stay the same
    derived: dict[str, Any] = field(default_factory=dict)

    def table(self, kind: Kind | str) -> dict[str, Registration]:
        """Name -> registration, for one kind (a :class:`Kind` or its name, such as ``"layer"``)."""
        return self.tables[kind if isinstance(kind, str) else kind.name]

    def aliases(self, kind: Kind | str) -> dict[str, str]:
        """Alias -> registered name, for one kind."""
        return self.alias_tables[kind if isinstance(kind, str) else kind.name]

    @property
    def layers(self) -> dict[str, Registration]:
        return self.tables[LAYER.name]

    @property
    def data_sources(self) -> dict[str, Registration]:
        return self.tables[DATA_SOURCE.name]

    @property
    def callbacks(self) -> dict[str, Registration]:
        return self.tables[CALLBACK.name]

    def add(self, registration: Registration) -> None:
        table = self.table(registration.kind)
        aliases = self.aliases(registration.kind)
        for name in (registration.name, *registration.aliases):
            owner = table.get(name) or table.get(aliases.get(name, ""))
            if owner is not None:
                raise PluginError(
                    f"{registration.kind.name} {name!r} is registered twice: by {owner.plugin.describe()} "
                    f"and by {registration.plugin.describe()}; uninstall one of them or restrict "
                    "plugins with CNNBUILD_LOAD_PLUGINS"
                )
        table[registration.name] = dataclasses.replace(registration, registry=self)
        for alias in registration.aliases:
            aliases[alias] = registration.name
        self.derived.clear()

    def __deepcopy__(self, memo: dict[int, Any]) -> Registry:
        return self  # one per set of plugins: a copied spec keeps the registry it was validated with

    def layer_context(self) -> LayerContext:
        """Nested entries (a ``Pipeline``'s ``layers``) built and checked with this registry's types."""
        return LayerContext(make_layer=self._make_nested, layer_shape=self._nested_shape)

    def _make_nested(self, entry: Any) -> Any:
        import keras  # called while a model is built, when Keras is loaded

        return self.layers[entry.type].make(keras.layers.Layer, entry)

    def _nested_shape(self, entry: Any, shape: Shape) -> LayerShape | None:
        registration = self.layers.get(entry.type)
        if registration is None or registration.shape is None:
            return None
        return LayerShape(*registration.shape(entry, shape))

    def snapshot(self) -> tuple[dict[str, dict[str, Any]], ...]:
        """The registered types, to :meth:`restore` when a plugin fails halfway through registering."""
        return ({k: dict(v) for k, v in self.tables.items()}, {k: dict(v) for k, v in self.alias_tables.items()})

    def restore(self, snapshot: tuple[dict[str, dict[str, Any]], ...]) -> None:
        self.tables, self.alias_tables = ({k: dict(v) for k, v in table.items()} for table in snapshot)
        self.derived.clear()

    def registered_by(self, plugin: PluginInfo) -> dict[str, list[str]]:
        """What ``plugin`` registered, by kind name (and ``command`` for its commands)."""
        found: dict[str, list[str]] = {}
        for kind in KINDS:
            names = [r.name for r in self.table(kind).values() if r.plugin == plugin]
            if names:
                found[kind.name] = names
        if self.commands.get(plugin.name):
            found["command"] = list(self.commands[plugin.name])
        return found
