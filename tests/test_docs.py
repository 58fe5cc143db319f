"""The documentation that is generated stays generated: docs/card.md is what the card's own
dataclasses say (the card's fields are documented once, where they are defined)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_card_reference_is_up_to_date() -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "card_docs.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_card_reference_names_every_field_and_adapter_parameter() -> None:
    import dataclasses

    from aeinfer.adapters import ADAPTERS
    from aeinfer.card import DOCUMENTED

    text = (REPO / "docs" / "card.md").read_text(encoding="utf-8")
    for cls in DOCUMENTED:
        for field in dataclasses.fields(cls):
            if not field.metadata.get("internal"):
                assert f"| `{field.name}` |" in text, (cls.__name__, field.name)
    for adapter in ADAPTERS.values():
        for field in dataclasses.fields(adapter.Params):
            assert f"| `{field.name}` |" in text, (adapter.name, field.name)
