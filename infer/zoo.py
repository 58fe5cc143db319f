"""Bundled models: the model directories shipped inside the package, found by name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aeinfer.errors import ModelNotFoundError
from aeinfer.metadata import CARD_FILE, Card, read_card

MODELS_DIR = Path(__file__).resolve().parent / "models"

# Default models of the commands, defined once. A command whose preferred model is not bundled
# falls back to the first bundled model (see :func:`default_model`); the generative commands
# need a variational model and keep theirs.
DENOISE_MODEL = "denoise"
RECONSTRUCT_MODEL = "conv"
VARIATIONAL_MODEL = "vae"


def bundled_names() -> list[str]:
    """Names of the bundled models (directories holding a card), sorted. Hidden directories
    are an export's staging copies (see aeinfer.export), never models."""
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


def resolve(name_or_path: str | Path) -> Path:
    """A bundled model's name, or a path to a model directory, → that directory."""
    candidate = Path(name_or_path)
    if isinstance(name_or_path, Path) or candidate.is_dir() or len(candidate.parts) > 1:
        if not candidate.is_dir():
            raise ModelNotFoundError(f"{candidate}: no such model directory")
        return candidate.resolve()
    if str(name_or_path) in bundled_names():
        return MODELS_DIR / str(name_or_path)
    names = ", ".join(bundled_names()) or "none"
    raise ModelNotFoundError(
        f"unknown model {str(name_or_path)!r}; bundled models: {names} (or pass a model directory)"
    )


def summary(card: Card) -> dict[str, Any]:
    """The short description ``aeinfer models`` lists for a model."""
    return {
        "name": card.name,
        "family": card.family,
        "path": str(card.directory),
        "latent_shape": list(card.latent_shape),
        "latent_kind": card.latent_kind,
        "input_layout": card.layout,
        "description": card.data.get("description", ""),
        "metrics": card.metrics,
        "precisions": list(card.precisions),
    }


def list_models() -> list[dict[str, Any]]:
    """Summaries of every bundled model (read from the cards; no ONNX Runtime needed)."""
    return [summary(read_card(MODELS_DIR / name)) for name in bundled_names()]
