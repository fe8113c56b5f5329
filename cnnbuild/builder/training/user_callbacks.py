"""The spec's ``train.callbacks``, made by their registered factories and guarded: a plugin's callback
that raises inside ``fit`` is named, instead of surfacing as a Keras traceback."""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cnnbuild.contracts.callbacks import CallbackContext
from cnnbuild.errors import CnnbuildError, PluginError

if TYPE_CHECKING:
    from cnnbuild.runs.directory import RunDirectory
    from cnnbuild.spec.document import Spec


def user_callbacks(spec: Spec, run: RunDirectory, steps: int | None, history: dict[str, list[float]], *, first_epoch: int = 0, learning_rate: float | None = None) -> list[Any]:
    """The spec's callbacks, in order, each guarded by :func:`guard_callback`; ``history`` is this
    phase's (from epoch ``first_epoch``), ``learning_rate`` the phase's (default: the optimizer's)."""
    import keras

    registry = spec.registry
    context = CallbackContext(
        run_dir=run.path,
        epochs=spec.train.total_epochs,
        learning_rate=spec.compile.optimizer.learning_rate if learning_rate is None else learning_rate,
        steps_per_epoch=steps,
        history=copy.deepcopy(history),
        first_epoch=first_epoch,
    )
    callbacks = []
    for entry in spec.train.callbacks:
        registration = registry.callbacks[entry.type]
        callback = registration.make(keras.callbacks.Callback, entry, context)
        callbacks.append(guard_callback(callback, registration.plugin.describe(), entry.type))
    return callbacks


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
            raise PluginError(f"{owner}: callback {name!r} raised {type(exc).__name__} in {hook}: {exc}") from exc

    return call
