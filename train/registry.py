"""The one registry of model families: a literal mapping from family name to module.

A family is tested the moment it is added here (tests parametrize over ``FAMILIES``).
"""

from __future__ import annotations

from types import ModuleType

from aeinfer.errors import UnknownFamilyError
from aeinfer.train.families import conv, convt, deep, denoise, dense, lstm, photo, sparse, vae

FAMILIES: dict[str, ModuleType] = {
    "dense": dense,
    "sparse": sparse,
    "deep": deep,
    "conv": conv,
    "denoise": denoise,
    "lstm": lstm,
    "vae": vae,
    "convt": convt,
    "photo": photo,
}


def get_family(name: str) -> ModuleType:
    """The module of family ``name``; an unknown name lists the valid ones."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise UnknownFamilyError(
            f"unknown model family {name!r}; valid families: {', '.join(FAMILIES)}"
        ) from None
