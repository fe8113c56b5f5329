"""Load plugins once, lazily, and turn their registrations into a :class:`Registry`.

Hooks are called through pluggy (``pm.hook.<name>`` or, to attribute each result and each
failure to one plugin, ``pm.subset_hook_caller``), so pluggy's tracing and monitoring see
every call. ``CNNBUILD_TRACE_PLUGINS=1`` prints each hook call with its plugins and timing.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import logging
import os
import sys
import time
from collections.abc import Callable
from importlib import metadata
from typing import Any

import pluggy

from cnnbuild.errors import PluginError
from cnnbuild.plugins import hookspecs
from cnnbuild.plugins.builtin import BUILTIN_MODULES
from cnnbuild.plugins.compatibility import api_mismatch, declared_api
from cnnbuild.plugins.kinds import KINDS, Kind
from cnnbuild.plugins.parameter_models import spec_model
from cnnbuild.plugins.registry import PluginInfo, Registration, Registry, input_range, supplied_tasks

ENTRY_POINT_GROUP = "cnnbuild"
LOAD_PLUGINS_ENV = "CNNBUILD_LOAD_PLUGINS"
TRACE_PLUGINS_ENV = "CNNBUILD_TRACE_PLUGINS"
RUN_WITHOUT = f"set {LOAD_PLUGINS_ENV} to a comma-separated list of the plugins to load (empty for none) to run without it"

#: the builtin plugin modules, in registration order (listed with the builtin plugins)
BUILTIN_PLUGINS = BUILTIN_MODULES

log = logging.getLogger("cnnbuild.plugins")
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


def _trace(pm: pluggy.PluginManager) -> None:
    """Print every hook call, its plugins, arguments and duration to standard error."""

    started: list[float] = []

    def before(hook_name: str, hook_impls: list[Any], kwargs: dict[str, Any]) -> None:
        started.append(time.perf_counter())
        names = ", ".join(plugin_info(impl.plugin).name for impl in hook_impls)
        print(f"cnnbuild plugins: {hook_name}({', '.join(kwargs)}) -> [{names}]", file=sys.stderr, flush=True)

    def after(outcome: Any, hook_name: str, hook_impls: list[Any], kwargs: dict[str, Any]) -> None:
        seconds = time.perf_counter() - started.pop()
        error = outcome.exception
        result = f"raised {type(error).__name__}: {error}" if error else f"returned {repr(outcome.get_result())[:200]}"
        print(f"cnnbuild plugins: {hook_name} {result} in {seconds * 1000:.1f} ms", file=sys.stderr, flush=True)

    pm.add_hookcall_monitoring(before, after)


def make_registry(*plugins: object) -> Registry:
    """A registry of the builtin plugins and ``plugins`` only, apart from the process's plugin
    manager: give it to ``validate_source`` and the spec carries it (building, inference, checks)."""
    pm = pluggy.PluginManager("cnnbuild")
    pm.add_hookspecs(hookspecs)
    _register_builtins(pm)
    for plugin in plugins:
        pm.register(plugin)
    return build_registry(pm, [])


def _register_builtins(pm: pluggy.PluginManager) -> None:
    version = _version()
    for module_name in BUILTIN_PLUGINS:
        module = importlib.import_module(module_name)
        pm.register(module, name=module_name.rsplit(".", 1)[-1])
        _infos[id(module)] = PluginInfo(module_name.rsplit(".", 1)[-1], "cnnbuild", version, True)


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager: builtin plugins and allowed entry points, loaded once."""
    global _pm
    if _pm is not None:
        return _pm
    pm = pluggy.PluginManager("cnnbuild")
    pm.add_hookspecs(hookspecs)
    if os.environ.get(TRACE_PLUGINS_ENV):
        _trace(pm)
    _register_builtins(pm)
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
            mismatch = api_mismatch(plugin, info.describe())
            if mismatch is not None:  # written for another plugin API: not used, rather than failing later with an AttributeError
                _load_failures.append(f"{mismatch}; {RUN_WITHOUT}")
                continue
            pm.register(plugin, name=entry_point.name)
        except (Exception, SystemExit) as exc:  # a broken plugin must not break (or end) every command
            _load_failures.append(f"{info.describe()} failed to load: {type(exc).__name__}: {exc}; {RUN_WITHOUT}")
            continue
        declared = declared_api(plugin)
        _infos[id(plugin)] = dataclasses.replace(info, api=None if declared is None else str(declared))
    _pm = pm
    return pm


def plugin_info(plugin: object, pm: pluggy.PluginManager | None = None) -> PluginInfo:
    """Who a registered plugin object is; plugins registered by hand (tests) get their name in ``pm`` (default: the process's)."""
    info = _infos.get(id(plugin))
    if info is not None:
        return info
    pm = pm or _pm
    name = (pm.get_name(plugin) if pm is not None else None) or repr(plugin)
    return PluginInfo(name, "not installed", "-", False)


def unknown_hooks(pm: pluggy.PluginManager) -> dict[int, list[str]]:
    """Plugins (by id) implementing hooks cnnbuild does not have, such as a misspelt ``register_layer``.

    pluggy accepts such an implementation silently and never calls it; ``pm.check_pending()``
    finds the first, this finds them all.
    """
    try:
        pm.check_pending()
        return {}
    except pluggy.PluginValidationError:
        pass
    found: dict[int, list[str]] = {}
    for name in list(vars(pm.hook)):
        caller = getattr(pm.hook, name)
        if name.startswith("_") or caller.has_spec():
            continue
        for impl in caller.get_hookimpls():
            if not impl.optionalhook:
                found.setdefault(id(impl.plugin), []).append(name)
    return found


def _unknown_hook_message(info: PluginInfo, names: list[str]) -> str:
    known = sorted(name for name in vars(hookspecs) if isinstance(getattr(hookspecs, name), Callable) and hasattr(getattr(hookspecs, name), "cnnbuild_spec"))
    parts = []
    for name in names:
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        parts.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    return f"{info.describe()} implements unknown hook(s) {', '.join(parts)}; cnnbuild's hooks are {', '.join(known)}; nothing of this plugin is used"


def hook_for(pm: pluggy.PluginManager, hook: str, plugin: object) -> Any:
    """A caller of ``hook`` that calls only ``plugin``'s implementation, through pluggy."""
    return pm.subset_hook_caller(hook, remove_plugins=[other for other in pm.get_plugins() if other is not plugin])


def implements(pm: pluggy.PluginManager, hook: str, plugin: object) -> bool:
    """Whether ``plugin`` implements ``hook``."""
    return any(impl.plugin is plugin for impl in getattr(pm.hook, hook).get_hookimpls())


def _register_function(staged: list[Registration], kind: Kind, info: PluginInfo) -> Callable[..., None]:
    def register(name: str, params: Any, factory: Callable[..., Any], **options: Any) -> None:
        if not isinstance(name, str) or not name.isidentifier():
            raise PluginError(f"{info.describe()} registered a {kind.name} with an invalid name {name!r}; use an identifier such as 'MyLayer'")
        if not callable(factory):
            raise PluginError(f"{info.describe()} registered {kind.name} {name!r} with a factory that is not callable")
        unknown = set(options) - set(kind.options)
        if unknown:
            raise PluginError(f"{info.describe()} registered {kind.name} {name!r} with unknown options {sorted(unknown)}; allowed: {sorted(kind.options)}")
        if "aliases" in options:
            options["aliases"] = tuple(options["aliases"])
        if "tasks" in options:
            options["tasks"] = supplied_tasks(options["tasks"], f"{info.describe()} registered {kind.name} {name!r} with")
        if "inputs" in options:
            options["inputs"] = input_range(options["inputs"], f"{info.describe()} registered {kind.name} {name!r} with")
        staged.append(Registration(kind=kind, name=name, model=spec_model(kind, name, params, info), factory=factory, plugin=info, options=options))

    return register


def build_registry(pm: pluggy.PluginManager, load_failures: list[str] | None = None) -> Registry:
    """Call every registration hook, one plugin at a time, so each failure names its plugin and
    a plugin registers all of its types or none of them (``load_failures``: the entry points'; default: this process's)."""
    registry = Registry(failures=list(_load_failures if load_failures is None else load_failures))
    unknown = unknown_hooks(pm)
    # builtins first, then by name: which plugin keeps a contested name must not depend on set order
    plugins = sorted(pm.get_plugins(), key=lambda p: (not plugin_info(p, pm).builtin, plugin_info(p, pm).name))
    registry.plugins = [plugin_info(plugin, pm) for plugin in plugins]
    usable = []
    for plugin in plugins:
        if id(plugin) in unknown:
            registry.failures.append(_unknown_hook_message(plugin_info(plugin, pm), unknown[id(plugin)]))
            registry.failed_plugins.add(plugin_info(plugin, pm).name)
        else:
            usable.append(plugin)
    staged: dict[int, list[Registration]] = {id(plugin): [] for plugin in usable}
    failed: set[int] = set()
    for kind in KINDS:
        for plugin in usable:
            if id(plugin) in failed or not implements(pm, kind.hook, plugin):
                continue
            info = plugin_info(plugin, pm)
            try:
                hook_for(pm, kind.hook, plugin)(register=_register_function(staged[id(plugin)], kind, info))
            except Exception as exc:
                failed.add(id(plugin))
                registry.failed_plugins.add(info.name)
                registry.failures.append(str(exc) if isinstance(exc, PluginError) else f"{info.describe()} raised in a registration hook: {type(exc).__name__}: {exc}; {RUN_WITHOUT}")
    for plugin in usable:
        if id(plugin) in failed:
            continue
        before = registry.snapshot()
        try:
            for registration in staged[id(plugin)]:
                registry.add(registration)
        except PluginError as exc:
            registry.restore(before)  # all of a plugin or none of it: no half-registered plugin
            registry.failures.append(str(exc))
            registry.failed_plugins.add(plugin_info(plugin, pm).name)
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
        for failure in _registry_cache[1].failures:  # said once, by every command that uses plugins (the CLI prints warnings)
            log.warning("warning: %s", failure)
    return _registry_cache[1]


def keras_objects() -> dict[str, Any]:
    """Every plugin's custom Keras objects, for loading saved models; a failing plugin is named."""
    objects: dict[str, Any] = {}
    pm = get_plugin_manager()
    for plugin in pm.get_plugins():
        if not implements(pm, "keras_objects", plugin):
            continue
        try:
            results = hook_for(pm, "keras_objects", plugin)()
        except Exception as exc:
            raise PluginError(f"{plugin_info(plugin).describe()} failed in keras_objects: {type(exc).__name__}: {exc}") from exc
        for result in results:
            objects.update(result or {})
    return objects


def announce_run_ended(run_dir: Any, state: str) -> None:
    """Call every plugin's ``run_ended`` hook; a plugin that raises is logged as a warning, one at a time."""
    pm = get_plugin_manager()
    failed = get_registry().failed_plugins
    for plugin in pm.get_plugins():
        if plugin_info(plugin).name in failed or not implements(pm, "run_ended", plugin):
            continue
        try:
            hook_for(pm, "run_ended", plugin)(run_dir=run_dir, state=state)
        except Exception as exc:  # a plugin's bookkeeping must not turn a finished run into a failed one
            log.warning("warning: %s failed in run_ended: %s: %s", plugin_info(plugin).describe(), type(exc).__name__, exc)
