"""Meta-tests: every hook has a test and is documented in the README's plugin guide."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _hooks() -> list[ast.FunctionDef]:
    tree = ast.parse((REPO / "cnnbuild" / "plugins" / "hookspecs.py").read_text())
    return [node for node in tree.body if isinstance(node, ast.FunctionDef)]


def test_every_hook_is_tested():
    tests_text = "".join(p.read_text() for p in (REPO / "tests").rglob("*.py") if p.name != Path(__file__).name)
    for hook in _hooks():
        assert f"def {hook.name}(" in tests_text, f"no test implements hook {hook.name}"


def test_every_hook_signature_is_documented():
    readme = (REPO / "README.md").read_text()
    hooks = _hooks()
    assert len(hooks) == 6
    for hook in hooks:
        signature = f"{hook.name}({', '.join(a.arg for a in hook.args.args)})"
        assert signature in readme, f"README does not document {signature}"
