"""The hooks a cnnbuild plugin can implement.

A plugin is a module or object with functions decorated by ``@cnnbuild.hookimpl`` and named
like the specs below. Registration hooks receive a ``register`` callback, so cnnbuild knows
which plugin registered what. A hook the plugin API table deprecates warns, through pluggy's
``warn_on_impl``, when a plugin implementing it is registered.
"""

from __future__ import annotations

import functools
from typing import Any

import pluggy

from cnnbuild.plugins.compatibility import marked_hook

hookspec = pluggy.HookspecMarker("cnnbuild")
hookimpl = pluggy.HookimplMarker("cnnbuild")
#: ``@hook``: a hookspec, with ``warn_on_impl`` when the plugin API table deprecates it
hook = functools.partial(marked_hook, hookspec)


@hook
def register_layers(register: Any) -> None:
    """Register layer types usable in ``model.layers`` (and in ``augmentation`` when marked).

    :param register: ``register(name, params, factory, *, shape=None, aliases=(), augmentation=False,
        mixes_labels=False, not_augmentation=None, inputs=1, backbone=False, requires=(), context=False)``
        where ``params`` is a pydantic model of the layer's parameters (subclass
        ``cnnbuild.Params``), ``factory(params)`` returns a ``keras.layers.Layer`` and
        ``shape(params, input_shape)`` returns a ``cnnbuild.LayerShape`` without TensorFlow.
        ``mixes_labels=True``: the layer mixes images and labels across a batch and is called as
        ``layer({"images": x, "labels": y}, training=True)`` in the pipeline (MixUp, CutMix);
        ``not_augmentation``: why the layer cannot be listed under ``augmentation``;
        ``context=True``: the factory and the shape function also get ``context=``, a
        ``cnnbuild.LayerContext`` that builds and checks nested entries. docs/plugins.md has every option.
    """


@hook
def register_data_sources(register: Any) -> None:
    """Register data source types usable as ``data.type``.

    :param register: ``register(name, params, factory, *, class_names=None, requires=(), tasks=("single_label",))``
        where ``params`` subclasses ``cnnbuild.DataParams``, ``factory(params, context)`` returns a
        ``cnnbuild.Datasets`` and ``class_names(params, context)`` returns the class names (for
        multi-label the labels, for regression the targets) without loading the data, or None when
        they are only known after loading. ``tasks``: the spec tasks the source supplies
        (``context.task`` says which one a spec asks for).
    """


@hook
def register_callbacks(register: Any) -> None:
    """Register callback types usable in ``train.callbacks``.

    :param register: ``register(name, params, factory)`` where ``factory(params, context)``
        returns a ``keras.callbacks.Callback``; ``context`` is a ``cnnbuild.CallbackContext``.
    """


@hook
def keras_objects() -> dict[str, Any]:
    """Custom Keras classes or functions that saved models holding this plugin's layers need.

    Called only when cnnbuild loads a saved model (resume, evaluate, predict), so a plugin can
    keep TensorFlow out of its import. Classes registered with
    ``keras.saving.register_keras_serializable`` need only be imported here.

    :return: a mapping of names to objects, passed to ``keras.saving.load_model(custom_objects=...)``.
    """


@hook
def register_commands(cli: Any) -> None:
    """Add commands to the ``cnnbuild`` command line.

    :param cli: the ``click.Group`` of the ``cnnbuild`` command; call ``cli.command()`` or
        ``cli.add_command()`` on it.
    """


@hook
def run_ended(run_dir: Any, state: str) -> None:
    """Called when a run ends, in the process that writes its run directory, after every artifact
    of a completed run is written (``model.keras``, ``metrics.json``, the figures).

    Exceptions are reported as warnings and never change the run's outcome.

    :param run_dir: the run directory (a ``pathlib.Path``; read it with ``cnnbuild.load_run``).
    :param state: ``completed``, ``interrupted`` (Ctrl-C; resumable) or ``failed``.
    """
