"""The photo denoiser against classical denoisers, on its held-out photographs, in one run.

    python scripts/photo_quality.py [--sigmas 15 25 50] [--jpeg-sigmas 15 25] [--jpeg-quality 90]
        [--crops DIR] [--json] [--model PATH]

Each held-out photograph (:data:`aeinfer.train.photos.TEST_PHOTOS`, never seen in training;
fetched with pip if not cached) gets additive white Gaussian noise of σ (0–255 scale, numpy
seed 0), clipped and saved as an 8-bit PNG, as a user's file would be; every method reads the
same file. PSNR in colour against the clean photograph, averaged over the photographs:

- ``aeinfer photo``: ``aeinfer.load("photo").denoise(path)``, blind (it is not told σ; ``--model``
  measures another export, e.g. a candidate before it replaces the bundled one);
- ``aeinfer photo --ensemble``: the same, averaged over the 8 flips and rotations
  (``denoise(path, ensemble=True)``, 8 passes), where the card allows it;
- ``aeinfer photo int8``: the int8 variant (``aeinfer.load(…, precision="int8")``, what
  ``--precision int8`` serves), where the card lists one;
- BM3D: ``bm3d.bm3d_rgb`` (``bm3d.bm3d`` for grey), told the true σ;
- non-local means (scikit-image, ``h = 0.8·σ̂``, σ̂ from ``estimate_sigma``, fast mode);
- total variation (Chambolle), the best weight of a small grid per σ (oracle-tuned);
- wavelet (BayesShrink, in YCbCr), and a median filter (the better of 3×3 and 5×5).

Then the same at ``--jpeg-sigmas``, the noisy photograph saved as a JPEG of ``--jpeg-quality``
(Pillow, 4:2:0 chroma) instead, as a camera or an editor saves it: JPEG leaves the noise
blotchy, no longer white (BM3D is still told the σ of the noise added).

A clean photograph must come back essentially unchanged: its PSNR against itself is printed.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from bench_machine import machine  # scripts/ is on sys.path when run as a script
from PIL import Image, ImageFilter

import aeinfer
from aeinfer.train import photos

OURS = "aeinfer photo"
ENSEMBLE = "aeinfer photo --ensemble"
INT8 = "aeinfer photo int8"
BM3D = "BM3D (σ given)"
TV_WEIGHTS = (0.04, 0.08, 0.12, 0.16)
NLM_H = 0.8
SEED = 0


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(1.0 / mse)


def unit(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), np.float32) / 255.0


def methods(
    sigma: float, model: aeinfer.Model, int8: aeinfer.Model | None
) -> dict[str, Callable[[Path, np.ndarray], np.ndarray]]:
    import bm3d
    from skimage.restoration import (
        denoise_nl_means,
        denoise_tv_chambolle,
        denoise_wavelet,
        estimate_sigma,
    )

    s = sigma / 255.0

    def ours(path: Path, noisy: np.ndarray) -> np.ndarray:
        return np.asarray(model.denoise(path).convert("RGB"), np.float32) / 255.0

    def ours_ensemble(path: Path, noisy: np.ndarray) -> np.ndarray:
        return np.asarray(model.denoise(path, ensemble=True).convert("RGB"), np.float32) / 255.0

    def bm3d_(path: Path, noisy: np.ndarray) -> np.ndarray:
        return np.clip(bm3d.bm3d_rgb(noisy, s), 0, 1)

    def nlm(path: Path, noisy: np.ndarray) -> np.ndarray:
        est = float(np.mean(estimate_sigma(noisy, channel_axis=-1)))
        return denoise_nl_means(
            noisy, h=NLM_H * est, sigma=est, fast_mode=True, patch_size=5,
            patch_distance=6, channel_axis=-1,
        )  # fmt: skip

    def wavelet(path: Path, noisy: np.ndarray) -> np.ndarray:
        return np.clip(
            denoise_wavelet(
                noisy, method="BayesShrink", mode="soft", rescale_sigma=True,
                convert2ycbcr=True, channel_axis=-1,
            ),
            0, 1,
        )  # fmt: skip

    def median(path: Path, noisy: np.ndarray) -> np.ndarray:
        image = Image.open(path)
        return (
            np.asarray(image.filter(ImageFilter.MedianFilter(5 if sigma > 20 else 3)), np.float32)
            / 255
        )

    def ours_int8(path: Path, noisy: np.ndarray) -> np.ndarray:
        assert int8 is not None
        return np.asarray(int8.denoise(path).convert("RGB"), np.float32) / 255.0

    averaged = {ENSEMBLE: ours_ensemble} if model.card.preparation.params.get("dihedral") else {}
    return {
        OURS: ours,
        **averaged,
        **({INT8: ours_int8} if int8 is not None else {}),
        BM3D: bm3d_,
        "non-local means": nlm,
        "total variation (best weight)": lambda path, noisy: _best_tv(noisy, denoise_tv_chambolle),
        "wavelet": wavelet,
        "median": median,
    }


_CLEAN: dict[int, np.ndarray] = {}


def _best_tv(noisy: np.ndarray, tv: Callable[..., np.ndarray]) -> np.ndarray:
    clean = _CLEAN[id(noisy)]
    outs = [tv(noisy, weight=w, channel_axis=-1) for w in TV_WEIGHTS]
    return max(outs, key=lambda out: psnr(out, clean))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sigmas", nargs="+", type=float, default=[15, 25, 50])
    parser.add_argument("--jpeg-sigmas", nargs="*", type=float, default=[15, 25])
    parser.add_argument("--jpeg-quality", type=int, default=90)
    parser.add_argument("--crops", type=Path, default=None, help="write before/after crops here")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--model", default="photo", help="bundled name or model folder")
    args = parser.parse_args()

    folder = photos.fetch()
    started = time.perf_counter()
    table: dict[str, dict[str, float]] = {}
    rng = np.random.default_rng(SEED)
    model = aeinfer.load(args.model)
    int8 = aeinfer.load(args.model, precision="int8") if "int8" in model.card.precisions else None
    with tempfile.TemporaryDirectory() as tmp:
        clean_check = {}
        for name in photos.TEST_PHOTOS:
            clean = unit(folder / name)
            path = Path(tmp) / f"clean-{Path(name).stem}.png"
            Image.fromarray((clean * 255).round().astype(np.uint8)).save(path)
            out = np.asarray(model.denoise(path).convert("RGB"), np.float32) / 255
            clean_check[name] = round(psnr(out, unit(path)), 2)
        conditions = [(sigma, None) for sigma in args.sigmas]
        conditions += [(sigma, args.jpeg_quality) for sigma in args.jpeg_sigmas]
        for sigma, quality in conditions:
            row = f"{sigma:g}" if quality is None else f"{sigma:g}, JPEG q{quality}"
            sums: dict[str, list[float]] = {}
            for name in photos.TEST_PHOTOS:
                clean = unit(folder / name)
                noisy = np.clip(clean + rng.normal(0, sigma / 255, clean.shape), 0, 1)
                suffix = ".png" if quality is None else ".jpg"
                path = Path(tmp) / f"{Path(name).stem}-s{sigma:g}{suffix}"
                pixels = Image.fromarray((noisy * 255).round().astype(np.uint8))
                pixels.save(path, **({} if quality is None else {"quality": quality}))
                noisy = unit(path)
                _CLEAN[id(noisy)] = clean
                results = {}
                for method, run in methods(sigma, model, int8).items():
                    results[method] = run(path, noisy)
                    sums.setdefault(method, []).append(psnr(results[method], clean))
                sums.setdefault("noisy input", []).append(psnr(noisy, clean))
                print(f"σ {row} {name}: " + ", ".join(
                    f"{m} {v[-1]:.2f}" for m, v in sums.items()), flush=True)  # fmt: skip
                if args.crops and sigma == 25 and name == photos.TEST_PHOTOS[0]:
                    crops = "photo-denoise-crops" if quality is None else "photo-jpeg-crops"
                    _crops(args.crops / f"{crops}.png", noisy, results)
            table[row] = {m: round(float(np.mean(v)), 2) for m, v in sums.items()}
    host = machine()
    report = {
        "machine": f"{host.cpu}, {host.cores} cores",
        "photos": list(photos.TEST_PHOTOS),
        "psnr_db": table,
        "clean_psnr_db": clean_check,
        "seconds": round(time.perf_counter() - started),
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    names = list(next(iter(table.values())))
    ours = [n for n in (OURS, ENSEMBLE, INT8) if n in names]
    print("\n| σ | " + " | ".join(names) + "".join(f" | {n} − BM3D" for n in ours) + " |")
    print("|---|" + "---:|" * (len(names) + len(ours)))
    for label, row in table.items():
        gaps = "".join(f" | {row[n] - row[BM3D]:+.2f}" for n in ours)
        print(f"| {label} | " + " | ".join(f"{row[n]:.2f}" for n in names) + gaps + " |")
    print(f"clean photos through the denoiser (PSNR against themselves): {clean_check}")
    print(f"{report['machine']}; {report['seconds']} s")


def _crops(target: Path, noisy: np.ndarray, results: dict[str, np.ndarray]) -> None:
    """Noisy | aeinfer | BM3D, a 256×256 crop at full resolution."""
    target.parent.mkdir(parents=True, exist_ok=True)
    h, w = noisy.shape[:2]
    y, x = max(0, h // 2 - 128), max(0, w // 2 - 128)
    parts = [noisy, results[OURS], results[BM3D]]
    row = np.concatenate([p[y : y + 256, x : x + 256] for p in parts], axis=1)
    Image.fromarray((np.clip(row, 0, 1) * 255).round().astype(np.uint8)).save(target)


if __name__ == "__main__":
    main()
