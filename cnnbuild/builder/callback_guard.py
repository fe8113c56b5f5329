"""A plugin's callback that raises inside ``fit`` is named, instead of surfacing as a Keras traceback."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from cnnbuild.errors import CnnbuildError, PluginError


def guard_callback(callback: Any, owner: str, name: str) -> Any:
    """Wrap every ``on_*`` method of ``callback`` so an exception becomes a :class:`PluginError`
    saying which plugin (``owner``) and which callback type (``name``) raised it."""
    for attribute in dir(type(callback)):
        if attribute.startswith("on_") and callable(getattr(callback, attribute, None)):
            setattr(callback, attribute, _guarded(getattr(callback, attribute), owner, name, attribute))
    return callback


def _guarded(method: Callable[..., Any], owner: str, name: str, hook: str) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except (CnnbuildError, KeyboardInterrupt):
            raise
        except Exception as exc:
            raise PluginError(f"{owner}: callback {name!r} raised {type(exc).__name__} in {hook}: {exc}") from None

    return call
