"""How cnnbuild starts a Python child process (a supervised run, a sweep worker).

``python -m`` puts the current folder first on ``sys.path``, so started from the folder that holds
a checkout (``cd parent && cnnbuild run cnnbuild/examples/digits.yaml``) the child would import
the checkout's ``cnnbuild/`` folder instead of the installed package. ``-P`` (Python 3.11's safe
path) leaves the current folder out; ``PYTHONPATH`` and the environment still apply.
"""

from __future__ import annotations

import sys


def python_module_command(module: str, *args: str) -> list[str]:
    """The command line that runs ``python -m module args`` with this interpreter, the current folder not on its path."""
    return [sys.executable, "-P", "-m", module, *args]
