"""The photo denoiser's int8 recipes, each judged against fp32 and timed, in one run.

    python scripts/photo_int8.py [--sigmas 0 15 25 50] [--rounds 6] [--round-seconds 1]

The int8 variant of a convolutional graph is static QDQ (``aeinfer.export.variants.to_int8``),
set by an :class:`~aeinfer.export.variants.Int8Recipe`: MinMax or percentile ranges, and
whether the code and the decoder's last convolution stay in float (a family's
``INT8_PERCENTILE`` and ``INT8_FLOAT_ENDS``). This script quantizes the bundled photo model's
fp32 graphs with each recipe of :data:`RECIPES`, through that same function and calibrated as
the export calibrates (the family's ``calibration_items`` of the first 512 training patches,
and the fp32 encoder's codes of them for the decoder), and judges each on the 192 held-out
patches the card's measurements use: at each σ, Gaussian noise clipped and rounded to 8 bits,
PSNR against the clean patches (dB, all patches pooled), beside fp32 on the same draw. Then it
times each on one 572² window (a 512-pixel tile and its 30-pixel margins, as the card serves a
photo), interleaved rounds, as a ratio to fp32.

Needs the photographs (``aeinfer data photos``) and the ``train`` extra.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from bench_machine import machine, markdown_table  # scripts/ is on sys.path when run as a script
from bench_timing import interleaved

import aeinfer
from aeinfer.card import FP32, ROLES
from aeinfer.export.checkpoint import CALIBRATION_ITEMS
from aeinfer.export.variants import CALIBRATION_BATCH, Int8Recipe, to_int8
from aeinfer.session import CPU_PROVIDER, import_runtime, session_options
from aeinfer.train.data import PHOTOS, DataSpec, load_dataset
from aeinfer.train.families import photo

RECIPES = {
    "MinMax (until 2026-12-07)": Int8Recipe(),
    "MinMax, ends in float": Int8Recipe(float_ends=True),
    "percentile 99.9, ends in float": Int8Recipe(percentile=99.9, float_ends=True),
    "percentile 99.99, ends in float": Int8Recipe(percentile=99.99, float_ends=True),
    "percentile 99.999, ends in float": Int8Recipe(percentile=99.999, float_ends=True),
    "percentile 99.99, every node": Int8Recipe(percentile=99.99),
}
WINDOW = 572
SEED = 0


def session(path: Path | str) -> Any:
    ort = import_runtime()
    options = session_options(ort, free_shapes=True)
    return ort.InferenceSession(str(path), options, providers=[CPU_PROVIDER])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sigmas", nargs="+", type=float, default=[0, 15, 25, 50])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--round-seconds", type=float, default=1.0)
    args = parser.parse_args()
    print("\n".join(machine().describe()))
    card = aeinfer.load("photo", device="cpu").card
    dataset = load_dataset(DataSpec(PHOTOS))
    cfg = photo.Config()
    calibration = photo.calibration_items(
        dataset.train[:CALIBRATION_ITEMS].astype(np.float32), cfg
    ).astype(np.float32)
    clean = dataset.val.astype(np.float32)
    names = {"image": card.encoder.inputs[0].name, "latent": card.decoder.inputs[0].name}
    fp32 = {role: card.graph_path(role, FP32) for role in ROLES}
    pairs: dict[str, dict[str, Any]] = {"fp32": {r: session(p) for r, p in fp32.items()}}

    def run(pair: dict[str, Any], x: np.ndarray) -> np.ndarray:
        out = []
        for i in range(0, len(x), CALIBRATION_BATCH):
            code = pair["encoder"].run(None, {names["image"]: x[i : i + CALIBRATION_BATCH]})[0]
            out.append(pair["decoder"].run(None, {names["latent"]: code})[0])
        return np.concatenate(out)

    chunks = [
        calibration[i : i + CALIBRATION_BATCH]
        for i in range(0, len(calibration), CALIBRATION_BATCH)
    ]
    batches = {
        "encoder": chunks,
        "decoder": [pairs["fp32"]["encoder"].run(None, {names["image"]: c})[0] for c in chunks],
    }
    with tempfile.TemporaryDirectory(prefix="aeinfer-photo-int8-") as tmp:
        for index, (label, recipe) in enumerate(RECIPES.items()):
            pair = {}
            for role in ROLES:
                target = Path(tmp) / f"{index}-{role}.onnx"
                graph = onnx.load(str(fp32[role]))
                to_int8(
                    graph,
                    target,
                    True,
                    names["image" if role == "encoder" else "latent"],
                    batches[role],
                    recipe,
                    role,
                )
                pair[role] = session(target)
            pairs[label] = pair
            print(f"quantized: {label}", flush=True)

    rng = np.random.default_rng(SEED)
    psnr: dict[str, dict[float, float]] = {label: {} for label in pairs}
    for sigma in args.sigmas:
        noisy = clean + sigma / 255.0 * rng.standard_normal(clean.shape).astype(np.float32)
        noisy = np.round(np.clip(noisy, 0.0, 1.0) * 255.0) / 255.0
        for label, pair in pairs.items():
            mse = float(np.mean((run(pair, noisy.astype(np.float32)) - clean) ** 2))
            psnr[label][sigma] = 10.0 * np.log10(1.0 / mse)
    window = np.random.default_rng(SEED).random((1, 3, WINDOW, WINDOW), dtype=np.float32)
    timings = interleaved(
        {label: (lambda p=pair: run(p, window)) for label, pair in pairs.items()},
        1,
        args.rounds,
        args.round_seconds,
    )
    rate = {label: t.images_per_s for label, t in timings.items()}
    header = ["recipe", *[f"σ {s:g}: dB (vs fp32)" for s in args.sigmas], "× fp32 speed"]
    rows = []
    for label in pairs:
        cells = [
            f"{psnr[label][s]:.2f}"
            + ("" if label == "fp32" else f" ({psnr[label][s] - psnr['fp32'][s]:+.2f})")
            for s in args.sigmas
        ]
        rows.append([label, *cells, f"{rate[label] / rate['fp32']:.2f}"])
    print(
        f"\nphoto: {len(clean)} held-out patches ({dataset.held_out_description}), "
        f"{len(calibration)} calibration patches, one {WINDOW}² window timed\n"
    )
    print(markdown_table(header, rows))


if __name__ == "__main__":
    main()
