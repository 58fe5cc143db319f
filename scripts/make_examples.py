"""Make the example images shipped in ``examples/`` (rerun to regenerate them exactly).

``noisy-7.png``: MNIST test image 0 (a 7; MNIST is CC BY-SA 3.0, LeCun, Cortes & Burges),
scaled ×4 to 112×112 and corrupted with 0.5·N(0, 1) noise per pixel, clipped — what the
Quickstart denoises. ``noisy-digits/``: eight more test digits at 28×28 with the same noise;
``digits/``: the same eight, clean. ``digit-photos/``: single MNIST test digits drawn as pen
strokes on paper and photographed (:func:`aeinfer.export.domain_sets.digit_photos`, a seed of
their own, saved as JPEG); ``not-digits/``: a few of the pictures a digit model must
refuse (a row of digits, a blank page, ruled paper, printed text). ``scripts/domain.py`` measures
the domain check on both.
"""

from __future__ import annotations

import argparse
import io
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from aeinfer.export.domain_sets import (
    Sample,
    blank_page,
    digit_photos,
    digits_page,
    ruled_page,
    text_page,
)
from aeinfer.mnist import load_split

NOISE_FACTOR = 0.5
SCALE = 4
SEED = 7
FOLDER_DIGITS = range(1, 9)
DIGIT_PHOTOS = 40
PHOTO_SEED = 2024
"""Neither the domain check's fitting seed nor its measuring one (aeinfer.export.domain)."""


def noisy(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.clip(values + NOISE_FACTOR * rng.standard_normal(values.shape), 0.0, 1.0)


def to_png(values: np.ndarray, path: Path) -> None:
    Image.fromarray(np.round(values * 255).astype(np.uint8), mode="L").save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=Path("examples"))
    args = parser.parse_args()
    test = load_split("test", args.data_dir)
    images, labels = test.images, test.labels
    rng = np.random.default_rng(SEED)
    args.out.mkdir(parents=True, exist_ok=True)
    big = Image.fromarray(images[0]).resize((28 * SCALE, 28 * SCALE), Image.Resampling.BICUBIC)
    to_png(noisy(np.asarray(big, dtype=np.float32) / 255.0, rng), args.out / "noisy-7.png")
    noisy_folder, clean_folder = args.out / "noisy-digits", args.out / "digits"
    noisy_folder.mkdir(exist_ok=True)
    clean_folder.mkdir(exist_ok=True)
    for index in FOLDER_DIGITS:
        to_png(noisy(images[index] / 255.0, rng), noisy_folder / f"test-{index:04d}.png")
        to_png(images[index] / 255.0, clean_folder / f"test-{index:04d}.png")
    write_samples(digit_photos(images, labels, DIGIT_PHOTOS, PHOTO_SEED), args.out / "digit-photos")
    write_samples(not_digits(images), args.out / "not-digits")


def write_samples(samples: Iterable[Sample], folder: Path) -> None:
    folder.mkdir(exist_ok=True)
    for sample in samples:
        data = sample.data
        if data[:2] != b"\xff\xd8":  # drawn as PNG: kept small, as a phone would save it
            buffer = io.BytesIO()
            Image.open(io.BytesIO(data)).convert("RGB").save(buffer, "JPEG", quality=90)
            data = buffer.getvalue()
        label = "" if sample.label is None else f"-label{sample.label}"
        (folder / f"{sample.name}{label}.jpg").write_bytes(data)


def not_digits(images: np.ndarray) -> Iterator[Sample]:
    """One of each kind that needs no photograph (those come from package wheels)."""
    rng = np.random.default_rng([PHOTO_SEED, 2])
    pages = {
        "digits-row": digits_page([images[i] for i in (1, 2, 3, 4)], rng),
        "blank": blank_page(rng),
        "ruled": ruled_page(rng),
        "text": text_page(rng),
    }
    for name, image in pages.items():
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, "JPEG", quality=90)
        yield Sample(name, name, buffer.getvalue())


if __name__ == "__main__":
    main()
