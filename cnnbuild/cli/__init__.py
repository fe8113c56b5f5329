"""The ``cnnbuild`` command line: parse arguments, call the library, turn errors into messages and exit codes.

One module per group of commands (``spec_commands``, ``run_commands``, ``result_commands``);
``main`` holds the group, plugin commands and what reaches the terminal.
"""

from __future__ import annotations

from cnnbuild.cli.main import cli, console_main, main
from cnnbuild.cli.run_commands import format_run_summary

__all__ = ["cli", "console_main", "format_run_summary", "main"]
