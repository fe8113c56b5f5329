"""Run the real ``cnnbuild`` command in a subprocess where TensorFlow, Keras and JAX cannot be imported."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

#: a blocking finder first on sys.meta_path, then the real CLI entry point
WRAPPER = """
import sys

class Blocked:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "keras", "tf_keras", "jax"):
            raise ImportError(f"{name} is blocked in this test")
        return None

sys.meta_path.insert(0, Blocked())
sys.argv[0] = "cnnbuild"
from cnnbuild.cli.main import main
main()
"""


def command(*args: str) -> list[str]:
    """``cnnbuild ARGS`` as a command line whose process cannot import TensorFlow."""
    return [sys.executable, "-c", WRAPPER, *args]


def run(*args: str, cwd: Path | None = None, timeout: float = 120, **options: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command(*args), cwd=cwd, env={**os.environ, **options.pop("env", {})}, capture_output=True, text=True, timeout=timeout, **options)
