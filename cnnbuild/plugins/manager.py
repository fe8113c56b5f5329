"""Load plugins once, lazily, and turn their registrations into a :class:`Registry`."""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from importlib import metadata
from typing import Any

import pluggy

from cnnbuild.errors import PluginError
from cnnbuild.plugins import hookspecs
from cnnbuild.plugins.registry import PluginInfo, Registration, Registry, spec_model

ENTRY_POINT_GROUP = "cnnbuild"
LOAD_PLUGINS_ENV = "CNNBUILD_LOAD_PLUGINS"

BUILTIN_PLUGINS = (
    "cnnbuild.plugins.builtin.core_layers",
    "cnnbuild.plugins.builtin.convolution_layers",
    "cnnbuild.plugins.builtin.preprocessing_layers",
    "cnnbuild.plugins.builtin.image_directory",
    "cnnbuild.plugins.builtin.array_sources",
    "cnnbuild.plugins.builtin.callbacks",
)

_pm: pluggy.PluginManager | None = None
_infos: dict[int, PluginInfo] = {}
_load_failures: list[str] = []
_registry_cache: tuple[frozenset[int], Registry, tuple[object, ...]] | None = None


def _version() -> str:
    try:
        return metadata.version("cnnbuild")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def _allowed_entry_points() -> set[str] | None:
    """Entry point names allowed by ``CNNBUILD_LOAD_PLUGINS``; None means all."""
    value = os.environ.get(LOAD_PLUGINS_ENV)
    if value is None:
        return None
    return {name.strip() for name in value.split(",") if name.strip()}


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager: builtin plugins and allowed entry points, loaded once."""
    global _pm
    if _pm is not None:
        return _pm
    pm = pluggy.PluginManager("cnnbuild")
    pm.add_hookspecs(hookspecs)
    builtin_version = _version()
    for module_name in BUILTIN_PLUGINS:
        module = importlib.import_module(module_name)
        pm.register(module, name=module_name.rsplit(".", 1)[-1])
        _infos[id(module)] = PluginInfo(module_name.rsplit(".", 1)[-1], "cnnbuild", builtin_version, True)
    allowed = _allowed_entry_points()
    for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if allowed is not None and entry_point.name not in allowed:
            continue
        dist = entry_point.dist
        info = PluginInfo(entry_point.name, dist.name if dist else "unknown distribution", dist.version if dist else "?", False)
        try:
            plugin = entry_point.load()
            if pm.is_registered(plugin):
                continue
            pm.register(plugin, name=entry_point.name)
        except (Exception, SystemExit) as exc:  # a broken plugin must not break (or end) every command
            _load_failures.append(f"{info.describe()} failed to load: {type(exc).__name__}: {exc}; set {LOAD_PLUGINS_ENV} to a comma-separated list of the plugins to load (empty for none) to run without it")
            continue
        _infos[id(plugin)] = info
    _pm = pm
    return pm


def plugin_info(plugin: object) -> PluginInfo:
    """Who a registered plugin object is; plugins registered by hand (tests) get their pm name."""
    info = _infos.get(id(plugin))
    if info is not None:
        return info
    name = get_plugin_manager().get_name(plugin) or repr(plugin)
    return PluginInfo(name, "not installed", "-", False)


def _register_function(staged: list[Registration], kind: str, info: PluginInfo) -> Callable[..., None]:
    def register(name: str, params: Any, factory: Callable[..., Any], **options: Any) -> None:
        if not isinstance(name, str) or not name.isidentifier():
            raise PluginError(f"{info.describe()} registered a {kind} with an invalid name {name!r}; use an identifier such as 'MyLayer'")
        if not callable(factory):
            raise PluginError(f"{info.describe()} registered {kind} {name!r} with a factory that is not callable")
        allowed = {"layer": {"shape", "aliases", "augmentation"}, "data source": {"class_names"}, "callback": set()}[kind]
        unknown = set(options) - allowed
        if unknown:
            raise PluginError(f"{info.describe()} registered {kind} {name!r} with unknown options {sorted(unknown)}; allowed: {sorted(allowed)}")
        if kind == "data source":
            from cnnbuild.spec.sections import DataParams

            if not (isinstance(params, type) and issubclass(params, DataParams)):
                raise PluginError(f"{info.describe()} registered data source {name!r} whose parameter model does not subclass cnnbuild.DataParams")
        options["aliases"] = tuple(options.get("aliases", ()))
        staged.append(Registration(kind=kind, name=name, params=spec_model(kind, name, params, info), factory=factory, plugin=info, **options))

    return register


_HOOKS = (("register_layers", "layer"), ("register_data_sources", "data source"), ("register_callbacks", "callback"))


def build_registry(pm: pluggy.PluginManager) -> Registry:
    """Call every registration hook, one plugin at a time, so each failure names its plugin."""
    registry = Registry(failures=list(_load_failures))
    seen: list[PluginInfo] = []
    # builtins first, then by name: which plugin keeps a contested name must not depend on set order
    for plugin in sorted(pm.get_plugins(), key=lambda p: (not plugin_info(p).builtin, plugin_info(p).name)):
        info = plugin_info(plugin)
        seen.append(info)
        staged: list[Registration] = []
        before = registry.snapshot()
        try:
            for hook_name, kind in _HOOKS:
                for impl in getattr(pm.hook, hook_name).get_hookimpls():
                    if impl.plugin is plugin:
                        impl.function(register=_register_function(staged, kind, info))
            for registration in staged:
                registry.add(registration)
        except PluginError as exc:
            registry.restore(before)  # all of a plugin or none of it: no half-registered plugin
            registry.failures.append(str(exc))
        except Exception as exc:
            registry.restore(before)
            registry.failures.append(f"{info.describe()} raised in a registration hook: {type(exc).__name__}: {exc}; set {LOAD_PLUGINS_ENV} to run without it")
    builtin_first = sorted(seen, key=lambda info: (not info.builtin, info.name))
    registry.plugins = builtin_first
    return registry


def get_registry() -> Registry:
    """The registry of the currently registered plugins (rebuilt when the set changes)."""
    global _registry_cache
    pm = get_plugin_manager()
    plugins = tuple(pm.get_plugins())
    key = frozenset(id(plugin) for plugin in plugins)
    if _registry_cache is None or _registry_cache[0] != key:
        # the cache keeps the plugin objects alive, so an id in the key cannot be reused by a new plugin
        _registry_cache = (key, build_registry(pm), plugins)
    return _registry_cache[1]


def keras_objects() -> dict[str, Any]:
    """Every plugin's custom Keras objects, for loading saved models; a failing plugin is named."""
    objects: dict[str, Any] = {}
    pm = get_plugin_manager()
    for impl in pm.hook.keras_objects.get_hookimpls():
        try:
            objects.update(impl.function() or {})
        except Exception as exc:
            raise PluginError(f"{plugin_info(impl.plugin).describe()} failed in keras_objects: {type(exc).__name__}: {exc}") from None
    return objects
