"""What every command shares: user errors as one line and exit status 1, bugs as one line naming
the file that holds their traceback (exit status 70)."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

from cnnbuild.errors import CnnbuildError

#: The exit status of an unexpected exception, a bug (sysexits' EX_SOFTWARE); user errors exit 1.
BUG_EXIT = 70


@contextmanager
def reported_errors() -> Iterator[None]:
    """A user error: its message, exit 1. Any other exception: it is a bug; its chained traceback goes
    to a file (named in the message), exit 70. ``--debug`` prints the chained traceback of both."""
    from cnnbuild.runs.tracebacks import bug_message, debugging, save_traceback, traceback_text

    try:
        yield
    except CnnbuildError as exc:
        if debugging():
            click.echo(traceback_text(exc), err=True)
        click.echo(str(exc), err=True)
        sys.exit(1)
    except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
        raise  # click's own: usage errors, --help, Ctrl-C at a prompt
    except BrokenPipeError:  # whoever read the output stopped (`| head`): not a bug, nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the final flush does not fail again
        sys.exit(1)
    except Exception as exc:
        if debugging():
            click.echo(traceback_text(exc), err=True)
        click.echo(bug_message(exc, save_traceback(exc)), err=True)
        sys.exit(BUG_EXIT)


def errors_to_exit(command: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``command`` under :func:`reported_errors`."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with reported_errors():
            return command(*args, **kwargs)

    return wrapper

