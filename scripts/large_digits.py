"""Large images of one noisy digit: ``aeinfer denoise`` at the user's size against a median filter.

    python scripts/large_digits.py [--data-dir DIR] [--count N] [--model NAME] [--json]

Each case is an MNIST test digit drawn as a clean colour page, 56–700 pixels wide: one of the
domain sets' papers (:data:`aeinfer.export.domain_sets.PAPERS`) under a light slope, one of their
inks, pen strokes from :func:`~aeinfer.export.domain_sets.ink_mask`. Noise as a user's file has it:
additive white Gaussian at σ (0–255 scale), clipped, 8-bit. Every method sees the same noisy
files; PSNR is in colour against the clean page at its own size. Methods:

- ``median 5×5``: Pillow's median filter, per channel;
- ``round trip``: the model's 28×28 result scaled back onto the page
  (:meth:`MnistDigit.restore`, what ``aeinfer reconstruct`` returns);
- ``aeinfer denoise``: ``model.denoise(page)``, the same result restored with the input's own
  detail, noise-weighted (:meth:`MnistDigit.restore_denoised`).

The colour columns give how far the result's ink and paper (medians over the clean page's ink
and paper pixels) are from the clean page's, in 0–255 levels (largest channel). Pages the
domain check refuses (very noisy or small ones) are counted, then denoised with ``force``.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
from bench_machine import machine  # scripts/ is on sys.path when run as a script
from PIL import Image, ImageFilter

import aeinfer
from aeinfer.errors import OutOfDomainError
from aeinfer.export.domain_sets import INKS, PAPERS, ink_mask
from aeinfer.mnist import load_split
from aeinfer.pictures import read_picture

SIGMAS = (0, 10, 25, 50, 100, 127)
"""127: the Quickstart's noise (0.5 on a 0–1 scale)."""
SEED = 2026
"""Not the calibration sets' seeds: these pages are drawn fresh."""


def clean_page(digit: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """An RGB uint8 page with ``digit`` in one ink, and the ink's mask (float, 0–1)."""
    width = int(rng.integers(56, 700))
    height = int(width * rng.uniform(0.8, 1.25))
    side = int(min(width, height) * rng.uniform(0.45, 0.8))
    paper = np.asarray(PAPERS[rng.integers(len(PAPERS))], np.float32) / 255
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    slope = np.cos(angle) * (xs / width - 0.5) + np.sin(angle) * (ys / height - 0.5)
    light = np.clip(1 - slope * rng.uniform(0, 0.25), 0.5, 1.1)
    canvas = paper * light[..., None]
    mask = ink_mask(digit, side, rng, thin=bool(rng.random() < 0.3))
    ink = np.asarray(INKS[rng.integers(len(INKS))], np.float32) / 255
    x, y = int(rng.integers(0, width - side + 1)), int(rng.integers(0, height - side + 1))
    region = canvas[y : y + side, x : x + side]
    alpha = mask[..., None]
    region[:] = region * (1 - alpha) + ink * light[y : y + side, x : x + side, None] * alpha
    full = np.zeros((height, width), np.float32)
    full[y : y + side, x : x + side] = mask
    return (np.clip(canvas, 0, 1) * 255 + 0.5).astype(np.uint8), full


def noisy_of(clean: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    noisy = clean / 255 + rng.normal(0, sigma / 255, clean.shape)
    return (np.clip(noisy, 0, 1) * 255 + 0.5).astype(np.uint8)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def median5(image: np.ndarray) -> np.ndarray:
    return np.asarray(Image.fromarray(image).filter(ImageFilter.MedianFilter(5)))


def colour_error(result: np.ndarray, clean: np.ndarray, where: np.ndarray) -> float:
    """Largest channel difference of the medians over ``where`` (0–255 levels)."""
    if not where.any():
        return 0.0
    got = np.median(result[where].astype(np.float64), axis=0)
    want = np.median(clean[where].astype(np.float64), axis=0)
    return float(np.abs(got - want).max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data/mnist"))
    parser.add_argument("--count", type=int, default=40, help="digits (pages) per σ")
    parser.add_argument("--model", default="denoise")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    digits = load_split("test", args.data_dir).images
    model = aeinfer.load(args.model)
    adapter, pipe = model.pipeline.adapter, model.pipeline
    rng = np.random.default_rng(SEED)
    methods = ("noisy", "median 5×5", "round trip", "aeinfer denoise")
    rows: dict[int, dict[str, list[float]]] = {s: {m: [] for m in methods} for s in SIGMAS}
    colours: dict[str, list[float]] = {"ink": [], "paper": []}
    refused = dict.fromkeys(SIGMAS, 0)
    for i in range(args.count):
        clean, mask = clean_page(digits[i], rng)
        for sigma in SIGMAS:
            noisy = noisy_of(clean, sigma, rng)
            # The library's own path: what `aeinfer denoise` runs (domain check included).
            try:
                guided = model.denoise(Image.fromarray(noisy))
            except OutOfDomainError:
                refused[sigma] += 1
                guided = model.denoise(Image.fromarray(noisy), force=True)
            tensor, state = adapter.prepare(read_picture(noisy, f"page {i}"))
            plain = adapter.restore(pipe.model.reconstruct(tensor), state)
            row = rows[sigma]
            row["noisy"].append(psnr(noisy, clean))
            row["median 5×5"].append(psnr(median5(noisy), clean))
            row["round trip"].append(psnr(plain.pixels, clean))
            row["aeinfer denoise"].append(psnr(np.asarray(guided), clean))
            if sigma == 25:
                colours["ink"].append(colour_error(np.asarray(guided), clean, mask > 0.9))
                colours["paper"].append(colour_error(np.asarray(guided), clean, mask < 0.01))
        print(f"\r{i + 1}/{args.count} pages", end="", flush=True)
    print()
    # An unchanged page (the noisy column at σ 0) has infinite PSNR: shown as such.
    table = {s: {m: round(float(np.mean(v)), 2) for m, v in row.items()} for s, row in rows.items()}
    colour = {k: round(float(np.median(v)), 1) for k, v in colours.items()}
    host = machine()
    report = {"machine": f"{host.cpu}, {host.cores} cores", "pages": args.count}
    report |= {"psnr_db": table, "colour_error_s25": colour, "refused": refused}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{args.count} pages per σ, model {args.model}; mean PSNR (dB) at the page's own size")
    print("| σ | " + " | ".join(methods) + " | refused by the domain check |")
    print("|---|" + "---:|" * (len(methods) + 1))
    for sigma, row in table.items():
        cells = " | ".join(f"{row[m]:.2f}" for m in methods)
        print(f"| {sigma} | {cells} | {refused[sigma]} of {args.count} |")
    print(
        f"colour at σ 25 (median over pages, largest channel, 0–255): ink off by "
        f"{colour['ink']}, paper off by {colour['paper']}"
    )
    print(report["machine"])


if __name__ == "__main__":
    main()
