"""Children (the supervised run, sweep workers) run the same cnnbuild as the process that starts them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cnnbuild
from cnnbuild.builder.child_process import child_environment, python_module_command

from ..conftest import beside_a_checkout

PACKAGE = Path(cnnbuild.__file__).parent

PARENT = """\
import os, subprocess, cnnbuild
from cnnbuild.builder.child_process import child_environment, python_module_command
python, safe_path = python_module_command("cnnbuild")[:2]
child = subprocess.run([python, safe_path, "-c", "import cnnbuild; print(cnnbuild.__file__)"], env=child_environment(os.environ), capture_output=True, text=True)
print(cnnbuild.__file__)
print(child.stdout.strip() or child.stderr.strip().splitlines()[-1])
"""


def test_a_child_of_python_m_cnnbuild_in_a_checkout_imports_that_checkout(tmp_path):
    """`python -m cnnbuild run ...` inside a checkout that is not the installed cnnbuild: with -P alone
    the training child would import the installed package (or none), not the code the parent runs."""
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / "cnnbuild").symlink_to(PACKAGE, target_is_directory=True)
    env = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    result = subprocess.run([sys.executable, "-c", PARENT], cwd=checkout, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    parent, child = result.stdout.splitlines()
    assert parent == str(checkout / "cnnbuild" / "__init__.py")
    assert child == parent


def test_the_folder_holding_a_checkout_stays_off_the_child_s_path(tmp_path, monkeypatch):
    """The parent imported cnnbuild from elsewhere (the installed package): the current folder, which
    may hold a clone's cnnbuild/, is not added."""
    folder = beside_a_checkout(tmp_path / "parent")
    monkeypatch.setattr(sys, "path", [str(folder), *sys.path[1:]])
    env = child_environment({"PYTHONPATH": "/elsewhere", "HOME": "/home/x"})
    assert env == {"PYTHONPATH": "/elsewhere", "HOME": "/home/x"}
    assert python_module_command("cnnbuild.sweep", "x")[1:3] == ["-P", "-m"]
