"""Which release of cnnbuild is running, for messages about what it can read."""

from __future__ import annotations


def installed_version() -> str:
    """The installed distribution's version ("unknown version" when cnnbuild runs from a source tree without metadata)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("cnnbuild")
    except PackageNotFoundError:
        return "unknown version"
