"""Broken plugins: each failure is one message naming the plugin and its distribution, the rest
of cnnbuild keeps working, and CNNBUILD_LOAD_PLUGINS runs without the culprit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import field_validator

import cnnbuild
from cnnbuild.errors import PluginError
from cnnbuild.plugins.manager import RUN_WITHOUT
from cnnbuild.contracts import LayerShape
from cnnbuild.spec import SpecError, spec_from_text

from ..conftest import run_cli
from .processes import install_plugin

DIGITS = Path(__file__).resolve().parents[2] / "examples" / "digits.yaml"
HINT = "CNNBUILD_LOAD_PLUGINS"


class SizeParams(cnnbuild.Params):
    size: int = 1


def _identity(params):
    import keras

    return keras.layers.Identity()


def _failures(registry, name: str) -> list[str]:
    return [failure for failure in registry.failures if f"plugin {name!r} (not installed -)" in failure]


# -- loading --------------------------------------------------------------------------------
BROKEN_IMPORT = "raise ImportError('needs libfoo 2.0, found 1.4')\n"
EXITS_ON_IMPORT = "import sys\nsys.exit(3)\n"
BROKEN_COMMANDS = """
import cnnbuild

@cnnbuild.hookimpl
def register_commands(cli):
    raise RuntimeError('click changed under me')
"""


@pytest.fixture
def broken_plugins(tmp_path) -> dict[str, str]:
    folder = tmp_path / "site"
    install_plugin(folder, "cnnbuild_broken_import", BROKEN_IMPORT, "cnnbuild-broken", "broken")
    install_plugin(folder, "cnnbuild_exits", EXITS_ON_IMPORT, "cnnbuild-exits", "exits")
    install_plugin(folder, "cnnbuild_bad_commands", BROKEN_COMMANDS, "cnnbuild-bad-commands", "commands")
    return {"PYTHONPATH": str(folder)}


def test_plugins_that_fail_to_import_are_named_once_and_do_not_stop_commands(broken_plugins, tally):
    result = run_cli("validate", str(DIGITS), env=broken_plugins, timeout=120)
    assert result.returncode == 0 and f"{DIGITS}: ok" in result.stdout, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    broken = [line for line in lines if "plugin 'broken' (cnnbuild-broken 0.1) failed to load: ImportError: needs libfoo 2.0, found 1.4" in line]
    assert len(broken) == 1 and HINT in broken[0]
    assert sum("plugin 'exits' (cnnbuild-exits 0.1) failed to load: SystemExit: 3" in line for line in lines) == 1
    listed = run_cli("--help", env=broken_plugins, timeout=120)  # plugin commands are added when commands are listed
    assert listed.returncode == 0 and "validate" in listed.stdout and "Traceback" not in listed.stderr
    assert sum("plugin 'commands' (cnnbuild-bad-commands 0.1) failed to add commands: RuntimeError: click changed under me" in line for line in listed.stderr.splitlines()) == 1
    tally["broken plugin distributions named (import error, sys.exit, register_commands)"] += 3


@pytest.mark.parametrize("command", [("validate", str(DIGITS)), ("diff", str(DIGITS), str(DIGITS)), ("schema",), ("plugins",)], ids=lambda c: c[0])
def test_every_command_that_loads_plugins_says_once_which_failed(broken_plugins, command):
    # said where the plugins load (the registry is built), not by each command: diff, schema and plugins never called it by hand
    result = run_cli(*command, env=broken_plugins, timeout=120)
    assert result.returncode == 0, result.stderr
    said = [line for line in result.stderr.splitlines() if "plugin 'broken' (cnnbuild-broken 0.1) failed to load" in line]
    assert said == [f"warning: plugin 'broken' (cnnbuild-broken 0.1) failed to load: ImportError: needs libfoo 2.0, found 1.4; {RUN_WITHOUT}"]


def test_building_a_registry_logs_each_failure_once(plugin, caplog):
    class Raises:
        @cnnbuild.hookimpl
        def register_layers(self, register):
            raise RuntimeError("config file missing")

    with caplog.at_level("WARNING", logger="cnnbuild.plugins"):
        plugin(Raises(), "raises-once")
    said = [record for record in caplog.records if "plugin 'raises-once'" in record.getMessage()]
    assert len(said) == 1 and said[0].name == "cnnbuild.plugins" and "raised in a registration hook: RuntimeError: config file missing" in said[0].getMessage()


def test_cnnbuild_load_plugins_runs_without_the_broken_ones(broken_plugins, tally):
    result = run_cli("validate", str(DIGITS), env={**broken_plugins, HINT: "commands"}, timeout=120)
    assert result.returncode == 0 and "failed to load" not in result.stderr
    result = run_cli("plugins", "--json", env={**broken_plugins, HINT: ""}, timeout=120)
    listed = json.loads(result.stdout)
    assert listed["failures"] == [] and all(p["builtin"] for p in listed["plugins"])
    tally["runs without broken plugins via CNNBUILD_LOAD_PLUGINS"] += 1


def test_a_spec_that_needs_a_broken_plugin_says_so(broken_plugins, tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(DIGITS.read_text().replace("- MaxPooling2D                           #", "- FancyPool                              #", 1), encoding="utf-8")
    result = run_cli("validate", str(spec), env=broken_plugins, timeout=120)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"{spec}:23:7: model.layers[2]: unknown layer type 'FancyPool'" in result.stderr
    assert "note: plugin 'broken' (cnnbuild-broken 0.1) failed to load" in result.stderr


# -- registration -------------------------------------------------------------------------
def test_a_registration_hook_that_raises_is_named_and_nothing_of_it_is_kept(plugin, tally):
    class HalfWay:
        @cnnbuild.hookimpl
        def register_layers(self, register):
            register("GoodBefore", SizeParams, _identity)
            raise RuntimeError("config file missing")

    registry = plugin(HalfWay(), "halfway")
    (failure,) = _failures(registry, "halfway")
    assert "raised in a registration hook: RuntimeError: config file missing" in failure and HINT in failure
    assert "GoodBefore" not in registry.layers and "Conv2D" in registry.layers
    spec_from_text(DIGITS.read_text())  # everything else still works
    tally["plugin failures named: registration hook raising"] += 1


def test_duplicate_names_keep_the_builtin_whatever_the_order(plugin, tally):
    for round_ in range(12):  # new objects, new ids: the plugin set's order changes
        class Duplicate:
            @cnnbuild.hookimpl
            def register_layers(self, register):
                register("Conv2D", SizeParams, _identity)

        registry = plugin(Duplicate(), f"dup{round_}")
        assert registry.layers["Conv2D"].plugin.name == "convolution_layers"
        (failure,) = _failures(registry, f"dup{round_}")
        assert "layer 'Conv2D' is registered twice: by plugin 'convolution_layers' (cnnbuild" in failure and HINT in failure
    tally["plugin failures named: duplicate names"] += 1


class NotAModel:
    size = 1


class DataParamsLike(cnnbuild.Params):
    path: str = "x"


class HasType(cnnbuild.Params):
    type: str = "x"


@pytest.mark.parametrize(
    "kind, arguments, expected",
    [
        ("layer", ("Bad", dict, _identity), "expected a pydantic model class"),
        ("layer", ("Bad", NotAModel, _identity), "expected a pydantic model class"),
        ("layer", ("Bad", HasType, _identity), "has a field 'type'"),
        ("layer", ("Bad", SizeParams, "not callable"), "not callable"),
        ("layer", ("bad name!", SizeParams, _identity), "invalid name"),
        ("layer", ("Bad", SizeParams, _identity, {"colour": "red"}), "unknown options"),
        ("data source", ("bad_source", DataParamsLike, _identity), "does not subclass cnnbuild.DataParams"),
        ("callback", ("BadCallback", SizeParams(), _identity), "expected a pydantic model class"),
    ],
)
def test_invalid_registrations_are_named(plugin, tally, kind, arguments, expected):
    name, params, factory, *options = arguments
    hook = {"layer": "register_layers", "data source": "register_data_sources", "callback": "register_callbacks"}[kind]

    def register_everything(self, register):
        register("FineBefore" if kind != "data source" else "fine_before", SizeParams if kind != "data source" else cnnbuild.DataParams, _identity)
        register(name, params, factory, **(options[0] if options else {}))

    invalid = type("Invalid", (), {hook: cnnbuild.hookimpl(register_everything)})
    registry = plugin(invalid(), "invalid")
    (failure,) = _failures(registry, "invalid")
    assert expected in failure
    assert "FineBefore" not in registry.table(kind) and "fine_before" not in registry.table(kind)  # all of a plugin or none
    tally["plugin failures named: invalid registrations"] += 1


# -- hooks raising or returning the wrong thing ----------------------------------------------
class FaultyParams(cnnbuild.Params):
    mode: str = "ok"

    @field_validator("mode")
    @classmethod
    def _check(cls, value: str) -> str:
        if value == "crash":
            raise KeyError("internal table")
        return value


def _faulty_factory(params):
    if params.mode == "raise":
        raise RuntimeError("cuda not found")
    if params.mode == "wrong":
        return "a string"
    return _identity(params)


def _faulty_shape(params, shape):
    if params.mode == "shape-raise":
        raise ZeroDivisionError("bad arithmetic")
    if params.mode == "shape-garbage":
        return (shape, "lots")
    return LayerShape(shape)


class Faulty:
    @cnnbuild.hookimpl
    def register_layers(self, register):
        register("Faulty", FaultyParams, _faulty_factory, shape=_faulty_shape)

    @cnnbuild.hookimpl
    def register_data_sources(self, register):
        register("faulty_source", FaultySourceParams, _faulty_source)

    @cnnbuild.hookimpl
    def register_callbacks(self, register):
        register("FaultyCallback", FaultyParams, _faulty_callback)

    @cnnbuild.hookimpl
    def keras_objects(self):
        raise ImportError("custom layers module is gone")


class FaultySourceParams(cnnbuild.DataParams):
    mode: str = "ok"


def _faulty_source(params, context):
    if params.mode == "raise":
        raise ConnectionError("dataset server down")
    return {"train": None}


def _faulty_callback(params, context):
    import keras

    if params.mode == "wrong":
        return object()

    class Exploding(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise ValueError("metric server rejected the value")

    return Exploding()


def _spec(layer_mode: str = "ok", *, source: str = "digits", callbacks: str = "[]", epochs: int = 1) -> str:
    return f"""name: faulty
seed: 1
data: {{type: {source}, image_size: [8, 8], batch_size: 64}}
model:
  layers:
    - {{type: Faulty, mode: {layer_mode}}}
    - Flatten
    - {{type: Dense, units: auto}}
train: {{epochs: {epochs}, verbose: quiet, callbacks: {callbacks}}}
"""


@pytest.mark.parametrize(
    "mode, expected",
    [
        ("crash", "spec.yaml:6:7: model.layers[0]: plugin 'faulty' (not installed -) raised KeyError: 'internal table' while checking the parameters of layer 'Faulty'"),
        ("shape-raise", "spec.yaml:6:7: model.layers[0]: the shape function of plugin 'faulty' (not installed -) failed: ZeroDivisionError: bad arithmetic"),
        ("shape-garbage", "spec.yaml:6:7: model.layers[0]: the shape function of plugin 'faulty' (not installed -) failed: AttributeError"),
    ],
)
def test_validation_hooks_that_raise_become_located_errors(plugin, tally, mode, expected):
    plugin(Faulty(), "faulty")
    with pytest.raises(SpecError) as caught:
        spec_from_text(_spec(mode), "spec.yaml")
    assert expected in str(caught.value) and HINT in str(caught.value)
    tally["plugin failures named: validation and shape hooks"] += 1


@pytest.mark.parametrize("mode, expected", [("raise", "building layer 'Faulty' failed: RuntimeError: cuda not found"), ("wrong", "returned str, not a keras.layers.Layer")])
def test_layer_factories_that_fail_are_named(plugin, tally, mode, expected):
    plugin(Faulty(), "faulty")
    spec = spec_from_text(_spec(mode), "spec.yaml")
    with pytest.raises(PluginError, match=rf"plugin 'faulty' \(not installed -\): .*{expected}"):
        cnnbuild.build_model(spec, num_classes=10)
    tally["plugin failures named: layer factories"] += 1


@pytest.mark.parametrize("mode, expected", [("raise", "failed: ConnectionError: dataset server down"), ("ok", "returned dict, not a cnnbuild.Datasets")])
def test_data_sources_that_fail_are_named(plugin, tally, mode, expected):
    from cnnbuild.builder.data.source import load_source

    plugin(Faulty(), "faulty")
    spec = spec_from_text(_spec(source=f"{{type: faulty_source, mode: {mode}}}").replace("data: {type: {type: faulty_source", "data: {type: faulty_source").replace(f"mode: {mode}}}, image_size", f"mode: {mode}, image_size"), "spec.yaml")
    with pytest.raises(PluginError, match=rf"plugin 'faulty' \(not installed -\): .*data source 'faulty_source' {expected}"):
        load_source(spec)
    tally["plugin failures named: data sources"] += 1


def test_keras_objects_hook_that_raises_is_named_when_a_model_loads(plugin, tmp_path, tally):
    import keras

    from cnnbuild.builder.model.build import load_saved_model

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.save(tmp_path / "m.keras")
    plugin(Faulty(), "faulty")
    with pytest.raises(PluginError, match=r"plugin 'faulty' \(not installed -\) failed in keras_objects: ImportError: custom layers module is gone"):
        load_saved_model(tmp_path / "m.keras")
    tally["plugin failures named: keras_objects"] += 1


def test_a_callback_that_raises_mid_training_is_named_and_the_run_stays_resumable(plugin, tmp_path, tally):
    from cnnbuild.builder.training import run

    plugin(Faulty(), "faulty")
    text = _spec(callbacks="[{type: FaultyCallback}]", epochs=3).replace("{type: Faulty, mode: ok}", "{type: Rescaling, scale: 1/255}")
    spec = spec_from_text(text, str(tmp_path / "spec.yaml"), base_dir=tmp_path)
    with pytest.raises(PluginError) as caught:
        run(spec, output=tmp_path / "run")
    message = str(caught.value)
    assert message == "plugin 'faulty' (not installed -): callback 'FaultyCallback' raised ValueError in on_epoch_end: metric server rejected the value"
    status = json.loads((tmp_path / "run" / "status.json").read_text())
    assert status["state"] == "failed" and "FaultyCallback" in status["error"]
    state = json.loads((tmp_path / "run" / "checkpoints" / "state.json").read_text())
    assert state["completed_epochs"] == 1  # the epoch finished before the failure is kept
    tally["plugin failures named: callbacks raising mid-training"] += 1


def test_a_callback_factory_returning_something_else_is_named(plugin, tmp_path):
    from cnnbuild.runs.directory import RunDirectory
    from cnnbuild.builder.training.user_callbacks import user_callbacks

    plugin(Faulty(), "faulty")
    spec = spec_from_text(_spec(callbacks="[{type: FaultyCallback, mode: wrong}]").replace("{type: Faulty, mode: ok}", "{type: Rescaling, scale: 1/255}"), "spec.yaml")
    with pytest.raises(PluginError, match=r"plugin 'faulty' \(not installed -\): the factory of callback 'FaultyCallback' returned object"):
        user_callbacks(spec, RunDirectory(tmp_path), None, {})


class UnsavableLayer:
    """A layer type whose Keras class is neither registered as serializable nor returned by keras_objects."""

    @cnnbuild.hookimpl
    def register_layers(self, register):
        def factory(params):
            import keras

            class Doubler(keras.layers.Layer):
                def call(self, inputs):
                    return inputs * 2

            return Doubler()

        register("Doubler", cnnbuild.Params, factory, shape=lambda p, s: cnnbuild.LayerShape(s))


def test_a_saved_model_whose_custom_class_no_plugin_provides_names_the_plugin(plugin, tmp_path):
    from cnnbuild.builder.inference import predict

    plugin(UnsavableLayer(), "unsavable")
    spec = tmp_path / "spec.yaml"
    spec.write_text("seed: 1\ndata: {type: digits}\nmodel: {layers: [Doubler, Flatten, {type: Dense, units: auto}]}\ntrain: {epochs: 1}\n")
    result = cnnbuild.run(spec, output=tmp_path / "run")
    image = tmp_path / "digit.png"
    from PIL import Image

    Image.new("L", (8, 8), 100).save(image)
    with pytest.raises(cnnbuild.RunError) as caught:
        predict(result.run_dir, [image])
    message = str(caught.value)
    assert "holds a custom Keras class" in message and "Doubler" in message
    assert "plugin 'unsavable'" in message and "keras_objects hook must return" in message
