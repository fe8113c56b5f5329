"""A plugin declares the plugin API versions it works with; outside them cnnbuild says so by name
instead of failing later inside it. A data source gets a work folder of its own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import cnnbuild
from cnnbuild.builder.data.source import load_source
from cnnbuild.errors import PluginError
from cnnbuild.contracts.plugin_api import PLUGIN_API_VERSION as API
from cnnbuild.plugins.compatibility import api_mismatch
from cnnbuild.spec import spec_from_text

from ..conftest import run_cli
from ..reliability.processes import install_plugin


class Declares:
    def __init__(self, declared: object) -> None:
        self.CNNBUILD_PLUGIN_API = declared


@pytest.mark.parametrize("declared", [None, ">=1.0,<2", "~=1.2", ">=1.3", f"=={API}"])
def test_a_range_holding_this_version_or_none_is_accepted(declared):
    assert api_mismatch(Declares(declared) if declared else object(), "plugin 'x' (cnnbuild-x 0.1)") is None


def test_a_range_without_this_version_is_refused_naming_both():
    message = api_mismatch(Declares(">=2.0"), "plugin 'x' (cnnbuild-x 0.1)")
    assert message == (
        "plugin 'x' (cnnbuild-x 0.1) is written for cnnbuild plugin API >=2.0 (CNNBUILD_PLUGIN_API) "
        f"and this cnnbuild provides plugin API {API}; "
        "install a release of the plugin written for this plugin API, or a cnnbuild whose plugin API the plugin accepts"
    )
    assert f"plugin API <{API}" in api_mismatch(Declares(f"<{API}"), "plugin 'x' (cnnbuild-x 0.1)")
    for garbled in ("banana", 1.2, ">=1.0,<"):
        assert "which is not a version range such as '>=1.2,<2'" in api_mismatch(Declares(garbled), "plugin 'x' (cnnbuild-x 0.1)")


FUTURE = """
import cnnbuild

CNNBUILD_PLUGIN_API = ">=2.0,<3"


class FutureParams(cnnbuild.Params):
    size: int = 1


@cnnbuild.hookimpl
def register_layers(register):
    register("FutureLayer", FutureParams, lambda params: cnnbuild.NotInThisVersion(params))
"""
PRESENT = FUTURE.replace('">=2.0,<3"', '">=1.0,<2"').replace("FutureLayer", "PresentLayer")


def test_an_installed_plugin_for_another_api_is_named_and_not_used(tmp_path):
    site = tmp_path / "site"
    install_plugin(site, "cnnbuild_future", FUTURE, "cnnbuild-future", "future")
    install_plugin(site, "cnnbuild_present", PRESENT, "cnnbuild-present", "present")
    env = {"PYTHONPATH": str(site), "CNNBUILD_LOAD_PLUGINS": "future,present"}
    spec = tmp_path / "spec.yaml"
    spec.write_text("data: {type: digits}\nmodel: {layers: [FutureLayer, PresentLayer, Flatten, {type: Dense, units: auto}]}\n")
    result = run_cli("validate", str(spec), env=env, timeout=120)
    assert result.returncode == 1 and "Traceback" not in result.stderr and "AttributeError" not in result.stderr
    said = [
        line
        for line in result.stderr.splitlines()
        if line.startswith("warning: plugin 'future' (cnnbuild-future 0.1) is written for cnnbuild plugin API >=2.0,<3")
    ]
    assert len(said) == 1 and f"this cnnbuild provides plugin API {API}" in said[0] and "CNNBUILD_LOAD_PLUGINS" in said[0]
    assert "model.layers[0]: unknown layer type 'FutureLayer'" in result.stderr and "model.layers[1]" not in result.stderr  # PresentLayer fits
    listed = json.loads(run_cli("plugins", "--json", env=env, timeout=120).stdout)
    assert listed["plugin_api"] == API and [row["plugin_api"] for row in listed["plugins"] if row["name"] == "present"] == [">=1.0,<2"]
    assert "future" not in [row["name"] for row in listed["plugins"]]


class SourceParams(cnnbuild.DataParams):
    pass


def _spec(source: str) -> str:
    return f"data: {{type: {source}}}\nmodel: {{layers: [Flatten, {{type: Dense, units: auto}}]}}\n"


def test_a_factory_failing_on_a_missing_name_says_which_plugin_api_this_is(plugin, tmp_path):
    class Stale:
        @cnnbuild.hookimpl
        def register_data_sources(self, register):
            register("stale_source", SourceParams, lambda params, context: context.sharding, class_names=lambda params, context: ["a", "b"])

    plugin(Stale(), "stale")
    with pytest.raises(PluginError) as error:
        load_source(spec_from_text(_spec("stale_source"), base_dir=tmp_path))
    assert str(error.value).startswith("plugin 'stale' (not installed -): building data source 'stale_source' failed: AttributeError: ")
    assert str(error.value).endswith(
        f"; the plugin declares no plugin API range and may be written for another one: this cnnbuild provides plugin API {API} (docs/plugins.md lists what each version has)"
    )


def test_a_data_source_gets_a_work_folder_of_its_own_created_for_its_factory(plugin, tmp_path, monkeypatch):
    monkeypatch.setenv("CNNBUILD_CACHE_DIR", str(tmp_path / "cache"))
    seen: dict[str, tuple[Path, bool]] = {}

    def names(params, context):
        seen["class_names"] = (context.work_dir, context.work_dir.exists())
        return ["a", "b"]

    def load(params, context):
        seen["factory"] = (context.work_dir, context.work_dir.is_dir())
        (context.work_dir / "downloaded.bin").write_bytes(b"kept between runs")
        return cnnbuild.Datasets(train=[0, 1], validation=None, class_names=["a", "b"], train_count=2)

    class Probe:
        @cnnbuild.hookimpl
        def register_data_sources(self, register):
            register("work_probe", SourceParams, load, class_names=names)

    plugin(Probe(), "work-probe")
    spec = spec_from_text(_spec("work_probe"), base_dir=tmp_path)
    folder = tmp_path / "cache" / "sources" / "work_probe"
    assert seen["class_names"] == (folder, False)  # validate writes nothing
    load_source(spec)
    assert seen["factory"] == (folder, True) and (folder / "downloaded.bin").read_bytes() == b"kept between runs"
