"""Write the latent explorer's data: the bundled vae's 2-D codes of MNIST test digits, labelled.

    python scripts/web_data.py --data-dir ../shared/data/mnist [--count 3000]

Encodes the first ``--count`` digits of the MNIST test split with the bundled ``vae`` through
ONNX Runtime (``aeinfer.load``; the code is the posterior mean, as ``aeinfer scatter`` plots it)
and writes ``infer/web/page/data/vae-latent.json``, which the page draws as its scatter:
``codes`` flattened (x0, y0, x1, y1, …) rounded to ``decimals``, ``labels`` one digit per code
as a string, and the encoder's sha256 so the page can tell codes of another vae. 3000 digits
make a 45 KB file. Rerun it after the vae is retrained (tests/test_web.py checks the file
against the bundled encoder).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

import aeinfer
from aeinfer.mnist import load_split
from aeinfer.web import LATENT_DATA, LATENT_MODEL

DECIMALS = 3
DEFAULT_COUNT = 3000


def latent_data(data_dir: Path | None, count: int) -> dict[str, object]:
    """The JSON data of the explorer's scatter (see the module docstring)."""
    split = load_split("test", data_dir)
    images, labels = split.images[:count], split.labels[:count]
    model = aeinfer.load(LATENT_MODEL, device="cpu")
    codes = model.encode(images[:, None].astype(np.uint8))
    if codes.shape != (len(images), 2):
        raise SystemExit(f"model {LATENT_MODEL!r} has no 2-D latent (codes {codes.shape})")
    return {
        "model": LATENT_MODEL,
        "encoder_sha256": model.card.graph_file("encoder").sha256,
        "split": f"MNIST test, first {len(images)} digits",
        "code": "posterior mean (aeinfer scatter's)",
        "decimals": DECIMALS,
        "count": len(images),
        "codes": [round(float(v), DECIMALS) for v in codes.reshape(-1)],
        "labels": "".join(str(int(label)) for label in labels),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None, help="The MNIST folder.")
    parser.add_argument("--count", type=int, default=DEFAULT_COUNT, help="Test digits encoded.")
    parser.add_argument("-o", "--output", type=Path, default=LATENT_DATA)
    args = parser.parse_args()
    data = latent_data(args.data_dir, args.count)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(data, separators=(",", ":")) + "\n", encoding="utf-8")
    print(
        f"wrote {args.output} ({args.output.stat().st_size / 1000:.0f} KB, {data['count']} codes)"
    )


if __name__ == "__main__":
    main()
