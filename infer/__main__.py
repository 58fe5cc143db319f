"""``python -m aeinfer`` runs the command line."""

from aeinfer.cli import main

main()
