"""Give the bundled digit models (or the model directories named) their domain check.

    python scripts/calibrate_domain.py [--data-dir MNIST] [MODEL_DIR ...]

For each model whose preparation is ``mnist_digit``: the preparation moves to the adapter's
current version (3: uneven light removed before the ink is found, results painted in the input's
own colours and, when denoising, with its own detail), the domain check is calibrated through the
model (:func:`aeinfer.export.domain.calibrate`: MNIST, photographed digits and non-digits drawn
from seeds, and the natural photographs of :mod:`aeinfer.train.photos` — fetched with pip if
they are not there), and the card is rewritten (:func:`aeinfer.export.rewrite.rewrite_card`).
Prints each model's acceptance rates. Takes several minutes per model on 2 cores; ``--quick``
fits on fewer examples (the rates are still measured on the whole MNIST test split).
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path

from aeinfer.adapters import adapter_for
from aeinfer.adapters.mnist_digit import DigitParams, MnistDigit
from aeinfer.card import parse_card, read_card
from aeinfer.export.domain import Counts, DomainData, calibrate
from aeinfer.export.rewrite import rewrite_card
from aeinfer.mnist import load_split
from aeinfer.model import Model
from aeinfer.train import photos
from aeinfer.zoo import MODELS_DIR, bundled_names

FIT = ("frame", "fit", "centre", "model_polarity")
QUICK = Counts(
    digits=2000, noisy_digits=1000, non_digits=1500, measure_non_digits=1000, threshold_digits=3000
)


def domain_data(data_dir: Path | None) -> DomainData:
    train, test = load_split("train", data_dir), load_split("test", data_dir)
    folder = photos.fetch()
    fit = tuple(n for n in photos.PHOTOS if n not in photos.TEST_PHOTOS)
    return DomainData(
        train.images,
        train.labels,
        test.images,
        test.labels,
        photos.load(folder, fit),
        photos.load(folder, photos.TEST_PHOTOS),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="*", type=Path)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--quick", action="store_true", help="fit on fewer examples")
    args = parser.parse_args()
    counts = QUICK if args.quick else Counts()
    data = domain_data(args.data_dir)
    for directory in args.dirs or [MODELS_DIR / name for name in bundled_names()]:
        card = read_card(directory)
        if card.preparation.adapter != MnistDigit.name:
            continue
        source = card.to_json()
        # The fit (frame, fit, centre, polarity) is the model's own; every other number is the
        # adapter's current default (flatten from version 2, the painting from version 3).
        params = {**dict(card.preparation.params), **asdict(DigitParams())}
        params |= {k: card.preparation.params[k] for k in FIT if k in card.preparation.params}
        source["preparation"] = {
            "adapter": MnistDigit.name,
            "version": MnistDigit.version,
            "params": params,
        }
        source["domain"] = None
        updated = parse_card(source, directory)
        source["domain"] = calibrate(Model(updated, "cpu"), adapter_for(updated), data, counts)
        written = rewrite_card(directory, source)
        reference = written.domain.reference if written.domain else {}
        print(
            f"{written.name}: MNIST test accepted {reference['mnist_test']['accepted']:.1%}, "
            f"photographed digits accepted {reference['digit_photos']['accepted']:.1%}, "
            f"non-digits refused {reference['non_digits']['refused']:.1%} "
            + str({k: v["refused"] for k, v in reference["non_digits"]["by_kind"].items()}),
            flush=True,
        )


if __name__ == "__main__":
    main()
