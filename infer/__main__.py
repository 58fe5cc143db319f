"""``python -m aeinfer`` and the ``aeinfer`` command.

``aeinfer --version`` is answered here, before the command line framework is imported (Typer and
what it pulls in take most of that command's start-up); everything else is :mod:`aeinfer.cli`.
"""

from __future__ import annotations

import sys

from aeinfer import __version__

VERSION_ARGS = ["--version"]


def main() -> None:
    """Console-script entry point."""
    if sys.argv[1:] == VERSION_ARGS:
        print(f"aeinfer {__version__}")
        return
    from aeinfer.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
