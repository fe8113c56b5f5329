"""Testing cnnbuild plugins: a pytest plugin (loaded automatically once cnnbuild is installed) and checks.

Fixtures (each named ``cnnbuild_...``, so none takes a name a project's own tests use):

- ``cnnbuild_plugin``: ``cnnbuild_plugin(obj, name)`` registers a plugin object (a module or an
  instance with ``@cnnbuild.hookimpl`` methods) for one test and returns the registry; it is
  unregistered after the test.
- ``cnnbuild_spec_errors``: ``cnnbuild_spec_errors(text)`` validates a spec given as YAML text and
  returns its error lines (``[]`` when it is valid), as ``cnnbuild validate`` prints them.
- ``cnnbuild_run_spec``: ``cnnbuild_run_spec(text, overrides=(), **options)`` writes the spec to a
  temporary folder, trains it there and returns the ``RunResult`` (its ``run_dir`` is the run directory).
- ``cnnbuild_class_folder``: ``cnnbuild_class_folder({"cats": 6, "dogs": 6})`` writes small
  generated images into class sub-folders of a temporary folder and returns it.

``spec_errors``, ``run_spec`` and ``class_folder`` (plugin API 1.2's names) still work, with a
``DeprecationWarning``.

Checks: :func:`assert_shape_matches_keras` builds a layer type with Keras and compares its output
shape and parameter counts with what its shape function declares; :func:`assert_data_source_supplies`
runs a data source for a task through cnnbuild's validation, its checks of what a source returns,
and its data pipeline (plugin API 1.5).

Data to test with: :func:`write_images` (class folders), :func:`write_multi_label_csv`,
:func:`write_regression_csv` and :func:`write_image_masks` (one task each, plugin API 1.5).
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cnnbuild.contracts.layers import LayerShape
from cnnbuild.contracts.plugin_api import warn_deprecated
from cnnbuild.testing.source_check import assert_data_source_supplies
from cnnbuild.testing.task_data import write_image_masks, write_multi_label_csv, write_regression_csv

__all__ = [
    "assert_shape_matches_keras", "cnnbuild_class_folder", "cnnbuild_plugin", "cnnbuild_run_spec", "cnnbuild_spec_errors", "write_images",
    "assert_data_source_supplies", "write_image_masks", "write_multi_label_csv", "write_regression_csv",
    "class_folder", "run_spec", "spec_errors",
]  # fmt: skip


def assert_shape_matches_keras(layer_type: str, params: dict[str, Any], input_shape: tuple[int, ...] | list[tuple[int, ...]]) -> LayerShape:
    """Build ``layer_type`` with ``params`` (as a spec entry's keys) through its registered factory,
    call it on an input of ``input_shape`` (no batch axis; a list of shapes for a layer registered
    with ``inputs=``), and check that the shape function declares the same output shape,
    parameter count and non-trainable count as Keras builds.

    Returns the declared :class:`~cnnbuild.LayerShape`; raises AssertionError naming the difference.
    """
    from cnnbuild.builder.runtime import import_keras
    from cnnbuild.plugins.manager import get_registry

    keras = import_keras()
    registration = get_registry().layers.get(layer_type)
    assert registration is not None, f"no layer type {layer_type!r} is registered (is the plugin installed or registered for this test?)"
    assert registration.shape is not None, f"layer type {layer_type!r} ({registration.plugin.describe()}) has no shape function"
    entry = registration.params.model_validate({"type": layer_type, **params})
    shapes = [tuple(shape) for shape in input_shape] if registration.merges else tuple(input_shape)
    declared = LayerShape(*registration.shape(entry, shapes))
    layer = registration.make(keras.layers.Layer, entry, *([shapes] if registration.backbone else []))
    outputs = layer([keras.Input(shape=shape) for shape in shapes] if registration.merges else keras.Input(shape=shapes))
    built = (tuple(outputs.shape[1:]), int(layer.count_params()), int(sum(int(keras.ops.size(w)) for w in layer.non_trainable_weights)))
    expected = (tuple(declared.output_shape), declared.params, declared.non_trainable)
    assert built == expected, (
        f"{registration.plugin.describe()}: the shape function of {layer_type!r} on input {tuple(input_shape)} declares "
        f"output {expected[0]}, {expected[1]:,} params ({expected[2]:,} non-trainable); Keras built output {built[0]}, "
        f"{built[1]:,} params ({built[2]:,} non-trainable)"
    )
    return declared


def write_images(folder: Path, classes: dict[str, int], *, size: tuple[int, int] = (16, 16), seed: int = 0) -> Path:
    """``count`` small PNG images per class in ``folder/<class>/``: each class its own colour, so a
    tiny model can tell them apart in an epoch or two. Returns ``folder``."""
    import random

    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    palette = [(220, 40, 40), (40, 200, 60), (40, 80, 220), (230, 200, 40), (160, 60, 200), (30, 200, 200)]
    for label, (name, count) in enumerate(classes.items()):
        (folder / name).mkdir(parents=True, exist_ok=True)
        for index in range(count):
            colour = tuple(max(0, min(255, c + rng.randint(-30, 30))) for c in palette[label % len(palette)])
            image = Image.new("RGB", size, (rng.randint(0, 40),) * 3)
            ImageDraw.Draw(image).rectangle([2, 2, size[0] - 3, size[1] - 3], outline=colour, width=2)
            image.save(folder / name / f"{name}_{index:03d}.png")
    return folder


@pytest.fixture
def cnnbuild_plugin() -> Iterator[Callable[..., Any]]:
    """``register(obj, name)``: a plugin object for this test only; returns the registry."""
    from cnnbuild.plugins.manager import get_plugin_manager, get_registry

    registered: list[object] = []

    def register(obj: object, name: str | None = None) -> Any:
        get_plugin_manager().register(obj, name=name)
        registered.append(obj)
        return get_registry()

    yield register
    for obj in registered:
        get_plugin_manager().unregister(obj)


@pytest.fixture
def cnnbuild_spec_errors() -> Callable[[str], list[str]]:
    """``spec_errors(text)``: the error lines of a spec given as YAML text, ``[]`` when valid."""
    from cnnbuild.spec import SpecError, spec_from_text

    def errors(text: str) -> list[str]:
        try:
            spec_from_text(textwrap.dedent(text))
        except SpecError as exc:
            return [issue.render() for issue in exc.issues]
        return []

    return errors


@pytest.fixture
def cnnbuild_run_spec(tmp_path: Path) -> Callable[..., Any]:
    """``run_spec(text, overrides=(), **options)``: train a spec in a temporary folder; returns the RunResult."""
    import cnnbuild

    counter = iter(range(1_000_000))

    def run(text: str, overrides: list[str] | tuple[str, ...] = (), **options: Any) -> Any:
        number = next(counter)
        path = tmp_path / f"spec-{number}.yaml"
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return cnnbuild.run(path, overrides, output=options.pop("output", tmp_path / f"run-{number}"), **options)

    return run


@pytest.fixture
def cnnbuild_class_folder(tmp_path: Path) -> Callable[..., Path]:
    """``class_folder(classes, size=(16, 16))``: generated images in class sub-folders of a new folder."""
    counter = iter(range(1_000_000))

    def make(classes: dict[str, int], **options: Any) -> Path:
        return write_images(tmp_path / f"images-{next(counter)}", classes, **options)

    return make


# Plugin API 1.2's names, kept as deprecated aliases.
@pytest.fixture
def spec_errors(cnnbuild_spec_errors: Callable[[str], list[str]]) -> Callable[[str], list[str]]:
    """Deprecated: ``cnnbuild_spec_errors``."""
    warn_deprecated("fixture spec_errors", stacklevel=2)
    return cnnbuild_spec_errors


@pytest.fixture
def run_spec(cnnbuild_run_spec: Callable[..., Any]) -> Callable[..., Any]:
    """Deprecated: ``cnnbuild_run_spec``."""
    warn_deprecated("fixture run_spec", stacklevel=2)
    return cnnbuild_run_spec


@pytest.fixture
def class_folder(cnnbuild_class_folder: Callable[..., Path]) -> Callable[..., Path]:
    """Deprecated: ``cnnbuild_class_folder``."""
    warn_deprecated("fixture class_folder", stacklevel=2)
    return cnnbuild_class_folder
