"""The model card: what every model directory says about itself.

A model directory holds ``encoder.onnx``, ``decoder.onnx`` and ``card.json``, and optionally
reduced-precision variants of both graphs (``encoder.int8.onnx``, ``decoder.fp16.onnx``, …) that
the card lists under ``variants`` with their measured quality cost and speed (those entries are
in the card only: the fp32 graphs are final before the variants are made from them; a variant
graph carries the fp32 graph's metadata plus ``aeinfer.precision``). The same facts are
written into both graphs' ``metadata_props`` under the ``aeinfer.`` prefix, so a graph copied on
its own still says what it is. Nothing is ever inferred from a file name. This module is shared
by the exporter (which writes cards) and the runtime (which reads them); it needs only the
standard library.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aeinfer.errors import ModelIntegrityError, ModelNotFoundError

CARD_FILE = "card.json"
ENCODER_FILE = "encoder.onnx"
DECODER_FILE = "decoder.onnx"
GRAPH_FILES = (ENCODER_FILE, DECODER_FILE)
CARD_FORMAT_VERSION = 1
ROLES = ("encoder", "decoder")

# Numeric precisions a model may ship in. fp32 is the exported graph pair itself; the others
# are variants derived from it at export (see aeinfer.export.variants).
FP32 = "fp32"
FP16 = "fp16"
INT8 = "int8"
PRECISIONS = (FP32, FP16, INT8)
METADATA_PREFIX = "aeinfer."

# Tensor names shared by every exported graph.
IMAGE_NAME = "image"
LATENT_NAME = "latent"
MEAN_NAME = "mean"
LOGVAR_NAME = "logvar"

# Input layouts a family may use inside its graphs; the runtime converts (N, 28, 28) to these.
LAYOUT_FLAT = "flat"  # (N, H*W)
LAYOUT_IMAGE = "image"  # (N, 1, H, W), NCHW
LAYOUT_SEQUENCE = "sequence"  # (N, H, W): image rows as time steps
LAYOUTS = (LAYOUT_FLAT, LAYOUT_IMAGE, LAYOUT_SEQUENCE)

# Latent kinds: a plain code, or a diagonal Gaussian (mean, logvar) for variational models.
LATENT_DETERMINISTIC = "deterministic"
LATENT_GAUSSIAN = "gaussian"


def graph_file(role: str, precision: str = FP32) -> str:
    """File name of the ``role`` (encoder/decoder) graph in ``precision``: ``encoder.onnx`` for
    fp32, ``encoder.int8.onnx`` for a variant."""
    return f"{role}.onnx" if precision == FP32 else f"{role}.{precision}.onnx"


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class Card:
    """A parsed, validated model card (``card.json``)."""

    directory: Path
    data: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.data["name"])

    @property
    def family(self) -> str:
        return str(self.data["family"])

    @property
    def layout(self) -> str:
        return str(self.data["input"]["layout"])

    @property
    def image_shape(self) -> tuple[int, int]:
        height, width = self.data["input"]["image_size"]
        return int(height), int(width)

    @property
    def latent_shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.data["latent"]["shape"])

    @property
    def latent_kind(self) -> str:
        return str(self.data["latent"]["kind"])

    @property
    def metrics(self) -> dict[str, Any]:
        return dict(self.data.get("metrics", {}))

    @property
    def precisions(self) -> tuple[str, ...]:
        """Precisions this model ships in: fp32 and any variants, in PRECISIONS order."""
        variants = self.data.get("variants", {})
        return tuple(p for p in PRECISIONS if p == FP32 or p in variants)

    def graph_path(self, file_name: str) -> Path:
        return self.directory / file_name

    def verify_checksums(self) -> None:
        """Raise ModelIntegrityError if a graph's bytes differ from the card's sha256."""
        files = self.data.get("files", {})
        variant_files = [graph_file(r, p) for p in self.precisions[1:] for r in ROLES]
        for file_name in (*GRAPH_FILES, *variant_files):
            path = self.directory / file_name
            expected = files.get(file_name, {}).get("sha256")
            if expected is None:
                raise ModelIntegrityError(
                    f"{self.directory / CARD_FILE}: no sha256 for {file_name}"
                )
            actual = sha256_file(path)
            if actual != expected:
                raise ModelIntegrityError(
                    f"{path}: sha256 {actual[:12]}… does not match the card's {expected[:12]}… "
                    "(file truncated or modified)"
                )


REQUIRED_KEYS = ("name", "family", "input", "latent", "files")


def read_card(directory: Path) -> Card:
    """Read and validate ``card.json`` in a model directory, checking both graphs exist."""
    if not directory.is_dir():
        raise ModelNotFoundError(f"{directory}: not a model directory")
    card_path = directory / CARD_FILE
    if not card_path.is_file():
        raise ModelNotFoundError(f"{card_path}: model card missing")
    try:
        data = json.loads(card_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelIntegrityError(f"{card_path}: unreadable model card ({exc})") from exc
    if not isinstance(data, dict) or any(key not in data for key in REQUIRED_KEYS):
        raise ModelIntegrityError(
            f"{card_path}: model card lacks one of the keys {', '.join(REQUIRED_KEYS)}"
        )
    for file_name in GRAPH_FILES:
        if not (directory / file_name).is_file():
            raise ModelNotFoundError(f"{directory / file_name}: graph missing from model directory")
    return Card(directory=directory, data=data)


def card_to_metadata_props(card: dict[str, Any], role: str) -> dict[str, str]:
    """Flatten a card into string metadata_props for one graph (``role`` is encoder/decoder).

    File checksums are left out: a file cannot carry its own hash. The card holds them.
    """
    props = {
        f"{METADATA_PREFIX}{key}": json.dumps(value, sort_keys=True)
        for key, value in card.items()
        if key != "files"
    }
    props[f"{METADATA_PREFIX}role"] = json.dumps(role)
    return props


def metadata_props_to_card(props: dict[str, str]) -> dict[str, Any]:
    """Inverse of :func:`card_to_metadata_props` (minus ``role``)."""
    card: dict[str, Any] = {}
    for key, value in props.items():
        if not key.startswith(METADATA_PREFIX):
            continue
        short = key[len(METADATA_PREFIX) :]
        if short == "role":
            continue
        try:
            card[short] = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ModelIntegrityError(f"graph metadata {key!r} is not JSON") from exc
    return card
