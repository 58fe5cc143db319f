"""Rewriting a model directory's card in place: every graph re-stamped, checksums, fixtures.

The card lives in ``card.json`` and, without its graph files, in every graph's
``metadata_props`` (so a graph copied alone still says what it is). Changing the card — an
upgrade from format 1, a calibrated domain check, new preparation parameters — therefore means
stamping every graph of every precision again (the graphs' computation is untouched), recording
their new sha256, and writing ``fixtures.json`` for the new preparation. The directory is rebuilt
in a temporary sibling and swapped into place, so it is never half-written.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import onnx

from aeinfer.card import (
    CARD_FILE,
    FP32,
    METADATA_PREFIX,
    ROLES,
    Card,
    parse_card,
    read_card,
    sha256_file,
)
from aeinfer.export.fixtures import write_fixtures
from aeinfer.export.onnx_export import FIXTURES_FILE, stamp, swap_into_place


def rewrite_card(directory: Path, card: Mapping[str, Any]) -> Card:
    """Give the model in ``directory`` the card ``card`` (format-2 JSON; its graph entries
    name the files); returns the card as written."""
    data = json.loads(json.dumps(card))
    parse_card(data, directory, f"{directory / CARD_FILE} (as rewritten)")
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        shutil.copytree(directory, staging, dirs_exist_ok=True)
        staging.chmod(directory.stat().st_mode & 0o777)
        for precision, entry in data["graphs"].items():
            for role in ROLES:
                path = staging / entry[role]["file"]
                proto = onnx.load_model(path)
                extra = (
                    {}
                    if precision == FP32
                    else {f"{METADATA_PREFIX}precision": json.dumps(precision)}
                )
                stamp(proto, data, role, extra)
                onnx.save_model(proto, path, save_as_external_data=False)
                entry[role].update(sha256=sha256_file(path), bytes=path.stat().st_size)
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
        (staging / CARD_FILE).write_text(text, encoding="utf-8")
        write_fixtures(read_card(staging), staging / FIXTURES_FILE)
        swap_into_place(staging, directory)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return read_card(directory)


__all__ = ["rewrite_card"]
