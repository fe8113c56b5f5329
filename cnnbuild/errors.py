"""Exceptions a user can cause; the CLI prints their message and exits non-zero."""

from __future__ import annotations


class CnnbuildError(Exception):
    """An error the user can act on. ``str(error)`` is the whole message, no traceback needed."""


class DataError(CnnbuildError):
    """The data a spec points at cannot be used (missing folder, no images, bad archive, ...)."""


class DataNotFound(DataError):
    """The data a spec points at is not there (yet): a folder or file that does not exist."""


class PluginError(CnnbuildError):
    """A plugin failed to load, raised inside a hook, or registered something invalid."""


class RunError(CnnbuildError):
    """A training run cannot start, continue or be written."""


class ExportError(CnnbuildError):
    """A model cannot be exported, its export failed the parity check, or an exported model cannot be used."""


class MissingPackageError(CnnbuildError):
    """An optional package a command needs is not installed; the message gives the pip command."""
