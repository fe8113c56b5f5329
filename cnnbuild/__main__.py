"""``python -m cnnbuild`` runs the command line."""

from cnnbuild.cli import main

main()
