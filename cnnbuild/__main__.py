"""``python -m cnnbuild`` runs the command line."""

from cnnbuild.cli import console_main

console_main()
