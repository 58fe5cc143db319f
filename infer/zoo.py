"""Bundled models: the model directories shipped inside the package, found by name.

The rule that tells a bundled model's name from a model directory is one, for the command line
and the API alike: a **bare name** (no path separator, not ``.`` or ``~``-prefixed) is a bundled
model, whatever folders the working directory holds; anything else — ``./mine``,
``models/mine``, ``/abs/path``, ``~/mine``, or a :class:`pathlib.Path` — is a model directory.
So an empty folder named ``denoise`` never hides the bundled ``denoise``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from aeinfer.errors import ModelNotFoundError
from aeinfer.names import CARD_FILE

# The card module is imported inside the functions that read cards: the command line imports
# this module for its default names, and must stay quick to start.

MODELS_DIR = Path(__file__).resolve().parent / "models"

# Default models of the commands, defined once. A command whose preferred model is not bundled
# falls back to the first bundled model (see :func:`default_model`); the generative commands
# need a variational model and keep theirs.
DENOISE_MODEL = "denoise"
PHOTO_MODEL = "photo"
AUTO = "auto"
"""``aeinfer denoise``'s default: each input's own model — the digit denoiser when its domain
check says the input is one digit on plain paper, else the photo denoiser."""
RECONSTRUCT_MODEL = "conv"
VARIATIONAL_MODEL = "vae"


def bundled_names() -> list[str]:
    """Names of the bundled models (directories holding a card), sorted. Hidden directories
    are an export's staging copies, never models."""
    if not MODELS_DIR.is_dir():
        return []
    return sorted(
        p.name
        for p in MODELS_DIR.iterdir()
        if not p.name.startswith(".") and (p / CARD_FILE).is_file()
    )


def default_model(preferred: str) -> str:
    """``preferred`` if it is bundled, else the first bundled model (else ``preferred``, which
    then fails to resolve with the list of what is bundled)."""
    names = bundled_names()
    if preferred in names or not names:
        return preferred
    return names[0]


def is_path(name_or_path: str | Path) -> bool:
    """Whether ``name_or_path`` names a model directory rather than a bundled model."""
    if isinstance(name_or_path, Path):
        return True
    text = str(name_or_path)
    separators = {"/", os.sep} | ({os.altsep} if os.altsep else set())
    return any(sep in text for sep in separators) or text.startswith((".", "~"))


def resolve(name_or_path: str | Path) -> Path:
    """A bundled model's name, or a path to a model directory, → that directory."""
    if is_path(name_or_path):
        candidate = Path(name_or_path).expanduser()
        if not candidate.is_dir():
            raise ModelNotFoundError(f"{candidate}: no such model directory")
        return candidate.resolve()
    name = str(name_or_path)
    if name in bundled_names():
        return MODELS_DIR / name
    names = ", ".join(bundled_names()) or "none"
    hint = (
        f"; to use the folder {name!r} here, write ./{name}"
        if Path(name).is_dir()
        else " (or pass a model directory as a path, e.g. ./mine)"
    )
    raise ModelNotFoundError(f"unknown model {name!r}; bundled models: {names}{hint}")


def list_models() -> list[dict[str, Any]]:
    """Summaries of every bundled model (read from the cards; no ONNX Runtime needed)."""
    from aeinfer.card import read_card

    return [read_card(MODELS_DIR / name).summary() for name in bundled_names()]
