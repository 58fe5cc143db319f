"""Optional dependencies, imported when a feature needs them, with one line naming the extra.

The base package stays light (numpy, Pillow, Typer); a feature that needs more (Ray Data for
``--ray``, pyarrow for codes tables) imports it through :func:`require`, which raises
:class:`~aeinfer.errors.RuntimeMissingError` saying what to install instead of an ImportError.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from aeinfer.errors import RuntimeMissingError


def require(name: str, hint: str, *also: str) -> ModuleType:
    """The module ``name`` (after importing the submodules ``also``), or RuntimeMissingError
    with ``hint``."""
    try:
        for extra in also:
            importlib.import_module(extra)
        return importlib.import_module(name)
    except ImportError as exc:
        raise RuntimeMissingError(hint) from exc


__all__ = ["require"]
