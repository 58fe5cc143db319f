"""The photo denoiser's speed on the CPU: ONNX Runtime against torch eager and BM3D, in one run.

    python scripts/photo_speed.py [--checkpoint runs/zoo/photo/last.pt] [--side 1024]

Megapixels per second denoising one RGB picture of ``--side``² pixels (a held-out photograph
tiled up to that size), best of three after a warm-up:

- ``aeinfer`` at each precision the card lists: ``aeinfer.load("photo", precision=…)`` on the
  picture, the user's path (tiles, preparation, restore included);
- torch eager, the same weights (the training checkpoint; git-ignored, made by
  ``scripts/build_zoo.py --families photo``), on the whole picture as one tensor, no grad;
- BM3D (``bm3d.bm3d_rgb``) on a 256×256 crop (it is slow), scaled to MP/s.

Beside each rate: the GFLOP/s it reaches (convolutions counted by forward hooks on the torch
modules) and its share of the GEMM ceiling (``bench_throughput.gemm_ceiling``: a 2048² fp32
matrix product in torch on the same threads), and the tensor-level model on the whole picture
as one tensor, to show what the tiles cost.

Then a 12-megapixel PNG (4000×3000, the noisy picture tiled) is denoised from its file and
written back by a child process, whose wall time and peak resident memory (``ru_maxrss``)
are printed: the tiles keep memory bounded.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_machine import machine  # scripts/ is on sys.path when run as a script
from bench_throughput import gemm_ceiling
from PIL import Image

import aeinfer
from aeinfer.train import photos

REPEATS = 3
BIG = (4000, 3000)
CHILD = """
import resource, sys, time
import aeinfer
model = aeinfer.load("photo")
start = time.perf_counter()
out = model.denoise(sys.argv[1])
out.save(sys.argv[2])
print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
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


def torch_eager(checkpoint: Path, image: Image.Image) -> tuple[float, float] | None:
    """(seconds, GFLOP) of torch eager on ``image`` as one tensor, from the checkpoint."""
    if not checkpoint.is_file():
        print(f"torch eager: {checkpoint} not found (make it with scripts/build_zoo.py)")
        return None
    import torch

    from aeinfer.train.registry import get_family
    from aeinfer.train.trainer import config_of, load_checkpoint

    ckpt = load_checkpoint(checkpoint)
    family = get_family(ckpt["family"])
    encoder, decoder = family.build(config_of(family, ckpt["model_config"]))
    encoder.load_state_dict(ckpt["encoder"])
    decoder.load_state_dict(ckpt["decoder"])
    encoder.eval()
    decoder.eval()
    x = torch.from_numpy(np.asarray(image, np.float32).transpose(2, 0, 1)[None] / 255.0)

    def run() -> None:
        with torch.no_grad():
            decoder(encoder(x))

    return best(run), conv_gflop(encoder, decoder, x)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=Path("runs/zoo/photo/last.pt"))
    parser.add_argument("--side", type=int, default=1024)
    args = parser.parse_args()
    image = picture(args.side)
    megapixels = args.side * args.side / 1e6
    rows: dict[str, float] = {}
    for precision in aeinfer.load("photo").precisions:
        model = aeinfer.load("photo", precision=precision)
        rows[f"aeinfer {precision}"] = megapixels / best(lambda m=model: m.denoise(image))
    # The tensor-level model on the whole picture as one tensor: what the tiles cost.
    whole = aeinfer.load("photo").model
    x = np.asarray(image, np.float32).transpose(2, 0, 1)[None] / 255.0
    rows["fp32, whole picture in one call (no tiles)"] = megapixels / best(
        lambda: whole.reconstruct(x)
    )
    eager = torch_eager(args.checkpoint, image)
    gflop = None
    if eager is not None:
        rows["torch eager fp32"] = megapixels / eager[0]
        gflop = eager[1]
    import bm3d

    crop = np.asarray(image, np.float32)[:256, :256] / 255.0
    rows["BM3D (256² crop)"] = 0.065536 / best(lambda: bm3d.bm3d_rgb(crop, 25 / 255), 1)
    host = machine()
    ceiling = gemm_ceiling()
    print(f"{args.side}×{args.side} RGB, {host.cpu}, {host.cores} cores")
    if gflop is not None:
        print(
            f"convolutions: {gflop / megapixels:.1f} GFLOP per megapixel; GEMM ceiling (torch "
            f"2048² fp32 matmul, same threads) {ceiling:.0f} GFLOP/s"
        )
    print("| method | MP/s | × torch eager | GFLOP/s | % of GEMM ceiling |")
    print("|---|---:|---:|---:|---:|")
    for name, rate in rows.items():
        ratio = rate / rows["torch eager fp32"] if "torch eager fp32" in rows else float("nan")
        flops = "-" if gflop is None or "BM3D" in name else f"{rate * gflop / megapixels:.0f}"
        share = "-" if flops == "-" else f"{100 * float(flops) / ceiling:.0f}%"
        print(f"| {name} | {rate:.3f} | {ratio:.2f} | {flops} | {share} |")
    with tempfile.TemporaryDirectory() as tmp:
        # The 12 MP file is written here; the child only reads it, denoises and writes the PNG.
        source = Path(tmp) / "big.png"
        big = np.tile(np.asarray(image), (3, 4, 1))[: BIG[1], : BIG[0]]
        Image.fromarray(big).save(source)
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(source), str(Path(tmp) / "out.png")],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
    # The child's own peak: RUSAGE_CHILDREN would count this process's pages, which a forked
    # child holds until it execs (it read 974 to 2603 MB depending on this process's size).
    seconds, peak_kb = (float(v) for v in done.stdout.split()[:2])
    peak_mb = peak_kb / 1024
    print(f"12 MP ({BIG[0]}×{BIG[1]}): {seconds:.1f} s, peak RSS {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
