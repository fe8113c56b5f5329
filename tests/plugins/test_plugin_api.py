"""The plugin API is one table (cnnbuild/contracts/plugin_api.py) that docs/plugins.md lists name
by name: every name in it exists, nothing public is missing from it, the docs list exactly it, and
every deprecated name still works and says what replaces it."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import re
import warnings
from pathlib import Path

import pytest

import cnnbuild
import cnnbuild.testing
from cnnbuild.builder.training.result import RunResult
from cnnbuild.contracts.plugin_api import API, PLUGIN_API_VERSION, PLUGIN_API_VERSION_INFO, ApiName, Deprecation, deprecation_message
from cnnbuild.plugins import hookspecs
from cnnbuild.plugins.kinds import KINDS

DOCS = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"
NAMES = {row.name: row for row in API}
#: the classes whose fields and methods are plugin API, by the name the table gives them
CLASSES = {
    "cnnbuild.DataContext": cnnbuild.DataContext, "cnnbuild.Datasets": cnnbuild.Datasets, "cnnbuild.SkippedFile": cnnbuild.SkippedFile,
    "cnnbuild.CallbackContext": cnnbuild.CallbackContext, "cnnbuild.LayerContext": cnnbuild.LayerContext, "RunResult": RunResult,
}  # fmt: skip


def _members(cls: type) -> set[str]:
    fields = {field.name for field in dataclasses.fields(cls)}
    return fields | {name for name in vars(cls) if not name.startswith("_")}


def _hook_names() -> dict[str, str]:
    found = {}
    for name, function in vars(hookspecs).items():
        if hasattr(function, "cnnbuild_spec"):
            found[name] = f"hook {name}({', '.join(inspect.signature(function).parameters)})"
    return found


def _resolve(name: str) -> bool:
    """Whether ``name`` (a row of the table) exists in the code."""
    if name.startswith("hook "):
        return name in _hook_names().values()
    if ": register(..., " in name:
        hook, option = re.fullmatch(r"(\w+): register\(\.\.\., (\w+)=\)", name).groups()
        return any(kind.hook == hook and option in kind.options for kind in KINDS)
    if name.startswith("fixture "):
        return name.split()[1] in cnnbuild.testing.__all__ and callable(getattr(cnnbuild.testing, name.split()[1]))
    owner, _, member = name.rpartition(".")
    if owner in CLASSES:
        return member in _members(CLASSES[owner])
    if owner == "cnnbuild.DataParams":
        return member in cnnbuild.DataParams.model_fields or member in vars(cnnbuild.DataParams)
    if owner == "cnnbuild.LayerShape":
        return member in cnnbuild.LayerShape._fields
    if name == "cnnbuild.ShapeError.hint":
        return cnnbuild.ShapeError("m", "h").hint == "h"
    module = importlib.import_module(owner)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return hasattr(module, member)


def test_the_version_is_major_minor_and_no_name_is_newer():
    assert PLUGIN_API_VERSION == ".".join(map(str, PLUGIN_API_VERSION_INFO)) and len(PLUGIN_API_VERSION_INFO) == 2
    assert (cnnbuild.PLUGIN_API_VERSION, cnnbuild.PLUGIN_API_VERSION_INFO) == (PLUGIN_API_VERSION, PLUGIN_API_VERSION_INFO)
    version = lambda text: tuple(int(part) for part in text.split("."))  # noqa: E731
    for row in API:
        assert version(row.since) <= PLUGIN_API_VERSION_INFO, f"{row.name} is from {row.since}, after {PLUGIN_API_VERSION}"
        if row.deprecated:  # removal only in a later major version
            assert version(row.deprecated.since) <= PLUGIN_API_VERSION_INFO and version(row.deprecated.removal)[0] > PLUGIN_API_VERSION_INFO[0]
    assert len(NAMES) == len(API), "a name is listed twice"


@pytest.mark.parametrize("row", API, ids=lambda row: row.name)
def test_every_listed_name_exists(row):
    assert _resolve(row.name), (
        f"{row.name} (plugin API {row.since}) is in the plugin API table but not in the code: restore it, as a deprecated shim if it moved"
    )


def test_everything_public_is_listed():
    public = {f"cnnbuild.{name}" for name in cnnbuild.__all__}
    public |= {f"{owner}.{member}" for owner, cls in CLASSES.items() for member in _members(cls)}
    public |= {f"cnnbuild.DataParams.{name}" for name in [*cnnbuild.DataParams.model_fields, "input_shape"]}
    public |= {f"cnnbuild.LayerShape.{name}" for name in cnnbuild.LayerShape._fields}
    public |= set(_hook_names().values())
    public |= {f"{kind.hook}: register(..., {option}=)" for kind in KINDS for option in kind.options}
    public |= {
        f"fixture {name}"
        if hasattr(getattr(cnnbuild.testing, name), "_fixture_function_marker") or "fixture" in type(getattr(cnnbuild.testing, name)).__name__.lower()
        else f"cnnbuild.testing.{name}"
        for name in cnnbuild.testing.__all__
    }
    missing = sorted(public - set(NAMES))
    assert not missing, f"public but not in the plugin API table (cnnbuild/contracts/plugin_api.py) nor docs/plugins.md: {missing}"


def _documented() -> dict[str, tuple[str, str]]:
    text = DOCS.read_text(encoding="utf-8")
    section = text[text.index("## The plugin API, name by name") :]
    rows = re.findall(r"^\| `([^`]+)` \| ([0-9.]+) \| (.*?) ?\|$", section, re.MULTILINE)
    return {name: (since, status.strip()) for name, since, status in rows}


def test_the_docs_list_exactly_the_table():
    documented = _documented()
    table = {
        row.name: (row.since, f"deprecated in {row.deprecated.since}, removed in {row.deprecated.removal}: {row.deprecated.advice}" if row.deprecated else "")
        for row in API
    }
    assert sorted(set(table) - set(documented)) == [], "in the table, not in docs/plugins.md"
    assert sorted(set(documented) - set(table)) == [], "in docs/plugins.md, not in the table"
    assert {name: documented[name] for name in table if documented[name] != table[name]} == {}, "listed with another version or status"
    history = DOCS.read_text(encoding="utf-8")
    for minor in range(PLUGIN_API_VERSION_INFO[1] + 1):
        assert f"\n| {PLUGIN_API_VERSION_INFO[0]}.{minor} | " in history, (
            f"docs/plugins.md does not say what plugin API {PLUGIN_API_VERSION_INFO[0]}.{minor} added"
        )


DEPRECATED_NAMES = [row for row in API if row.deprecated and row.name.startswith("cnnbuild.") and not row.name.startswith("cnnbuild.DataContext.")]


@pytest.mark.parametrize("row", DEPRECATED_NAMES, ids=lambda row: row.name)
def test_a_moved_name_still_works_and_says_what_replaces_it(row):
    module_name, _, attribute = row.name.rpartition(".")
    module = importlib.import_module(module_name)
    with pytest.warns(DeprecationWarning) as caught:
        moved = getattr(module, attribute)
    assert str(caught[0].message) == deprecation_message(row.name) and row.deprecated.advice in str(caught[0].message)
    assert "removed in plugin API 2.0" in str(caught[0].message)
    homes = [importlib.import_module(name) for name in ("cnnbuild", "cnnbuild.contracts", "cnnbuild.contracts.values", "cnnbuild.data")]
    assert moved is next(getattr(home, attribute) for home in homes if hasattr(home, attribute))


def test_an_import_of_a_moved_name_points_at_the_importing_line():
    with pytest.warns(DeprecationWarning, match="cnnbuild.spec.types.Pair is deprecated") as caught:
        from cnnbuild.spec.types import Pair  # noqa: F401
    assert caught[0].filename == __file__


def test_data_context_shard_is_the_single_process_value_with_a_warning(tmp_path):
    context = cnnbuild.DataContext(tmp_path, 3)
    with pytest.warns(
        DeprecationWarning, match=r"cnnbuild.DataContext.shard is deprecated since cnnbuild plugin API 1.3 .*cnnbuild gives each process its share"
    ):
        assert context.shard == (0, 1)
    with pytest.warns(DeprecationWarning, match="DataContext.shard"):  # plugin API 1.0's constructor
        made = cnnbuild.DataContext(tmp_path, 3, tmp_path / "work", (0, 1))
    assert made == cnnbuild.DataContext(base_dir=tmp_path, seed=3, work_dir=tmp_path / "work")
    assert dataclasses.replace(made, seed=4).work_dir == tmp_path / "work"


def test_a_deprecated_hook_warns_through_pluggy_when_implemented():
    import pluggy

    api = (ApiName("hook old_hook(register)", "1.0", Deprecation("use the hook new_hook(register)")),)

    class Specs:
        def old_hook(self, register):
            """A hook about to go."""

    pm = pluggy.PluginManager("cnnbuild")
    Specs.old_hook = hookspecs.hook(Specs.old_hook, api)
    pm.add_hookspecs(Specs)

    class Plugin:
        @cnnbuild.hookimpl
        def old_hook(self, register):
            pass

    with pytest.warns(DeprecationWarning, match=r"hook old_hook\(register\) is deprecated since cnnbuild plugin API 1.3 .*use the hook new_hook"):
        pm.register(Plugin())
    assert hookspecs.register_layers.cnnbuild_spec["warn_on_impl"] is None  # no current hook is deprecated
