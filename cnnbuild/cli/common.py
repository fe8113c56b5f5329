"""What every command shares: user errors as one line and exit status 1."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

import click

from cnnbuild.errors import CnnbuildError


def errors_to_exit(command: Callable[..., Any]) -> Callable[..., Any]:
    """Print a user error's message (no traceback) and exit 1."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except CnnbuildError as exc:
            click.echo(str(exc), err=True)
            sys.exit(1)

    return wrapper

