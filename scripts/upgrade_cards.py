"""Rewrite model directories' cards in format 2 (the graphs' computation untouched).

    python scripts/upgrade_cards.py [MODEL_DIR ...]      (default: every bundled model)

A format-1 card (the first MNIST exports) is read as the format-2 card it means
(:mod:`aeinfer.card_v1`); each graph of every precision gets that card in its metadata_props
(the only bytes that change; the graph itself is the same), the card records the graphs' new
sha256, and ``fixtures.json`` is written beside it (:mod:`aeinfer.export.fixtures`). Each
directory is rebuilt in a temporary sibling and swapped into place. Needs ``aeinfer[train]``
(the onnx package); a directory already in format 2 only gets its fixtures rewritten.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

import onnx

from aeinfer.card import CARD_FILE, METADATA_PREFIX, PRECISIONS, ROLES, read_card, sha256_file
from aeinfer.export.fixtures import write_fixtures
from aeinfer.export.onnx_export import FIXTURES_FILE, stamp, swap_into_place
from aeinfer.zoo import MODELS_DIR, bundled_names


def upgrade(directory: Path) -> str:
    """Rewrite ``directory`` in format 2; returns what was done."""
    raw = json.loads((directory / CARD_FILE).read_text(encoding="utf-8"))
    card = read_card(directory)  # validates, mapping format 1
    data = card.to_json()
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        shutil.copytree(directory, staging, dirs_exist_ok=True)
        staging.chmod(directory.stat().st_mode & 0o777)
        if raw.get("format_version") == 1:
            for precision in PRECISIONS:
                if precision not in data["graphs"]:
                    continue
                for role in ROLES:
                    path = staging / data["graphs"][precision][role]["file"]
                    proto = onnx.load_model(path)
                    extra = (
                        {}
                        if precision == "fp32"
                        else {f"{METADATA_PREFIX}precision": json.dumps(precision)}
                    )
                    stamp(proto, data, role, extra)
                    onnx.save_model(proto, path, save_as_external_data=False)
                    entry = data["graphs"][precision][role]
                    entry.update(sha256=sha256_file(path), bytes=path.stat().st_size)
            (staging / CARD_FILE).write_text(
                json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
            )
        write_fixtures(read_card(staging), staging / FIXTURES_FILE)
        swap_into_place(staging, directory)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return "upgraded to format 2" if raw.get("format_version") == 1 else "fixtures rewritten"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="*", type=Path)
    args = parser.parse_args()
    for directory in args.dirs or [MODELS_DIR / name for name in bundled_names()]:
        print(f"{directory}: {upgrade(directory)}")


if __name__ == "__main__":
    main()
