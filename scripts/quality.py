"""Measure the bundled models' quality through ``aeinfer.load`` (ONNX Runtime, no torch).

    python scripts/quality.py [--data-dir DIR] [--limit N] [--json]

Prints, per family, the metric the zoo is judged on (MNIST test set), the seed/reference
figure and the target, and — for denoising — classical filters measured in the same run on
the same noisy images (noise x + 0.5·N(0, 1), clipped; numpy seed 0): median 3×3, Gaussian
(best σ of a small grid) and non-local means (best h of a small grid).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from bench_machine import machine  # scripts/ is on sys.path when run as a script

import aeinfer
from aeinfer.mnist import load_split
from aeinfer.quality import NOISE_FACTOR, add_noise, measure, psnr_per_image

# family → (metric, seed/reference figure, target, "le" if lower is better else "ge")
TARGETS: dict[str, tuple[str, str, float, str]] = {
    "dense": ("bce", "≈0.11 (Keras blog); plain Adam here 0.102", 0.098, "le"),
    "sparse": ("bce", "0.10, mean code 3.33 (Keras blog)", 0.105, "le"),
    "deep": ("bce", "≈0.097 (Keras blog)", 0.085, "le"),
    "conv": ("bce", "0.094 (Keras blog)", 0.075, "le"),
    "denoise": ("psnr_noisy_db", "median 3×3 ≈ 14.2 dB; noisy ≈ 9.4 dB", 20.0, "ge"),
    "lstm": ("bce", "none", 0.100, "le"),
    "vae": ("neg_elbo", "plain 40-epoch run ≈ 149 nats", 146.0, "le"),
    "convt": ("mse", "plain 8-epoch run 0.0028", 0.0020, "le"),
}
CLEAN_PSNR_TARGET = 25.0
GAUSS_SIGMAS = (0.5, 0.75, 1.0, 1.5)
NLM_HS = (0.1, 0.15, 0.2, 0.3, 0.4)
NLM_PATCH = 3
NLM_SEARCH = 7


def _pad(images: np.ndarray, r: int) -> np.ndarray:
    return np.pad(images, ((0, 0), (r, r), (r, r)), mode="reflect")


def median3(images: np.ndarray) -> np.ndarray:
    windows = np.lib.stride_tricks.sliding_window_view(_pad(images, 1), (3, 3), axis=(1, 2))
    return np.median(windows, axis=(-2, -1)).astype(np.float32)


def gaussian(images: np.ndarray, sigma: float) -> np.ndarray:
    r = max(1, int(3 * sigma + 0.5))
    k = np.exp(-(np.arange(-r, r + 1) ** 2) / (2 * sigma**2))
    k /= k.sum()
    padded = _pad(images, r)
    rows = sum(k[i] * padded[:, i : i + images.shape[1], :] for i in range(2 * r + 1))
    return sum(k[i] * rows[:, :, i : i + images.shape[2]] for i in range(2 * r + 1)).astype(
        np.float32
    )


def _box_valid(values: np.ndarray, size: int) -> np.ndarray:
    """Sum over every size×size window (valid positions), per image, via summed-area tables."""
    table = np.pad(values.cumsum(axis=1).cumsum(axis=2), ((0, 0), (1, 0), (1, 0)))
    return (
        table[:, size:, size:]
        - table[:, :-size, size:]
        - table[:, size:, :-size]
        + table[:, :-size, :-size]
    )


def nl_means(images: np.ndarray, h: float) -> np.ndarray:
    """Non-local means (Buades, Coll & Morel 2005): each pixel a weighted mean of pixels in a
    search window, weighted by exp(−mean patch difference² / h²), patch 3×3, window 7×7."""
    pr, sr = NLM_PATCH // 2, NLM_SEARCH // 2
    _, height, width = images.shape
    padded = _pad(images.astype(np.float64), pr + sr)
    total = np.zeros(images.shape, dtype=np.float64)
    weights = np.zeros_like(total)
    centre = padded[:, sr : sr + height + 2 * pr, sr : sr + width + 2 * pr]
    for dy in range(-sr, sr + 1):
        for dx in range(-sr, sr + 1):
            rows = slice(sr + dy, sr + dy + height + 2 * pr)
            cols = slice(sr + dx, sr + dx + width + 2 * pr)
            shifted = padded[:, rows, cols]
            d2 = _box_valid((centre - shifted) ** 2, NLM_PATCH) / NLM_PATCH**2
            w = np.exp(-d2 / (h * h))
            total += w * shifted[:, pr : pr + height, pr : pr + width]
            weights += w
    return (total / weights).astype(np.float32)


MNIST_ITEM = (1, 28, 28)


def best(candidates: dict[str, np.ndarray], clean: np.ndarray) -> tuple[str, float]:
    scores = {k: float(psnr_per_image(v, clean).mean()) for k, v in candidates.items()}
    key = max(scores, key=scores.__getitem__)
    return key, scores[key]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--limit", type=int, default=None, help="Use the first N test images.")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    # (N, 28, 28) in [0, 1] for the filters; the models take them as items (N, 1, 28, 28).
    images = load_split("test", args.data_dir).images[: args.limit].astype(np.float32) / 255.0
    started = time.perf_counter()
    rows = []
    for summary in aeinfer.list_models():
        family = summary["family"]
        model = aeinfer.load(summary["name"], device="cpu")
        if model.item_shape != MNIST_ITEM:  # the photo denoiser: scripts/photo_quality.py
            print(f"skip {summary['name']}: not an MNIST model", file=sys.stderr)
            continue
        measured = measure(model.model, images[:, None])
        metric, seed, target, sense = TARGETS.get(family, ("bce", "—", float("nan"), "le"))
        value = measured[metric]
        met = value <= target if sense == "le" else value >= target
        if family == "denoise":
            met = met and measured["psnr_db"] >= CLEAN_PSNR_TARGET
        rows.append(
            {
                "family": family,
                "metric": metric,
                "value": value,
                "seed": seed,
                "target": target,
                "met": met,
                "all": measured,
            }
        )
    baselines = {}
    noisy = add_noise(images, NOISE_FACTOR, np.random.default_rng(0))
    baselines["noisy input"] = ("", float(psnr_per_image(noisy, images).mean()))
    baselines["median 3×3"] = ("", float(psnr_per_image(median3(noisy), images).mean()))
    baselines["gaussian"] = best({f"σ={s}": gaussian(noisy, s) for s in GAUSS_SIGMAS}, images)
    baselines["non-local means"] = best({f"h={h}": nl_means(noisy, h) for h in NLM_HS}, images)
    elapsed = time.perf_counter() - started
    if args.json:
        print(json.dumps({"rows": rows, "baselines": baselines, "images": len(images)}, indent=2))
        return
    host = machine()
    print(f"MNIST test images: {len(images)}; {host.cpu}, {host.cores} cores; {elapsed:.0f} s")
    print("| family | metric | measured (ONNX Runtime) | seed / reference | target | met |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        extra = ""
        if r["family"] == "denoise":
            extra = f" (clean input: {r['all']['psnr_db']:.2f} dB)"
        if r["family"] in ("sparse", "dense"):
            extra = f" (mean code {r['all']['mean_code']:.2f})"
        sign = "≤" if TARGETS.get(r["family"], ("", "", 0, "le"))[3] == "le" else "≥"
        print(
            f"| {r['family']} | {r['metric']} | {r['value']:.4g}{extra} | {r['seed']} | "
            f"{sign} {r['target']:g} | {'yes' if r['met'] else 'no'} |"
        )
    print("\nDenoising baselines on the same noisy images (PSNR vs clean):")
    for name, (setting, value) in baselines.items():
        print(f"- {name}{f' ({setting})' if setting else ''}: {value:.2f} dB")


if __name__ == "__main__":
    main()
