"""Rewrite model directories' cards in format 2 (the graphs' computation untouched).

    python scripts/upgrade_cards.py [MODEL_DIR ...]      (default: every bundled model)

A format-1 card (the first MNIST exports) is read as the format-2 card it means
(:mod:`aeinfer.card_v1`) and written back with :func:`aeinfer.export.rewrite.rewrite_card`:
every graph of every precision gets that card in its metadata_props (the only bytes that
change), the card records the graphs' new sha256, and ``fixtures.json`` is written beside it.
Needs ``aeinfer[train]`` (the onnx package).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from aeinfer.card import CARD_FILE, read_card
from aeinfer.export.rewrite import rewrite_card
from aeinfer.zoo import MODELS_DIR, bundled_names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="*", type=Path)
    args = parser.parse_args()
    for directory in args.dirs or [MODELS_DIR / name for name in bundled_names()]:
        raw = json.loads((directory / CARD_FILE).read_text(encoding="utf-8"))
        if raw.get("format_version") != 1:
            print(f"{directory}: already format {raw.get('format_version')}")
            continue
        rewrite_card(directory, read_card(directory).to_json())
        print(f"{directory}: upgraded to format 2")


if __name__ == "__main__":
    main()
