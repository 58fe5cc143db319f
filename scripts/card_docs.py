"""Write docs/card.md, the model card reference, from the card's own dataclasses.

    python scripts/card_docs.py            (rewrites docs/card.md)
    python scripts/card_docs.py --check    (exit 1 if docs/card.md is not what this writes)

Every field of the card (:mod:`aeinfer.card`) and every parameter of every preparation adapter
(:mod:`aeinfer.adapters`) carries its documentation where it is defined; this script only lays
it out, so the card's fields are documented once, in one place. A test runs ``--check``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aeinfer.adapters import ADAPTERS
from aeinfer.card import DOCUMENTED, FORMAT_VERSION, read_card
from aeinfer.zoo import MODELS_DIR

TARGET = Path(__file__).resolve().parents[1] / "docs" / "card.md"
EXAMPLE_MODEL = "conv"
LIST_SHOWN = 4

INTRO = f"""# The model card, format {FORMAT_VERSION}

Every model directory holds `card.json` beside its graphs. It is plain JSON, readable from any
language; aeinfer parses it once into frozen dataclasses (`aeinfer.card`) and checks it when a
model is loaded: every field's type, the card against itself (the graphs can hold the item, the
latent agrees with both graphs, tasks the latent allows) and against each graph's own inputs
and outputs (names, dtypes, ranks, fixed sizes, free axes). All problems are reported together.
The same card, without its graph files, is written into every graph's `metadata_props` under
`aeinfer.<field>`, so a graph copied alone still says what it is. Nothing is ever read from a
file name. Cards of format 1 (the first MNIST exports) are read as the format-2 card they mean.

This page is generated from the dataclasses' field documentation by
`python scripts/card_docs.py`; it is the one place the fields are described.
"""

ITEM_LAYOUT = """## How the graphs hold an item

An item is (channels, height, width) for an image, (channels, time) for a signal, in the data's
own units (pixels in [0, 1]). A batch of items is (N, *item). A graph may take the item as it
is, without its fixed size-1 axes (an LSTM reading (N, 28, 28) rows of a (1, 28, 28) image), or
flattened into one `features` axis (a dense model's (N, 784)); the card's named axes say which,
and the runtime reshapes (never copies). With `normalization`, the graphs see
(x − mean) / std per channel and the runtime undoes it on the way out. Free axes (`size: null`)
take any size that is a multiple of `multiple_of`; a latent axis of the same name follows them
by its `stride`.
"""

FIXTURES = """## fixtures.json

Beside the card, `fixtures.json` holds inputs → prepared tensors → restored outputs computed by
the Python adapters, so that another implementation of the preparation (a web page's) can be
checked against this one: `adapter`, `version`, `params`, `tolerance` (`prepared_atol` for the
float tensors, `restored_atol` in 8-bit levels) and `cases`, each with `name`, `input` (a
picture: `mode`, `width`, `height` and its uint8 pixels row-major, channels last; or a signal),
`prepared` (float32 (n, *item)) and `restored` (what `restore` makes of the prepared tensor, as
if the model reproduced its input). Arrays are `{"shape", "dtype", "data"}` with `data` the
base64 of their little-endian bytes.
"""


JSON_NAMES = {int: "integer", float: "number", str: "string", bool: "true/false"}


def _type(hint: Any) -> str:
    """A field's type in JSON's words: "integer", "list of Axis", "string or null"."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        kept = [a for a in args if a is not type(None)]
        return " or ".join(_type(a) for a in kept) + (" or null" if len(kept) < len(args) else "")
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return f"list of {_type(args[0])}"
        return "[" + ", ".join(_type(a) for a in args) + "]"
    if origin in (dict, Mapping) or hint is Mapping:
        return "object"
    if hint in JSON_NAMES:
        return JSON_NAMES[hint]
    return f"`{getattr(hint, '__name__', str(hint))}`"


def _first_paragraph(cls: type) -> str:
    return " ".join((cls.__doc__ or "").strip().split("\n\n")[0].split())


def _table(cls: type, json_names: bool = True) -> list[str]:
    hints = typing.get_type_hints(cls)
    rows = ["| field | type | meaning |", "|---|---|---|"]
    for f in dataclasses.fields(cls):
        if f.metadata.get("internal"):
            continue
        rows.append(f"| `{f.name}` | {_type(hints[f.name])} | {f.metadata.get('doc', '')} |")
    return rows


def _params(cls: type) -> list[str]:
    hints = typing.get_type_hints(cls)
    fields = dataclasses.fields(cls)
    if not fields:
        return ["No parameters."]
    rows = ["| parameter | type | default | meaning |", "|---|---|---|---|"]
    for f in fields:
        default = "required" if f.default is dataclasses.MISSING else json.dumps(f.default)
        choices = f.metadata.get("choices")
        doc = f.metadata.get("doc", "") + (f" One of: {', '.join(choices)}." if choices else "")
        rows.append(f"| `{f.name}` | {_type(hints[f.name])} | {default} | {doc} |")
    return rows


def _elided(value: Any) -> Any:
    if (
        isinstance(value, list)
        and len(value) > LIST_SHOWN
        and not any(isinstance(v, dict) for v in value)
    ):
        return [*value[:LIST_SHOWN], f"… {len(value) - LIST_SHOWN} more"]
    if isinstance(value, list):
        return [_elided(v) for v in value]
    if isinstance(value, dict):
        return {k: _elided(v) for k, v in value.items()}
    return value


def render() -> str:
    parts = [INTRO]
    for cls in DOCUMENTED:
        doc = _first_paragraph(cls)
        parts.append(f"## `{cls.__name__}`\n\n{doc}\n\n" + "\n".join(_table(cls)) + "\n")
    parts.append(ITEM_LAYOUT)
    parts.append("## Preparation adapters\n")
    for name, adapter in ADAPTERS.items():
        module = sys.modules[adapter.__module__]
        summary = (module.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
        parts.append(
            f"### `{name}` (version {adapter.version}, {adapter.modality})\n\n{summary}\n\n"
            + "\n".join(_params(adapter.Params))
            + "\n"
        )
    parts.append(FIXTURES)
    example = _elided(read_card(MODELS_DIR / EXAMPLE_MODEL).to_json())
    parts.append(
        f"## Example: the bundled `{EXAMPLE_MODEL}` card (long lists cut)\n\n```json\n"
        + json.dumps(example, indent=2, ensure_ascii=False)
        + "\n```\n"
    )
    return "\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="Compare instead of writing.")
    args = parser.parse_args()
    text = render()
    if args.check:
        current = TARGET.read_text(encoding="utf-8") if TARGET.is_file() else ""
        if current != text:
            print(f"{TARGET} is out of date: run python scripts/card_docs.py", file=sys.stderr)
            sys.exit(1)
        return
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET}")


if __name__ == "__main__":
    main()
