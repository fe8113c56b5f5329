"""How cnnbuild starts a Python child process (a supervised run, a sweep worker).

``python -m`` puts the current folder first on ``sys.path``, so started from the folder that holds
a checkout (``cd parent && cnnbuild run cnnbuild/examples/digits.yaml``) the child would import
the checkout's ``cnnbuild/`` folder instead of the installed package. ``-P`` (Python 3.11's safe
path) leaves the current folder out; ``PYTHONPATH`` and the environment still apply.

The other way round, a parent that imported cnnbuild from that very folder (``python -m cnnbuild``
inside a checkout that is not installed, or not the one installed) gives the child that folder on
``PYTHONPATH`` (:func:`child_environment`), so parent and child always run the same code.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path


def python_module_command(module: str, *args: str) -> list[str]:
    """The command line that runs ``python -m module args`` with this interpreter, the current folder not on its path."""
    return [sys.executable, "-P", "-m", module, *args]


def child_environment(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` for a child started with :func:`python_module_command`: where this process imported
    cnnbuild from the folder ``-P`` leaves out (the script's folder, or the current one for ``-m``
    and ``-c``), that folder is put first on the child's ``PYTHONPATH``."""
    child = dict(env)
    if sys.flags.safe_path or not sys.path:
        return child  # this process left that folder out too: the child imports what it imported
    left_out = Path(sys.path[0] or os.getcwd()).resolve()
    root = Path(__file__).parents[2].resolve()  # the folder holding this cnnbuild/ package
    if root == left_out:
        child["PYTHONPATH"] = os.pathsep.join([str(root), *([child["PYTHONPATH"]] if child.get("PYTHONPATH") else [])])
    return child
