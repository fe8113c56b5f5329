"""What plugins register: layer, data source and callback types, each with its owner."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from cnnbuild.errors import CnnbuildError, PluginError
from cnnbuild.plugins.contracts import LayerShape, Shape, ShapeError

__all__ = ["LayerShape", "PluginInfo", "Registration", "Registry", "Shape", "ShapeError", "spec_model"]


@dataclass(frozen=True)
class PluginInfo:
    """A plugin as ``cnnbuild plugins`` lists it."""

    name: str
    distribution: str
    version: str
    builtin: bool

    def describe(self) -> str:
        return f"plugin {self.name!r} ({self.distribution} {self.version})"


@dataclass(frozen=True)
class Registration:
    """One registered type: its name, validated parameter model and factory."""

    kind: str
    name: str
    params: type[BaseModel]
    factory: Callable[..., Any]
    plugin: PluginInfo
    shape: Callable[[Any, Shape], LayerShape] | None = None
    aliases: tuple[str, ...] = ()
    augmentation: bool = False
    class_names: Callable[..., list[str] | None] | None = None

    def make(self, expected: type, expected_name: str, *args: Any) -> Any:
        """``factory(*args)``; an exception or a result that is not ``expected`` becomes a
        :class:`PluginError` naming the plugin (a :class:`CnnbuildError` passes through)."""
        try:
            made = self.factory(*args)
        except CnnbuildError:
            raise
        except Exception as exc:
            raise PluginError(f"{self.plugin.describe()}: building {self.kind} {self.name!r} failed: {type(exc).__name__}: {exc}") from None
        if not isinstance(made, expected):
            raise PluginError(f"{self.plugin.describe()}: the factory of {self.kind} {self.name!r} returned {type(made).__name__}, not {expected_name}")
        return made


def spec_model(kind: str, name: str, params: Any, plugin: PluginInfo) -> type[BaseModel]:
    """The parameter model with a ``type`` tag added and unknown keys forbidden."""
    if not (isinstance(params, type) and issubclass(params, BaseModel)):
        raise PluginError(f"{plugin.describe()} registered {kind} {name!r} with params={params!r}; expected a pydantic model class (subclass cnnbuild.Params)")
    if "type" in params.model_fields:
        raise PluginError(f"{plugin.describe()} registered {kind} {name!r} whose parameter model has a field 'type'; cnnbuild adds that field itself")
    config = ConfigDict(**{**params.model_config, "extra": "forbid", "title": name})

    def guard(cls: type, data: Any, handler: Any) -> Any:
        # pydantic turns ValueError into an error at the entry's line; anything else a plugin's
        # validator raises would escape as a traceback, so it becomes such an error too.
        try:
            return handler(data)
        except (ValidationError, PydanticCustomError, ValueError, AssertionError):
            raise
        except Exception as exc:
            raise ValueError(
                f"{plugin.describe()} raised {type(exc).__name__}: {exc} while checking the parameters of {kind} {name!r}; "
                "fix or update the plugin, or set CNNBUILD_LOAD_PLUGINS to run without it"
            ) from None

    namespace = {
        "__module__": params.__module__,
        "__annotations__": {"type": Literal[name]},  # type: ignore[valid-type]
        "type": Field(description=f"{kind} type"),
        "model_config": config,
        "_cnnbuild_guard": model_validator(mode="wrap")(guard),
    }
    try:
        return type(f"{name}_{kind.replace(' ', '_')}", (params,), namespace)
    except Exception as exc:  # pydantic raises many kinds for a broken model
        raise PluginError(f"{plugin.describe()} registered {kind} {name!r} with an invalid parameter model: {exc}") from None


@dataclass
class Registry:
    """Every registered type by kind and name, and the plugins that registered them."""

    plugins: list[PluginInfo] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    layers: dict[str, Registration] = field(default_factory=dict)
    data_sources: dict[str, Registration] = field(default_factory=dict)
    callbacks: dict[str, Registration] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)

    def table(self, kind: str) -> dict[str, Registration]:
        return {"layer": self.layers, "data source": self.data_sources, "callback": self.callbacks}[kind]

    def add(self, registration: Registration) -> None:
        table = self.table(registration.kind)
        for name in (registration.name, *registration.aliases):
            owner = table.get(name) or table.get(self.aliases.get(name, ""))
            if owner is not None:
                raise PluginError(
                    f"{registration.kind} {name!r} is registered twice: by {owner.plugin.describe()} "
                    f"and by {registration.plugin.describe()}; uninstall one of them or restrict "
                    "plugins with CNNBUILD_LOAD_PLUGINS"
                )
        table[registration.name] = registration
        for alias in registration.aliases:
            self.aliases[alias] = registration.name

    def snapshot(self) -> tuple[dict[str, Any], ...]:
        """The registered types, to :meth:`restore` when a plugin fails halfway through registering."""
        return (dict(self.layers), dict(self.data_sources), dict(self.callbacks), dict(self.aliases))

    def restore(self, snapshot: tuple[dict[str, Any], ...]) -> None:
        self.layers, self.data_sources, self.callbacks, self.aliases = (dict(table) for table in snapshot)

    def canonical_layer(self, name: str) -> str:
        return self.aliases.get(name, name)

    def registered_by(self, plugin: PluginInfo) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for kind in ("layer", "data source", "callback"):
            names = [r.name for r in self.table(kind).values() if r.plugin == plugin]
            if names:
                found[kind] = names
        return found
