"""Plugins register types through hooks; failures name the plugin; the registry follows registrations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import pytest
from pydantic import Field

import cnnbuild
from cnnbuild.plugins.builtin.preprocessing_layers import not_offered
from cnnbuild.plugins.kinds import KINDS
from cnnbuild.plugins.manager import get_plugin_manager, get_registry, make_registry
from cnnbuild.plugins.parameter_models import DeferredParams
from cnnbuild.spec import SpecError, spec_from_text

from ..conftest import run_cli

REPO = Path(__file__).resolve().parents[2]


class ScaleParams(cnnbuild.Params):
    factor: float = Field(gt=0)


class ScalePlugin:
    @cnnbuild.hookimpl
    def register_layers(self, register):
        register("Scale", ScaleParams, lambda p: _scale_layer(p.factor), shape=lambda p, s: cnnbuild.LayerShape(s), aliases=("Multiply2",))


def _scale_layer(factor):
    import keras

    return keras.layers.Rescaling(factor)


def test_registered_layer_is_validated_and_built_like_a_builtin(plugin):
    plugin(ScalePlugin(), "scale-test")
    text = "data: {type: digits}\nmodel:\n  layers:\n    - {type: Scale, factor: 2}\n    - Multiply2: {factor: 0.5}\n    - Flatten\n    - {type: Dense, units: auto}\n"
    spec = spec_from_text(text)
    assert [layer.type for layer in spec.model.layers[:2]] == ["Scale", "Scale"]
    with pytest.raises(SpecError) as caught:
        spec_from_text(text.replace("factor: 2", "factr: 2"))
    assert "<string>:4:21: model.layers[0].factr: unknown key; did you mean 'factor'?" in str(caught.value)
    model = cnnbuild.build_model(spec, num_classes=10)
    assert model.count_params() == 8 * 8 * 10 + 10


def test_registry_forgets_unregistered_plugins():
    plugin_object = ScalePlugin()
    get_plugin_manager().register(plugin_object, name="scale-test")
    try:
        assert "Scale" in get_registry().layers
    finally:
        get_plugin_manager().unregister(plugin_object)
    assert "Scale" not in get_registry().layers
    with pytest.raises(SpecError, match="unknown layer type 'Scale'"):
        spec_from_text("data: {type: digits}\nmodel: {layers: [{type: Scale, factor: 2}]}\n")


def test_duplicate_name_names_both_plugins(plugin):
    class Duplicate:
        @cnnbuild.hookimpl
        def register_layers(self, register):
            register("Conv2D", ScaleParams, _scale_layer)

    registry = plugin(Duplicate(), "dup-test")
    assert any("layer 'Conv2D' is registered twice: by plugin 'convolution_layers' (cnnbuild" in f and "plugin 'dup-test'" in f for f in registry.failures)
    assert registry.layers["Conv2D"].plugin.name == "convolution_layers"


def test_hook_that_raises_is_named_and_others_still_work(plugin):
    class Broken:
        @cnnbuild.hookimpl
        def register_callbacks(self, register):
            raise RuntimeError("boom")

    registry = plugin(Broken(), "broken-test")
    assert any(f.startswith("plugin 'broken-test'") and "RuntimeError: boom" in f for f in registry.failures)
    assert "EarlyStopping" in registry.callbacks


@pytest.mark.parametrize(
    "params, fragment",
    [(dict, "expected a pydantic model class"), (type("HasType", (cnnbuild.Params,), {"__annotations__": {"type": str}}), "has a field 'type'")],
)
def test_invalid_parameter_models_are_refused(plugin, params, fragment):
    class Bad:
        @cnnbuild.hookimpl
        def register_layers(self, register):
            register("BadLayer", params, _scale_layer)

    registry = plugin(Bad(), "bad-test")
    assert "BadLayer" not in registry.layers
    assert any("plugin 'bad-test'" in f and fragment in f for f in registry.failures)


def test_an_installed_plugins_deferred_model_is_made_when_it_registers(plugin):
    def broken() -> type:
        raise TypeError("no model")

    class Deferring:
        @cnnbuild.hookimpl
        def register_layers(self, register):
            register("DeferredLayer", DeferredParams(cnnbuild.Params, broken), _scale_layer)

    registry = plugin(Deferring(), "deferring-test")
    assert "DeferredLayer" not in registry.layers
    assert any(f.startswith("plugin 'deferring-test'") and "TypeError: no model" in f for f in registry.failures)


def test_builtin_models_are_made_on_first_use_once_and_every_one_is_whole():
    registry = make_registry()
    registrations = [r for kind in KINDS for r in registry.table(kind).values()]
    assert registrations and not any(r.model.made for r in registrations if r.plugin.builtin)  # validate makes only what a spec uses
    conv = registry.layers["Conv2D"]
    assert conv.params is conv.params and conv.model.made and not registry.layers["Dense"].model.made
    for registration in registrations:
        model = registration.params
        assert issubclass(model, registration.kind.params_base), registration.name
        assert model.model_fields["type"].annotation == Literal[registration.name], registration.name
        assert model.model_config["extra"] == "forbid", registration.name
    with pytest.raises(ValueError, match="kernel_regularizer is a Keras parameter cnnbuild does not offer"):
        conv.params.model_validate({"type": "Conv2D", "filters": 8, "kernel_size": 3, "kernel_regularizer": "l2"})
    with pytest.raises(ValueError, match="is not offered"):
        next(r for r in registrations if r.factory is not_offered).params.model_validate({"type": "x"})


def test_data_source_params_must_extend_data_params(plugin):
    class BadSource:
        @cnnbuild.hookimpl
        def register_data_sources(self, register):
            register("bad_source", ScaleParams, lambda p, c: None)

    registry = plugin(BadSource(), "bad-source-test")
    assert any("does not subclass cnnbuild.DataParams" in f for f in registry.failures)


def test_factory_returning_a_non_layer_is_a_plugin_error(plugin):
    class NotALayer:
        @cnnbuild.hookimpl
        def register_layers(self, register):
            register("NotALayer", cnnbuild.Params, lambda p: "a string")

    plugin(NotALayer(), "not-a-layer")
    spec = spec_from_text("data: {type: digits}\nmodel: {layers: [NotALayer, Flatten, {type: Dense, units: auto}]}\n")
    with pytest.raises(cnnbuild.PluginError, match="plugin 'not-a-layer'.*returned str, not a keras.layers.Layer"):
        cnnbuild.build_model(spec, num_classes=10)


def test_load_plugins_variable_turns_entry_points_off():
    listed = json.loads(run_cli("plugins", "--json", env={"CNNBUILD_LOAD_PLUGINS": ""}).stdout)
    assert all(p["builtin"] for p in listed["plugins"])
    assert {"core_layers", "image_directory", "callbacks"} <= {p["name"] for p in listed["plugins"]}


def test_keras_objects_are_collected_and_failures_named(plugin):
    from cnnbuild.plugins.manager import keras_objects

    class Provides:
        @cnnbuild.hookimpl
        def keras_objects(self):
            return {"MyLayer": int}

    plugin(Provides(), "provides-test")
    assert keras_objects()["MyLayer"] is int

    class Fails:
        @cnnbuild.hookimpl
        def keras_objects(self):
            raise ImportError("no module named nowhere")

    plugin(Fails(), "fails-test")
    with pytest.raises(cnnbuild.PluginError, match="plugin 'fails-test'.*failed in keras_objects: ImportError"):
        keras_objects()


def test_register_commands_adds_a_command(plugin):
    import click
    from click.testing import CliRunner

    from cnnbuild.cli import cli

    class Commands:
        @cnnbuild.hookimpl
        def register_commands(self, cli):
            @cli.command()
            def hello():
                """Say hello."""
                click.echo("hello from a plugin")

    plugin(Commands(), "commands-test")
    cli._plugins_added = False
    try:
        result = CliRunner().invoke(cli, ["hello"])
        assert result.exit_code == 0 and result.output == "hello from a plugin\n"
    finally:
        cli.commands.pop("hello", None)
        cli._plugins_added = False


class LabelledFilesParams(cnnbuild.DataParams):
    labels_csv: cnnbuild.SpecPath
    extra_folders: list[cnnbuild.SpecPath] = []


class NotesParams(cnnbuild.Params):
    notes_file: cnnbuild.SpecPath | None = None
    title: str = "notes.txt"  # a plain string stays as written


class PathPlugin:
    @cnnbuild.hookimpl
    def register_data_sources(self, register):
        register("labelled_files", LabelledFilesParams, lambda params, context: context.resolve_path(params.labels_csv))

    @cnnbuild.hookimpl
    def register_callbacks(self, register):
        register("Notes", NotesParams, lambda params, context: None)


def test_plugin_path_parameters_become_absolute_in_the_run_spec(plugin, tmp_path):
    """A plugin's SpecPath parameters are rewritten like data.path, so RUN_DIR/spec.yaml reruns from anywhere."""
    plugin(PathPlugin(), "path-test")
    text = (
        "data: {type: labelled_files, labels_csv: labels/train.csv, image_size: [8, 8]}\n"
        "model: {layers: [Flatten, {type: Dense, units: 3}]}\n"
        "train: {callbacks: [{type: Notes, notes_file: ~/notes.md}, {type: Notes}]}\n"
    )
    spec = spec_from_text(text, base_dir=tmp_path)
    resolved = spec.canonical(absolute_paths=True)
    assert resolved["data"]["labels_csv"] == str(tmp_path / "labels" / "train.csv")
    assert resolved["data"]["extra_folders"] == []
    assert resolved["train"]["callbacks"][0]["notes_file"] == str(Path.home() / "notes.md")
    assert resolved["train"]["callbacks"][0]["title"] == "notes.txt" and resolved["train"]["callbacks"][1]["notes_file"] is None
    assert spec.canonical()["data"]["labels_csv"] == "labels/train.csv"  # only the run's copy is rewritten
    lists = spec_from_text(text.replace("labels_csv: labels/train.csv", "labels_csv: a.csv, extra_folders: [more, /abs]"), base_dir=tmp_path)
    assert lists.canonical(absolute_paths=True)["data"]["extra_folders"] == [str(tmp_path / "more"), "/abs"]


class KeywordOrPathParams(cnnbuild.Params):
    store: Literal["none", "memory"] | cnnbuild.SpecPath = "none"
    by_name: dict[str, cnnbuild.SpecPath] = {}


class KeywordPlugin:
    @cnnbuild.hookimpl
    def register_callbacks(self, register):
        register("Store", KeywordOrPathParams, lambda params, context: None)


def test_keywords_beside_a_path_stay_and_mappings_of_paths_resolve(plugin, tmp_path):
    plugin(KeywordPlugin(), "keyword-test")
    text = "data: {type: digits}\nmodel: {layers: [Flatten, {type: Dense, units: auto}]}\ntrain: {callbacks: [{type: Store}, {type: Store, store: cache.bin, by_name: {a: x/a.txt}}]}\n"
    callbacks = spec_from_text(text, base_dir=tmp_path).canonical(absolute_paths=True)["train"]["callbacks"]
    assert callbacks[0]["store"] == "none"
    assert callbacks[1]["store"] == str(tmp_path / "cache.bin") and callbacks[1]["by_name"] == {"a": str(tmp_path / "x" / "a.txt")}


class MisspeltHookPlugin:
    """Implements ``register_layer`` (singular) and a correct ``register_callbacks``."""

    @cnnbuild.hookimpl
    def register_layer(self, register):
        register("Typo", ScaleParams, lambda p: None)

    @cnnbuild.hookimpl
    def register_callbacks(self, register):
        register("TypoCallback", ScaleParams, lambda p, c: None)


def test_a_misspelt_hook_is_reported_by_plugin_and_nothing_of_that_plugin_is_used(plugin):
    registry = plugin(MisspeltHookPlugin(), "typo-plugin")
    failure = next(f for f in registry.failures if "typo-plugin" in f)
    assert "implements unknown hook(s) 'register_layer' (did you mean 'register_layers'?)" in failure
    assert "nothing of this plugin is used" in failure
    assert "TypoCallback" not in registry.callbacks and "typo-plugin" in registry.failed_plugins


def test_hooks_are_called_through_pluggy_so_hook_monitoring_sees_them(plugin):
    """A hookcall monitor (what CNNBUILD_TRACE_PLUGINS installs) sees each plugin's registration call."""
    from cnnbuild.plugins import manager

    seen = []
    undo = get_plugin_manager().add_hookcall_monitoring(lambda name, impls, kwargs: seen.append((name, [manager.plugin_info(i.plugin).name for i in impls])), lambda *a: None)
    try:
        plugin(ScalePlugin(), "scale-monitored")
    finally:
        undo()
    assert ("register_layers", ["scale-monitored"]) in seen


def test_trace_plugins_prints_every_hook_call(tmp_path):
    done = run_cli("plugins", env={"CNNBUILD_TRACE_PLUGINS": "1"})
    assert done.returncode == 0, done.stderr
    assert "cnnbuild plugins: register_layers(register) -> [core_layers]" in done.stderr
    assert "cnnbuild plugins: register_layers returned [] in" in done.stderr  # pluggy drops None results
    assert "-> []" not in done.stderr  # only plugins that implement a hook are called for it


class HalfCommandsPlugin:
    @cnnbuild.hookimpl
    def register_commands(self, cli):
        import click

        @cli.command("half-first")
        def first() -> None:
            click.echo("first")

        raise RuntimeError("broken after one command")


class GoodCommandsPlugin:
    @cnnbuild.hookimpl
    def register_commands(self, cli):
        import click

        @cli.command("hello-plugin")
        def hello() -> None:
            click.echo("hello")


def test_plugins_lists_commands_and_a_failing_register_commands_leaves_none_behind(plugin):
    from click.testing import CliRunner

    from cnnbuild.cli.main import cli

    plugin(HalfCommandsPlugin(), "half-commands")
    plugin(GoodCommandsPlugin(), "good-commands")
    saved = dict(cli.commands)
    cli._plugins_added = False
    try:
        result = CliRunner().invoke(cli, ["plugins"])
        assert result.exit_code == 0, result.output
        assert "plugin 'half-commands' (not installed -) failed to add commands: RuntimeError: broken after one command" in result.output
        assert "half-first" not in cli.commands
        assert "good-commands  (not installed -)\n  commands: hello-plugin" in result.output
    finally:
        cli.commands = saved
        cli._plugins_added = False
