"""CUDA against CPU for the bundled models, through ``aeinfer.load`` (needs onnxruntime-gpu).

    python scripts/bench_cuda.py [--models denoise ...] [--batches 1 64 1024] [--rounds 8]
        [--round-seconds 0.25] [--json OUT.json]

For every bundled model: the providers requested and obtained on each device (read back from the
sessions, as aeinfer does: onnxruntime-gpu lists CUDA even where it cannot start it), then
``reconstruct`` throughput on random items of the model's shape ((N, 1, 28, 28) for the zoo) on
``cuda`` (IO binding: codes stay on the GPU between encoder and decoder) and on ``cpu`` in
interleaved rounds at each batch size: images/s, median and p99 latency, and the CUDA/CPU ratio.
Outputs of the two devices are compared first.

Exits with one line saying why when CUDA cannot be obtained (no onnxruntime-gpu, no GPU, or
CUDA/cuDNN libraries that do not load). Not part of the test suite or CI.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from bench_machine import machine, markdown_table
from bench_timing import interleaved

import aeinfer
from aeinfer.errors import AeinferError
from aeinfer.zoo import bundled_names

DEVICES = ("cuda", "cpu")
DEFAULT_BATCHES = (1, 64, 1024)
DEFAULT_ROUNDS = 8
DEFAULT_ROUND_SECONDS = 0.25
# CUDA kernels (cuDNN convolution algorithms, TF32 off) differ from the CPU's in the last bits.
AGREEMENT_ATOL = 1e-3
SEED = 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", help="bundled model names (default: all)")
    parser.add_argument("--batches", nargs="*", type=int, default=list(DEFAULT_BATCHES))
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS)
    parser.add_argument("--round-seconds", type=float, default=DEFAULT_ROUND_SECONDS)
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args()
    rng = np.random.default_rng(SEED)
    rows, placements = [], []
    for name in args.models or bundled_names():
        try:
            models = {device: aeinfer.load(name, device=device) for device in DEVICES}
        except AeinferError as exc:
            raise SystemExit(f"bench_cuda: {exc}") from None
        for device, model in models.items():
            placements.append([name, device, ", ".join(model.providers)])
        item = tuple(int(size or 0) for size in models["cpu"].item_shape)  # (1, 28, 28)
        probe = rng.random((16, *item), dtype=np.float32)
        outputs = [models[device].reconstruct(probe) for device in DEVICES]
        diff = float(np.abs(outputs[0] - outputs[1]).max())
        if diff > AGREEMENT_ATOL:
            raise SystemExit(f"bench_cuda: {name}: CUDA and CPU disagree by {diff:.3g}")
        for batch in args.batches:
            x = rng.random((batch, *item), dtype=np.float32)
            calls = {d: (lambda m=m, x=x: m.reconstruct(x)) for d, m in models.items()}
            timings = interleaved(calls, batch, args.rounds, args.round_seconds)
            cuda, cpu = timings["cuda"], timings["cpu"]
            rows.append(
                {
                    "model": name,
                    "batch": batch,
                    "cuda_images_per_s": cuda.images_per_s,
                    "cpu_images_per_s": cpu.images_per_s,
                    "cuda_median_ms": cuda.median_ms,
                    "cpu_median_ms": cpu.median_ms,
                    "cuda_p99_ms": cuda.p99_ms,
                    "cpu_p99_ms": cpu.p99_ms,
                    "ratio": cuda.images_per_s / cpu.images_per_s,
                    "max_abs_diff": diff,
                }
            )
            print(f"  {name} b={batch}: ×{rows[-1]['ratio']:.2f}", file=sys.stderr)
    host = machine()
    print("\n".join(["### Machine", "", *host.describe(), ""]))
    print(markdown_table(["model", "device", "providers obtained (in order)"], placements))
    print()
    header = ["model", "batch", "CUDA img/s", "CPU img/s", "CUDA/CPU", "CUDA median ms",
              "CPU median ms", "CUDA p99 ms", "CPU p99 ms"]  # fmt: skip
    body = [
        [
            r["model"],
            str(r["batch"]),
            f"{r['cuda_images_per_s']:,.0f}",
            f"{r['cpu_images_per_s']:,.0f}",
            f"{r['ratio']:.2f}×",
            f"{r['cuda_median_ms']:.3f}",
            f"{r['cpu_median_ms']:.3f}",
            f"{r['cuda_p99_ms']:.3f}",
            f"{r['cpu_p99_ms']:.3f}",
        ]
        for r in rows
    ]
    print(markdown_table(header, body))
    if args.json:
        payload = {"machine": host.as_dict(), "placements": placements, "rows": rows}
        args.json.write_text(json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    main()
