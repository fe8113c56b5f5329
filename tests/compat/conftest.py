"""The compatibility suite's frozen plugin packages are installed for its subprocesses only, and
never collected as tests of this repository (their own tests run inside test_compat.py)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

collect_ignore_glob = ["plugin-api-*"]


def install_package(site: Path, package: Path) -> Path:
    """Make the package at ``package`` (a pyproject.toml and a ``src`` folder) an installed
    distribution for processes with ``site`` and the returned ``src`` folder on PYTHONPATH: a
    dist-info folder in ``site`` carries its name, version and entry points, as pip would write it,
    so cnnbuild finds the plugin through ``importlib.metadata`` like any installed one."""
    project = tomllib.loads((package / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    name, version = project["name"], project["version"]
    info = site / f"{re.sub(r'[-_.]+', '_', name)}-{version}.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8")
    groups = project.get("entry-points", {})
    text = "".join(f"[{group}]\n" + "".join(f"{key} = {value}\n" for key, value in entries.items()) + "\n" for group, entries in groups.items())
    (info / "entry_points.txt").write_text(text, encoding="utf-8")
    return package / "src"
