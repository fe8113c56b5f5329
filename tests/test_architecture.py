"""The structure docs/architecture.md describes, kept true: layers, light imports, small modules."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "cnnbuild"
BELOW_BUILDER = ("contracts", "data", "plugins", "spec", "runs")
#: packages that never import TensorFlow, Keras or JAX at module level: those below the builder, and `cnnbuild init`'s
TENSORFLOW_FREE = (*BELOW_BUILDER, "starter")
MAX_MODULE_LINES = 300
MAX_CLASS_LINES = 150


def _modules(*packages: str) -> list[str]:
    names = []
    for package in packages:
        for path in sorted((PACKAGE / package).rglob("*.py")):
            parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def test_nothing_below_the_builder_imports_tensorflow_keras_or_jax_at_module_level() -> None:
    """Every module of contracts, data, plugins, spec, runs and starter imports with those three blocked,
    and loading the builtin plugins and validating a spec does not import them either."""
    code = f"""
import importlib, importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in ("tensorflow", "keras", "jax"):
            raise ImportError(f"{{name}} imported at module level")
sys.meta_path.insert(0, Block())
for module in {_modules(*TENSORFLOW_FREE)!r}:
    importlib.import_module(module)
import cnnbuild
from cnnbuild.plugins.manager import get_registry
from cnnbuild.spec import load_spec
get_registry()
load_spec({str(PACKAGE.parent / "examples" / "digits.yaml")!r})
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-3000:]


@pytest.mark.skipif(shutil.which("lint-imports", path=str(Path(sys.executable).parent)) is None, reason="import-linter is not installed (pip install -e '.[test]')")
def test_the_layer_contracts_in_pyproject_hold() -> None:
    """contracts -> data -> plugins -> spec -> runs -> builder -> cli, each importing only downwards."""
    done = subprocess.run([str(Path(sys.executable).parent / "lint-imports")], cwd=PACKAGE.parent, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0 and "0 broken" in done.stdout, done.stdout[-3000:] + done.stderr[-2000:]


def test_modules_and_classes_stay_small() -> None:
    """A module past about 300 lines, or a class past about 150, is a sign to split by responsibility."""
    too_long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > MAX_MODULE_LINES:
            too_long.append(f"{path.relative_to(PACKAGE.parent)}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef) and node.end_lineno - node.lineno + 1 > MAX_CLASS_LINES:
                too_long.append(f"{path.relative_to(PACKAGE.parent)}: class {node.name}: {node.end_lineno - node.lineno + 1} lines")
    assert not too_long, "\n".join(too_long)


def test_no_module_shadows_the_standard_library() -> None:
    shadowing = [str(path.relative_to(PACKAGE.parent)) for path in PACKAGE.rglob("*.py") if path.stem in sys.stdlib_module_names]
    assert not shadowing, shadowing
