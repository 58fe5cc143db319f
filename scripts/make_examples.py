"""Make the example images shipped in ``examples/`` (rerun to regenerate them exactly).

``noisy-7.png``: MNIST test image 0 (a 7; MNIST is CC BY-SA 3.0, LeCun, Cortes & Burges),
scaled ×4 to 112×112 and corrupted with 0.5·N(0, 1) noise per pixel, clipped — what the
Quickstart denoises. ``noisy-digits/``: eight more test digits at 28×28 with the same noise;
``digits/``: the same eight, clean.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from aeinfer.mnist import load_split

NOISE_FACTOR = 0.5
SCALE = 4
SEED = 7
FOLDER_DIGITS = range(1, 9)


def noisy(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.clip(values + NOISE_FACTOR * rng.standard_normal(values.shape), 0.0, 1.0)


def to_png(values: np.ndarray, path: Path) -> None:
    Image.fromarray(np.round(values * 255).astype(np.uint8), mode="L").save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=Path("examples"))
    args = parser.parse_args()
    images = load_split("test", args.data_dir).images
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


if __name__ == "__main__":
    main()
