"""The ``cnnbuild`` command group: plugin commands, error handling, what reaches the terminal."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import click

from cnnbuild.cli import export_commands, result_commands, run_commands, spec_commands, sweep_commands
from cnnbuild.cli.common import reported_errors
from cnnbuild.runs.tracebacks import DEBUG_ENV

# TensorFlow's C++ start-up chatter hides what cnnbuild says; users can set it back.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


class _Console(logging.Handler):
    """The library's log records on the terminal: information on standard output, warnings on standard error.

    Progress records (``cnnbuild.data.progress``) are shown only by commands that ask
    (:func:`show_progress`): on a terminal as one line rewritten in place, otherwise as each step's first line.
    """

    progress = False
    _open = False  # a progress line is on the terminal without its newline yet

    def emit(self, record: logging.LogRecord) -> None:
        try:
            counts = getattr(record, "progress", None)
            if counts is not None:
                self._progress(counts)
                return
            if self._open:
                click.echo("")
                self._open = False
            click.echo(self.format(record), err=record.levelno >= logging.WARNING)
        except Exception:  # a closed pipe must not turn a message into a traceback
            self.handleError(record)

    def _progress(self, counts: Any) -> None:
        if not self.progress:
            return
        if not sys.stdout.isatty():
            if counts.done == 0 and not counts.finished:
                click.echo(counts.first_line())
            return
        click.echo("\r\033[K" + counts.line(), nl=False)
        self._open = not counts.finished
        if counts.finished:
            click.echo("")


def show_progress() -> None:
    """Show the library's progress records (long start-up work) from now on, in this process."""
    for handler in logging.getLogger("cnnbuild").handlers:
        if isinstance(handler, _Console):
            handler.progress = True


def show_library_messages() -> None:
    """Let the ``cnnbuild`` logger's INFO and above reach the terminal (once per process)."""
    logger = logging.getLogger("cnnbuild")
    if not any(isinstance(handler, _Console) for handler in logger.handlers):
        logger.addHandler(_Console())
    logger.setLevel(logging.INFO)
    logger.propagate = False


#: Words people type for a command from other tools, and the command that does it here.
COMMAND_ALIASES = {"train": "run", "fit": "run", "test": "evaluate", "eval": "evaluate", "infer": "predict", "inference": "predict", "check": "validate"}


def command_hint(name: str, commands: list[str]) -> str:
    """``; did you mean 'run'?`` for a misspelt command or another tool's word for one, else ``.``."""
    import difflib

    words = {command: command for command in commands} | {alias: command for alias, command in COMMAND_ALIASES.items() if command in commands}
    close = difflib.get_close_matches(name.lower(), list(words), n=1, cutoff=0.75)
    if not close:
        return ". See cnnbuild --help for the commands."
    return f"; did you mean {words[close[0]]!r}? (cnnbuild {words[close[0]]} --help says what it does)"


class Commands(click.Group):
    """Adds plugin commands (``register_commands``) the first time commands are listed or looked up."""

    _plugins_added = False

    def add_plugin_commands(self) -> None:
        """Call every plugin's ``register_commands`` once (a failing one leaves none of its commands)."""
        if self._plugins_added:
            return
        self._plugins_added = True
        from cnnbuild.plugins.manager import get_plugin_manager, get_registry, hook_for, implements, plugin_info

        pm = get_plugin_manager()
        registry = get_registry()
        for plugin in pm.get_plugins():
            info = plugin_info(plugin)
            if info.name in registry.failed_plugins or not implements(pm, "register_commands", plugin):
                continue  # all of a plugin or none of it
            before = dict(self.commands)
            try:
                hook_for(pm, "register_commands", plugin)(cli=self)
            except Exception as exc:  # one broken plugin must not take the CLI down, nor leave half its commands
                self.commands = before
                click.echo(f"warning: {info.describe()} failed to add commands: {type(exc).__name__}: {exc}", err=True)
                continue
            added = [name for name in self.commands if name not in before]
            if added:
                registry.commands[info.name] = added

    def invoke(self, ctx: click.Context) -> object:
        show_library_messages()  # before the command is looked up: looking up a plugin's command loads the plugins
        with reported_errors():  # every command, plugin commands included: a bug says so and where its traceback is
            return super().invoke(ctx)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self.add_plugin_commands()
        return super().list_commands(ctx)

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        if name and not name.startswith("-") and not ctx.resilient_parsing and self.get_command(ctx, name) is None:
            ctx.fail(f"No such command {name!r}{command_hint(name, self.list_commands(ctx))}")
        return super().resolve_command(ctx, args)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        if command is None:
            self.add_plugin_commands()
            command = super().get_command(ctx, name)
        return command


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="cnnbuild")
@click.option("--debug", is_flag=True, help=f"Print the whole chained traceback of every error (also: {DEBUG_ENV}=1).")
def cli(debug: bool) -> None:
    """Describe a convolutional image classifier in YAML, validate it, train it."""
    if debug:
        os.environ[DEBUG_ENV] = "1"  # processes cnnbuild starts (a supervised run, sweep workers) inherit it
    show_library_messages()


for _module in (spec_commands, run_commands, sweep_commands, result_commands, export_commands):
    for _command in _module.COMMANDS:
        cli.add_command(_command)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``cnnbuild`` console script."""
    import sys
    import warnings

    run_commands.COMMAND_LINE[:] = list(sys.argv[1:] if argv is None else argv)  # what a supervised `run` starts its child with

    # Keras warns about arguments cnnbuild passes on purpose; keep the output for what matters.
    warnings.filterwarnings("ignore", message=".*shuffle=True. was passed.*")
    warnings.filterwarnings("ignore", message=".*Your input ran out of data.*")
    # A plugin using a deprecated name of the plugin API is told so (Python hides DeprecationWarning outside __main__).
    warnings.filterwarnings("default", category=DeprecationWarning, message=".*deprecated since cnnbuild plugin API")
    show_library_messages()  # plugin failures found while --help lists the commands are shown too
    cli.main(args=argv, prog_name="cnnbuild")


def console_main() -> None:
    """Entry point of the ``cnnbuild`` console script and ``python -m cnnbuild``: :func:`main`, then
    leaving the process without the interpreter's slow teardown where that is safe
    (:mod:`cnnbuild.cli.process_exit`). Code that calls :func:`main` in its own process keeps it."""
    from cnnbuild.cli.process_exit import leave
    from cnnbuild.data.native import command_process

    command_process()  # TensorFlow imported the fast way: without the integrations no command uses, nor garbage collections
    try:
        main()
    except SystemExit as finished:
        leave(finished.code)
        raise
