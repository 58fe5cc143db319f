"""Give the bundled digit models (or the model directories named) their domain check.

    python scripts/calibrate_domain.py [--data-dir MNIST] [MODEL_DIR ...]

For each model whose preparation is ``mnist_digit``: the preparation moves to version 2 (uneven
light removed before the ink is found, ``flatten``), the domain check is calibrated through the
model (:func:`aeinfer.export.domain.calibrate`: MNIST, photographed digits and non-digits drawn
from seeds, and the natural photographs of :mod:`aeinfer.train.photos` — fetched with pip if
they are not there), and the card is rewritten (:func:`aeinfer.export.rewrite.rewrite_card`).
Prints each model's acceptance rates. Takes several minutes per model on 2 cores.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path

from aeinfer.adapters import adapter_for
from aeinfer.adapters.mnist_digit import DigitParams, MnistDigit
from aeinfer.card import parse_card, read_card
from aeinfer.export.domain import DomainData, calibrate
from aeinfer.export.rewrite import rewrite_card
from aeinfer.mnist import load_split
from aeinfer.model import Model
from aeinfer.train import photos
from aeinfer.zoo import MODELS_DIR, bundled_names


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
    args = parser.parse_args()
    data = domain_data(args.data_dir)
    for directory in args.dirs or [MODELS_DIR / name for name in bundled_names()]:
        card = read_card(directory)
        if card.preparation.adapter != MnistDigit.name:
            continue
        source = card.to_json()
        params = {**asdict(DigitParams()), **dict(card.preparation.params)}
        params["flatten"] = DigitParams().flatten
        source["preparation"] = {
            "adapter": MnistDigit.name,
            "version": MnistDigit.version,
            "params": params,
        }
        source["domain"] = None
        updated = parse_card(source, directory)
        source["domain"] = calibrate(Model(updated, "cpu"), adapter_for(updated), data)
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
