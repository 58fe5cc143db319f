"""The photo denoiser's speed on the CPU: ONNX Runtime against torch eager and BM3D, in one run.

    python scripts/photo_speed.py [--checkpoint runs/zoo/photo/last.pt] [--side 1024]
        [--tiles 256 512 768 1024] [--sweep-side 2048]

Megapixels per second denoising one RGB picture of ``--side``² pixels (a held-out photograph
tiled up to that size), best of three after a warm-up:

- ``aeinfer`` at each precision the card lists: ``aeinfer.load("photo", precision=…)`` on the
  picture, the user's path (tiles, preparation, restore included), and fp32 with
  ``--ensemble`` (``denoise(…, ensemble=True)``: 8 passes, its GFLOP/s counts all eight);
- torch eager, the same weights (the training checkpoint, git-ignored, made by
  ``scripts/build_zoo.py --families photo``; without it, the bundled graphs' weights:
  ``graph_modules.py``), on the whole picture as one tensor, no grad, checked against ONNX
  Runtime first;
- BM3D (``bm3d.bm3d_rgb``) on a 256×256 crop (it is slow), scaled to MP/s.

Beside each rate: the GFLOP/s it reaches (convolutions counted by forward hooks on the torch
modules) and its share of the GEMM ceiling (``bench_throughput.gemm_ceiling``: a 2048² fp32
matrix product in torch on the same threads), and the tensor-level model on the whole picture
as one tensor, to show what the tiles cost.

Then the tile sweep: the model served in tiles of ``--tiles`` pixels (a copy of its folder with
the card's ``preparation.params.tile`` changed, one tile at a time), each timed on a
``--sweep-side``² picture against the whole picture in one call, and each denoising a
12-megapixel PNG (4000×3000, the picture tiled) from its file and writing it back in a child
process, whose wall time and peak resident memory (``VmHWM``) are printed: the tiles keep
memory bounded, and their size trades memory for the margins' extra work. Last, the same file
through the command a user types, ``aeinfer denoise big.png`` (the digit model's domain check
first, then the photo denoiser it routes to), in a child process the same way.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_machine import machine  # scripts/ is on sys.path when run as a script
from bench_throughput import gemm_ceiling
from graph_modules import modules_from_graphs  # scripts/ is on sys.path when run as a script
from PIL import Image

import aeinfer
from aeinfer.ensemble import PASSES
from aeinfer.train import photos

REPEATS = 3
ENSEMBLE_ROW = "aeinfer fp32 --ensemble (8 passes)"
PARITY_ATOL = 1e-4
BIG = (4000, 3000)
TILES = (256, 512, 768, 1024)
"""Tile sizes the sweep serves the model in (one tile at a time, the card's margin)."""
SWEEP_SIDE = 2048
CHILD = """
import re, resource, sys, time
from pathlib import Path
import aeinfer
model = aeinfer.load(sys.argv[1])
start = time.perf_counter()
out = model.denoise(sys.argv[2])
out.save(sys.argv[3])
status = Path("/proc/self/status")
found = re.search(r"VmHWM:\\s+(\\d+) kB", status.read_text()) if status.exists() else None
peak_kb = int(found.group(1)) if found else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(time.perf_counter() - start, peak_kb)
"""
CLI_CHILD = """
import re, resource, sys, time
from pathlib import Path
from aeinfer.cli import main
sys.argv = ["aeinfer", "denoise", sys.argv[2], "-o", sys.argv[3], "--overwrite"]
start = time.perf_counter()
try:
    main()
except SystemExit as done:
    if done.code:
        raise
status = Path("/proc/self/status")
found = re.search(r"VmHWM:\\s+(\\d+) kB", status.read_text()) if status.exists() else None
peak_kb = int(found.group(1)) if found else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(time.perf_counter() - start, peak_kb)
"""


def best(run: object, repeats: int = REPEATS) -> float:
    run()  # type: ignore[operator]
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return min(times)


def picture(side: int) -> Image.Image:
    tile = np.asarray(photos.load(photos.fetch(), photos.TEST_PHOTOS[:1])[0])
    reps = (-(-side // tile.shape[0]), -(-side // tile.shape[1]), 1)
    big = np.tile(tile, reps)[:side, :side]
    noisy = np.clip(big + np.random.default_rng(0).normal(0, 25 / 255, big.shape), 0, 1)
    return Image.fromarray((noisy * 255).round().astype(np.uint8))


def conv_gflop(encoder: object, decoder: object, x: object) -> float:
    """GFLOP (2 per multiply-add) of the convolutions of one pass over ``x``, counted with
    forward hooks: the work the graphs do, whatever runs them."""
    import torch

    total = [0]

    def count(module: torch.nn.Conv2d, _: object, out: torch.Tensor) -> None:
        k = module.kernel_size[0] * module.kernel_size[1]
        total[0] += out.numel() * k * module.in_channels // module.groups

    hooks = [
        m.register_forward_hook(count)  # type: ignore[arg-type]
        for part in (encoder, decoder)
        for m in part.modules()  # type: ignore[attr-defined]
        if isinstance(m, torch.nn.Conv2d)
    ]
    with torch.no_grad():
        decoder(encoder(x))  # type: ignore[operator]
    for hook in hooks:
        hook.remove()
    return 2 * total[0] / 1e9


def torch_eager(checkpoint: Path, image: Image.Image) -> tuple[float, float, str]:
    """(seconds, GFLOP, where the weights came from) of torch eager on ``image`` as one tensor:
    the training checkpoint's weights, or without it the bundled graphs' (the same numbers)."""
    import torch

    if checkpoint.is_file():
        from aeinfer.train.trainer import load_checkpoint, rebuild

        _, _, encoder, decoder = rebuild(load_checkpoint(checkpoint))
        source = str(checkpoint)
    else:
        _, encoder, decoder = modules_from_graphs("photo")
        source = "the bundled fp32 graphs' weights (no checkpoint)"
    x = torch.from_numpy(np.asarray(image, np.float32).transpose(2, 0, 1)[None] / 255.0)
    with torch.no_grad():
        eager = decoder(encoder(x)).numpy()
    exported = aeinfer.load("photo").model.reconstruct(x.numpy())
    diff = float(np.abs(eager - exported).max())
    if diff > PARITY_ATOL:
        raise SystemExit(f"torch eager and ONNX Runtime disagree by {diff:.3g}")

    def run() -> None:
        with torch.no_grad():
            decoder(encoder(x))

    return best(run), conv_gflop(encoder, decoder, x), source


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=Path("runs/zoo/photo/last.pt"))
    parser.add_argument("--side", type=int, default=1024)
    parser.add_argument("--tiles", type=int, nargs="*", default=list(TILES))
    parser.add_argument("--sweep-side", type=int, default=SWEEP_SIDE)
    args = parser.parse_args()
    image = picture(args.side)
    megapixels = args.side * args.side / 1e6
    rows: dict[str, float] = {}
    for precision in aeinfer.load("photo").precisions:
        model = aeinfer.load("photo", precision=precision)
        rows[f"aeinfer {precision}"] = megapixels / best(lambda m=model: m.denoise(image))
    if aeinfer.load("photo").card.preparation.params.get("dihedral"):
        averaged = aeinfer.load("photo")
        rows[ENSEMBLE_ROW] = megapixels / best(lambda: averaged.denoise(image, ensemble=True), 1)
    # The tensor-level model on the whole picture as one tensor: what the tiles cost.
    whole = aeinfer.load("photo").model
    x = np.asarray(image, np.float32).transpose(2, 0, 1)[None] / 255.0
    rows["fp32, whole picture in one call (no tiles)"] = megapixels / best(
        lambda: whole.reconstruct(x)
    )
    seconds, gflop, source = torch_eager(args.checkpoint, image)
    rows["torch eager fp32"] = megapixels / seconds
    import bm3d

    crop = np.asarray(image, np.float32)[:256, :256] / 255.0
    rows["BM3D (256² crop)"] = 0.065536 / best(lambda: bm3d.bm3d_rgb(crop, 25 / 255), 1)
    host = machine()
    ceiling = gemm_ceiling()
    print(f"{args.side}×{args.side} RGB, {host.cpu}, {host.cores} cores")
    print(f"torch eager: weights from {source}")
    if gflop is not None:
        print(
            f"convolutions: {gflop / megapixels:.1f} GFLOP per megapixel; GEMM ceiling (torch "
            f"2048² fp32 matmul, same threads) {ceiling:.0f} GFLOP/s"
        )
    print("| method | MP/s | × torch eager | GFLOP/s | % of GEMM ceiling |")
    print("|---|---:|---:|---:|---:|")
    for name, rate in rows.items():
        ratio = rate / rows["torch eager fp32"] if "torch eager fp32" in rows else float("nan")
        passes = PASSES if name == ENSEMBLE_ROW else 1
        flops = (
            "-" if gflop is None or "BM3D" in name else f"{passes * rate * gflop / megapixels:.0f}"
        )
        share = "-" if flops == "-" else f"{100 * float(flops) / ceiling:.0f}%"
        print(f"| {name} | {rate:.3f} | {ratio:.2f} | {flops} | {share} |")
    tile_sweep(image, args.tiles, args.sweep_side)


def with_tile(directory: Path, tile: int) -> Path:
    """A copy of the bundled photo model whose card serves it in ``tile``-pixel tiles, one at
    a time (the card's ``preparation.params``; the graphs are the same)."""
    bundled = aeinfer.load("photo").card.directory
    shutil.copytree(bundled, directory)
    card_path = directory / "card.json"
    card = json.loads(card_path.read_text())
    card["preparation"]["params"].update(tile=tile, batch=1)
    card_path.write_text(json.dumps(card, indent=2))
    return directory


def big_file(image: Image.Image, model: Path, tmp: Path, child: str = CHILD) -> tuple[float, float]:
    """(seconds, peak MB) of a child process denoising a 12 MP PNG with ``model`` (``child``:
    through the API, or :data:`CLI_CHILD`, the command with its routing)."""
    source = tmp / "big.png"
    if not source.exists():
        big = np.tile(np.asarray(image), (3, 4, 1))[: BIG[1], : BIG[0]]
        Image.fromarray(big).save(source)
    done = subprocess.run(
        [sys.executable, "-c", child, str(model), str(source), str(tmp / "out.png")],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    # The child's own peak, VmHWM (its address space's high-water mark, new at exec). Neither
    # RUSAGE_CHILDREN nor the child's RUSAGE_SELF will do: Linux carries the forked copy's peak,
    # which counts this process's pages, across exec (they read 974 to 2603 MB depending on
    # this process's size, for a child whose own peak is under 1 GB).
    seconds, peak_kb = (float(v) for v in done.stdout.split()[:2])
    return seconds, peak_kb / 1024


def tile_sweep(image: Image.Image, tiles: list[int], side: int) -> None:
    """Per tile size: throughput on a ``side``² picture against the whole picture in one call,
    and the 12 MP file's time and peak memory."""
    bundled = aeinfer.load("photo").card.preparation.params.get("tile")
    picture_ = picture(side)
    megapixels = side * side / 1e6
    x = np.asarray(picture_, np.float32).transpose(2, 0, 1)[None] / 255.0
    whole_model = aeinfer.load("photo").model
    whole = megapixels / best(lambda: whole_model.reconstruct(x))
    print(f"\ntiles ({side}×{side} RGB; whole picture in one call: {whole:.3f} MP/s):")
    print(f"| tile | MP/s | × whole | 12 MP ({BIG[0]}×{BIG[1]}) s | 12 MP peak RSS MB |")
    print("|---:|---:|---:|---:|---:|")
    for tile in tiles:
        with tempfile.TemporaryDirectory() as tmp:
            model_dir = with_tile(Path(tmp) / "photo", tile)
            model = aeinfer.load(model_dir)
            rate = megapixels / best(lambda m=model: m.denoise(picture_))
            seconds, peak_mb = big_file(image, model_dir, Path(tmp))
        mark = " (bundled)" if tile == bundled else ""
        print(f"| {tile}{mark} | {rate:.3f} | {rate / whole:.2f} | {seconds:.1f} | {peak_mb:.0f} |")
    with tempfile.TemporaryDirectory() as tmp:
        seconds, peak_mb = big_file(image, Path("photo"), Path(tmp), CLI_CHILD)
    print(f"`aeinfer denoise` on the 12 MP PNG (routing included): {seconds:.1f} s, ", end="")
    print(f"{peak_mb:.0f} MB peak")


if __name__ == "__main__":
    main()
