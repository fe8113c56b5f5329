"""A registered type's parameter model: the plugin's model with a ``type`` tag (and, for layers,
``name`` and ``inputs``), unknown keys forbidden; for builtin plugins made when first used."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from cnnbuild.contracts.layers import GRAPH_KEYS, GraphEntryFields
from cnnbuild.errors import PluginError
from cnnbuild.plugins.kinds import Kind

if TYPE_CHECKING:
    from cnnbuild.plugins.registry import PluginInfo


class DeferredParams:
    """A builtin plugin's parameter model made when first used: ``base`` is checked when it registers,
    ``make()`` returns the model itself (a subclass of ``base``, adding no ``type`` or graph key).

    Building every model of every registered type costs more than a whole ``validate``, which uses a few."""

    def __init__(self, base: type[BaseModel], make: Callable[[], type[BaseModel]]) -> None:
        self.base = base
        self.make = make

    def __repr__(self) -> str:
        return f"DeferredParams({self.base.__name__})"


class ModelOnUse:
    """The registered model (:func:`spec_model`), made the first time it is asked for and then kept."""

    def __init__(self, make: Callable[[], type[BaseModel]]) -> None:
        self._make = make
        self._model: type[BaseModel] | None = None
        self._lock = threading.Lock()

    @property
    def made(self) -> bool:
        return self._model is not None

    def get(self) -> type[BaseModel]:
        if self._model is None:
            with self._lock:  # one model per registration, also when threads (a server) ask at once
                if self._model is None:
                    self._model = self._make()
        return self._model


def spec_model(kind: Kind, name: str, params: Any, plugin: PluginInfo) -> type[BaseModel] | ModelOnUse:
    """The parameter model with a ``type`` tag added and unknown keys forbidden; for a builtin plugin,
    what makes it on first use (``params`` checked now all the same; a :class:`DeferredParams` made then)."""
    if isinstance(params, DeferredParams):
        if not plugin.builtin:  # not part of the plugin API: an installed plugin's model is made, and fails, when it registers
            return spec_model(kind, name, params.make(), plugin)
        _check_params(kind, name, params.base, plugin)
        return ModelOnUse(lambda: _tagged_model(kind, name, params.make(), plugin))
    _check_params(kind, name, params, plugin)
    return ModelOnUse(lambda: _tagged_model(kind, name, params, plugin)) if plugin.builtin else _tagged_model(kind, name, params, plugin)


def _check_params(kind: Kind, name: str, params: Any, plugin: PluginInfo) -> None:
    if not (isinstance(params, type) and issubclass(params, BaseModel)):
        raise PluginError(f"{plugin.describe()} registered {kind.name} {name!r} with params={params!r}; expected a pydantic model class (subclass cnnbuild.{kind.params_base.__name__})")
    if not issubclass(params, kind.params_base):
        raise PluginError(f"{plugin.describe()} registered {kind.name} {name!r} whose parameter model does not subclass cnnbuild.{kind.params_base.__name__}")
    graph = any(use.graph for use in kind.uses)
    for added in ("type", *(GRAPH_KEYS if graph else ())):
        if added in params.model_fields:
            raise PluginError(f"{plugin.describe()} registered {kind.name} {name!r} whose parameter model has a field {added!r}; cnnbuild adds that field itself")


def _tagged_model(kind: Kind, name: str, params: type[BaseModel], plugin: PluginInfo) -> type[BaseModel]:
    graph = any(use.graph for use in kind.uses)
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
                f"{plugin.describe()} raised {type(exc).__name__}: {exc} while checking the parameters of {kind.name} {name!r}; "
                "fix or update the plugin, or set CNNBUILD_LOAD_PLUGINS to run without it"
            ) from exc

    namespace = {
        "__module__": params.__module__,
        "__annotations__": {"type": Literal[name]},  # type: ignore[valid-type]
        "type": Field(description=f"{kind.name} type"),
        "model_config": config,
        "_cnnbuild_guard": model_validator(mode="wrap")(guard),
    }
    try:
        return type(f"{name}_{kind.name.replace(' ', '_')}", (params, GraphEntryFields) if graph else (params,), namespace)
    except Exception as exc:  # pydantic raises many kinds for a broken model
        raise PluginError(f"{plugin.describe()} registered {kind.name} {name!r} with an invalid parameter model: {exc}") from exc
