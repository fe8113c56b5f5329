"""Meta-tests: every hook has a test, and docs/plugins.md documents every hook, every registration
option and every field of every value a hook is given or returns (datasette keeps the same two)."""

from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path

import cnnbuild
from cnnbuild.plugins.kinds import KINDS

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs" / "plugins.md"


def _hooks() -> list[ast.FunctionDef]:
    tree = ast.parse((REPO / "cnnbuild" / "plugins" / "hookspecs.py").read_text())
    return [node for node in tree.body if isinstance(node, ast.FunctionDef)]


def _section(heading: str) -> str:
    """The text of docs/plugins.md under the heading that starts with ``heading``, up to the next heading of its level or above."""
    text = DOCS.read_text()
    match = re.search(rf"^(#+) {re.escape(heading)}.*?$", text, re.MULTILINE)
    assert match, f"docs/plugins.md has no heading {heading!r}"
    level = len(match.group(1))
    rest = text[match.end() :]
    end = re.search(rf"^#{{1,{level}}} ", rest, re.MULTILINE)
    return rest[: end.start()] if end else rest


def test_every_hook_is_tested():
    tests_text = "".join(p.read_text() for p in (REPO / "tests").rglob("*.py") if p.name != Path(__file__).name)
    for hook in _hooks():
        assert f"def {hook.name}(" in tests_text, f"no test implements hook {hook.name}"


def test_every_hook_has_a_section_with_its_signature():
    for hook in _hooks():
        signature = f"{hook.name}({', '.join(a.arg for a in hook.args.args)})"
        body = _section(f"`{signature}`")
        assert "**When:**" in body and "**Returns:**" in body, f"docs/plugins.md: {signature} must say when it is called and what it returns"


def test_every_registration_option_is_documented_with_its_hook():
    for kind in KINDS:
        hook = next(h for h in _hooks() if h.name == kind.hook)
        body = _section(f"`{hook.name}(")
        for option in kind.options:
            assert f"{option}=" in body or f"`{option}`" in body, f"docs/plugins.md: {kind.hook} does not document the option {option!r}"


def test_every_public_contract_field_is_documented():
    models = {"cnnbuild.DataParams": cnnbuild.DataParams, "cnnbuild.Params": cnnbuild.Params}
    dataclass_types = {"cnnbuild.DataContext": cnnbuild.DataContext, "cnnbuild.Datasets": cnnbuild.Datasets, "cnnbuild.SkippedFile": cnnbuild.SkippedFile, "cnnbuild.CallbackContext": cnnbuild.CallbackContext}
    for name, model in models.items():
        body = _section(f"`{name}`")
        for field in model.model_fields:
            assert f"`{field}`" in body, f"docs/plugins.md: {name}.{field} is not documented"
    for name, kind in dataclass_types.items():
        body = _section(f"`{name}`")
        for field in dataclasses.fields(kind):
            assert f"`{field.name}`" in body, f"docs/plugins.md: {name}.{field.name} is not documented"
        for method in [m for m in vars(kind) if not m.startswith("_") and callable(getattr(kind, m))]:
            assert f"`{method}(" in body, f"docs/plugins.md: {name}.{method}() is not documented"
    layer_shape = _section("`cnnbuild.LayerShape`")
    for field in cnnbuild.LayerShape._fields:
        assert f"`{field}`" in layer_shape, f"docs/plugins.md: LayerShape.{field} is not documented"


def test_the_public_api_named_in_the_docs_exists():
    text = DOCS.read_text()
    for name in set(re.findall(r"`cnnbuild\.([A-Za-z_]+)", text)):
        if name not in ("testing", "contracts", "data"):
            assert hasattr(cnnbuild, name), f"docs/plugins.md names cnnbuild.{name}, which does not exist"
    assert "docs/plugins.md" in (REPO / "README.md").read_text()
