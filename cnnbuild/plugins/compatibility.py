"""Whether a plugin is written for this cnnbuild's plugin API, from what it declares.

A plugin declares the plugin API versions it works with as a module attribute of the object its
entry point names, ``CNNBUILD_PLUGIN_API = ">=1.2,<2"`` (a version specifier, PEP 440). A plugin
outside its range is not used, and the message says which versions it wants and which this
cnnbuild provides; one that declares nothing is used (plugin API 1.0 had no declaration).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from cnnbuild.contracts.plugin_api import API, PLUGIN_API_VERSION, REQUIREMENT_ATTRIBUTE, ApiName, deprecation_message


def declared_api(plugin: object) -> object | None:
    """What ``plugin`` declares as ``CNNBUILD_PLUGIN_API`` (None: nothing)."""
    return getattr(plugin, REQUIREMENT_ATTRIBUTE, None)


def api_mismatch(plugin: object, describe: str, version: str = PLUGIN_API_VERSION) -> str | None:
    """Why ``plugin`` (described as ``describe``, "plugin 'x' (cnnbuild-x 0.2)") cannot be used with
    plugin API ``version``, or None when it can (or declares nothing)."""
    declared = declared_api(plugin)
    if declared is None:
        return None
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import Version

    try:
        wanted = SpecifierSet(str(declared)) if isinstance(declared, str) else None
    except InvalidSpecifier:
        wanted = None
    if wanted is None:
        return (
            f"{describe} declares {REQUIREMENT_ATTRIBUTE} = {declared!r}, which is not a version range such as '>=1.2,<2'; "
            f"fix the plugin (this cnnbuild provides plugin API {version})"
        )
    if Version(version) in wanted:
        return None
    return (
        f"{describe} is written for cnnbuild plugin API {declared} ({REQUIREMENT_ATTRIBUTE}) and this cnnbuild provides plugin API {version}; "
        "install a release of the plugin written for this plugin API, or a cnnbuild whose plugin API the plugin accepts"
    )


def api_hint(declared: object | None, version: str = PLUGIN_API_VERSION) -> str:
    """What to add to a plugin's AttributeError, ImportError or TypeError: it may be written for another plugin API."""
    said = f"declares plugin API {declared}" if declared is not None else "declares no plugin API range"
    return f"; the plugin {said} and may be written for another one: this cnnbuild provides plugin API {version} (docs/plugins.md lists what each version has)"


def marked_hook(marker: Callable[..., Any], function: Callable[..., Any], api: Iterable[ApiName] = API) -> Callable[..., Any]:
    """``function`` marked as a hookspec by ``marker``; with pluggy's ``warn_on_impl`` (a
    ``DeprecationWarning`` when a plugin implementing it is registered) where ``api`` deprecates it."""
    api = tuple(api)
    row = next((row for row in api if row.name.startswith(f"hook {function.__name__}(")), None)
    if row is not None and row.deprecated is not None:
        return marker(warn_on_impl=DeprecationWarning(deprecation_message(row.name, api)))(function)
    return marker(function)
