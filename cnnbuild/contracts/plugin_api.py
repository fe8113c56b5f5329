"""The plugin API: its version, and every name a plugin may use, with the version that added it.

This table is the contract. docs/plugins.md lists the same names (a test compares the two), a
test checks that each name exists, and one checks that nothing public is missing from it. A
minor version adds names and may deprecate some; a deprecated name keeps working, with a
``DeprecationWarning`` naming its replacement and the version that removes it; only a major
version removes a name. A plugin declares the versions it works with as ``CNNBUILD_PLUGIN_API``
(docs/plugins.md, "Versions").

Name forms: ``cnnbuild.X`` (and ``cnnbuild.X.field``) for importable names and their fields,
``hook NAME(ARGS)`` for hooks, ``HOOK: register(..., OPTION=)`` for registration options,
``fixture NAME`` for the pytest fixtures of ``cnnbuild.testing``, ``RunResult.X`` for what
``cnnbuild.run`` returns.
"""

from __future__ import annotations

import importlib
import sys
import types
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

#: The plugin API's version, ``MAJOR.MINOR`` (independent of the cnnbuild package's version).
PLUGIN_API_VERSION = "1.5"
#: The same as a tuple of ints, for comparisons: ``cnnbuild.PLUGIN_API_VERSION_INFO >= (1, 2)``.
PLUGIN_API_VERSION_INFO = (1, 5)
#: The module attribute (on the object an entry point names) declaring the API versions a plugin
#: works with, as a version specifier: ``CNNBUILD_PLUGIN_API = ">=1.2,<2"``.
REQUIREMENT_ATTRIBUTE = "CNNBUILD_PLUGIN_API"


@dataclass(frozen=True)
class Deprecation:
    """What to do instead of using a deprecated name (a sentence: "use X"); it works until ``removal``."""

    advice: str
    since: str = "1.3"
    removal: str = "2.0"


@dataclass(frozen=True)
class ApiName:
    """One name of the plugin API and the version that added it."""

    name: str
    since: str
    deprecated: Deprecation | None = None


def _names(since: str, *names: str) -> tuple[ApiName, ...]:
    return tuple(ApiName(name, since) for name in names)


def _fields(owner: str, since: str, *fields: str) -> tuple[ApiName, ...]:
    return tuple(ApiName(f"{owner}.{field}", since) for field in fields)


_SHARD = Deprecation("cnnbuild gives each process its share of the training split itself (since 1.1), so a data source returns whole splits and shard is always (0, 1): stop reading it")
_CONTRACTS_MODULE = Deprecation("import it from cnnbuild (cnnbuild.plugins.contracts became cnnbuild.contracts in 1.1)")
_TYPES_MODULE = Deprecation("import it from cnnbuild or cnnbuild.contracts.values (cnnbuild.spec.types moved there in 1.1)")
_SPEC_PARAMS = Deprecation("use cnnbuild.Params and cnnbuild.DataParams")
_SPLITTING = Deprecation("use cnnbuild.data.stratified_split")


def _fixture(old: str) -> ApiName:
    return ApiName(f"fixture {old}", "1.2", Deprecation(f"use the fixture cnnbuild_{old} (fixtures of cnnbuild.testing carry the cnnbuild_ prefix, so none takes a name a project's own tests use)"))


API: tuple[ApiName, ...] = (
    # -- importable from cnnbuild ------------------------------------------------------------------
    *_names(
        "1.0",
        "cnnbuild.CallbackContext", "cnnbuild.CnnbuildError", "cnnbuild.DataContext", "cnnbuild.DataError", "cnnbuild.DataParams",
        "cnnbuild.Datasets", "cnnbuild.LayerShape", "cnnbuild.Params", "cnnbuild.PluginError", "cnnbuild.RunError", "cnnbuild.ShapeError",
        "cnnbuild.SkippedFile", "cnnbuild.Spec", "cnnbuild.SpecError", "cnnbuild.SpecPath", "cnnbuild.build_model",
        "cnnbuild.datasets_from_arrays", "cnnbuild.hookimpl", "cnnbuild.load_spec", "cnnbuild.run",
    ),
    *_names("1.1", "cnnbuild.Factor", "cnnbuild.Number", "cnnbuild.Pair", "cnnbuild.RunPath", "cnnbuild.RunRecord", "cnnbuild.load_run"),
    *_names("1.2", "cnnbuild.AugmentationList", "cnnbuild.DataNotFound", "cnnbuild.Probability", "cnnbuild.file_list_source", "cnnbuild.run_sweep"),
    *_names("1.3", "cnnbuild.LayerContext", "cnnbuild.PLUGIN_API_VERSION", "cnnbuild.PLUGIN_API_VERSION_INFO"),
    # -- what hooks are given and return --------------------------------------------------------
    *_fields("cnnbuild.DataContext", "1.0", "base_dir", "seed", "work_dir", "resolve_path"),
    ApiName("cnnbuild.DataContext.shard", "1.0", _SHARD),
    *_fields("cnnbuild.DataParams", "1.0", "image_size", "color_mode", "batch_size", "validation_split", "label_mode", "shuffle_buffer", "cache", "input_shape"),
    *_fields(
        "cnnbuild.Datasets", "1.0",
        "train", "validation", "class_names", "train_count", "validation_count", "test", "test_count", "skipped", "fingerprint", "train_labels",
    ),  # fmt: skip
    *_fields("cnnbuild.Datasets", "1.1", "files"),
    *_fields("cnnbuild.Datasets", "1.2", "warnings"),
    *_fields("cnnbuild.Datasets", "1.4", "task", "train_targets"),
    *_fields("cnnbuild.DataContext", "1.4", "task"),
    *_fields("cnnbuild.DataContext", "1.4", "task_options"),
    *_fields("cnnbuild.SkippedFile", "1.0", "path", "reason"),
    *_fields("cnnbuild.CallbackContext", "1.0", "run_dir", "epochs", "learning_rate", "steps_per_epoch", "history"),
    *_fields("cnnbuild.CallbackContext", "1.2", "first_epoch"),
    *_fields("cnnbuild.LayerShape", "1.0", "output_shape", "params", "non_trainable"),
    *_fields("cnnbuild.ShapeError", "1.0", "hint"),
    *_fields("cnnbuild.LayerContext", "1.3", "make_layer", "layer_shape"),
    *_fields("RunResult", "1.0", "run_dir", "status", "history", "metrics", "class_names", "skipped", "process", "completed"),
    *_fields("RunResult", "1.1", "warnings"),
    # -- hooks and what their register callbacks accept ------------------------------------------
    *_names(
        "1.0",
        "hook register_layers(register)", "hook register_data_sources(register)", "hook register_callbacks(register)", "hook keras_objects()",
        "hook register_commands(cli)",
    ),  # fmt: skip
    *_names("1.2", "hook run_ended(run_dir, state)"),
    *_names("1.0", "register_layers: register(..., shape=)", "register_layers: register(..., aliases=)", "register_layers: register(..., augmentation=)"),
    *_names(
        "1.2",
        "register_layers: register(..., mixes_labels=)", "register_layers: register(..., not_augmentation=)", "register_layers: register(..., inputs=)",
        "register_layers: register(..., backbone=)", "register_layers: register(..., requires=)",
    ),  # fmt: skip
    *_names("1.3", "register_layers: register(..., context=)"),
    *_names("1.0", "register_data_sources: register(..., class_names=)"),
    *_names("1.2", "register_data_sources: register(..., requires=)", "register_callbacks: register(..., requires=)"),
    *_names("1.4", "register_data_sources: register(..., tasks=)"),
    # -- helpers in other modules -------------------------------------------------------------
    *_names("1.0", "cnnbuild.plugins.manager.get_plugin_manager"),
    *_names("1.1", "cnnbuild.data.stratified_split", "cnnbuild.contracts.atomic.write_atomically"),
    *_names(
        "1.1",
        *(f"cnnbuild.contracts.values.{name}" for name in ("Fraction01", "PositiveInt", "NonNegativeInt", "PositiveNumber", "NonNegativeNumber", "Activation", "Padding", "Interpolation", "ColorMode", "LabelMode")),
    ),  # fmt: skip
    *_names("1.2", "cnnbuild.contracts.layers.Shape", "cnnbuild.contracts.layers.Shapes"),
    *_names("1.4", "cnnbuild.contracts.tasks.TASKS", "cnnbuild.data.targets.datasets_from_targets", "cnnbuild.data.targets.split_by_targets"),
    *_names("1.5", "cnnbuild.data.masks.datasets_from_masks"),
    # -- testing a plugin ------------------------------------------------------------------------
    *_names("1.2", "cnnbuild.testing.assert_shape_matches_keras", "cnnbuild.testing.write_images", "fixture cnnbuild_plugin"),
    *_names("1.3", "fixture cnnbuild_spec_errors", "fixture cnnbuild_run_spec", "fixture cnnbuild_class_folder"),
    *_names(
        "1.5",
        "cnnbuild.testing.assert_data_source_supplies", "cnnbuild.testing.write_multi_label_csv", "cnnbuild.testing.write_regression_csv",
        "cnnbuild.testing.write_image_masks",
    ),  # fmt: skip
    _fixture("spec_errors"),
    _fixture("run_spec"),
    _fixture("class_folder"),
    # -- where 1.0 kept things (deprecated shims) ----------------------------------------------
    *(
        ApiName(f"cnnbuild.plugins.contracts.{name}", "1.0", _CONTRACTS_MODULE)
        for name in ("CallbackContext", "DataContext", "Datasets", "LayerShape", "Shape", "ShapeError", "SkippedFile")
    ),
    *(
        ApiName(f"cnnbuild.spec.types.{name}", "1.0", _TYPES_MODULE)
        for name in (
            "Activation", "ColorMode", "Fraction01", "Interpolation", "LabelMode", "NonNegativeInt", "NonNegativeNumber", "Number", "Padding",
            "Pair", "Params", "PositiveInt", "PositiveNumber", "SpecPath",
        )
    ),  # fmt: skip
    ApiName("cnnbuild.spec.Params", "1.0", _SPEC_PARAMS),
    ApiName("cnnbuild.spec.DataParams", "1.0", _SPEC_PARAMS),
    ApiName("cnnbuild.spec.sections.DataParams", "1.0", _SPEC_PARAMS),
    ApiName("cnnbuild.plugins.builtin.splitting.stratified_split", "1.0", _SPLITTING),
)

def deprecation_message(name: str, api: Iterable[ApiName] = API) -> str:
    """What the ``DeprecationWarning`` of a deprecated name says."""
    deprecation = next(row for row in api if row.name == name).deprecated
    assert deprecation is not None, f"{name} is not deprecated"
    return (
        f"{name} is deprecated since cnnbuild plugin API {deprecation.since} and is removed in plugin API {deprecation.removal}: {deprecation.advice}"
    )


def warn_deprecated(name: str, stacklevel: int = 3) -> None:
    """Warn that ``name`` (a deprecated row of :data:`API`) was used; ``stacklevel`` 3 points at
    the caller of the function that calls this."""
    warnings.warn(deprecation_message(name), DeprecationWarning, stacklevel=stacklevel)


def moved_names(module: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """A module's ``__getattr__`` for names that moved away from it (each a deprecated row of
    :data:`API`): warns, then returns the name from its new home (``"module"`` or ``"module:name"``)."""

    def __getattr__(name: str) -> Any:
        if name not in homes:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        warn_deprecated(f"{module}.{name}")
        target, _, attribute = homes[name].partition(":")
        return getattr(importlib.import_module(target), attribute or name)

    return __getattr__


def moved_module(name: str, homes: Mapping[str, str], doc: str) -> types.ModuleType:
    """A module that exists only to keep old imports working (its file would shadow a standard
    module, as ``cnnbuild.spec.types`` would): each of its names warns and comes from its new home."""
    module = types.ModuleType(name, doc)
    module.__getattr__ = moved_names(name, homes)  # type: ignore[method-assign]
    sys.modules[name] = module
    return module
