"""Batch jobs on Ray Data against the single-process job, on the same folder, in one run.

    python scripts/bench_ray.py [--digits 2000] [--photos 16] [--cpus N] [--data-dir MNIST]

Two folders are made in a temporary directory: ``--digits`` MNIST test digits as 28×28 PNGs
(denoised by the ``denoise`` model) and ``--photos`` 512×512 noisy crops (σ 25) of the cached
photographs (denoised by ``photo``). Each is denoised three ways, outputs into a fresh folder:

- the single-process job (``aeinfer.jobs.map_files``; ONNX Runtime uses every core);
- Ray Data on a local cluster of ``--cpus`` CPUs with one actor of one CPU: the per-actor
  throughput, the figure that scales with nodes;
- Ray Data with one actor per CPU.

Ray's start (``ray.init``) is timed on its own; each Ray job's time includes starting its actors
and loading the model in each. Printed: items/s, items/s per CPU, and for a cluster of C cores
the paper estimate ``per-actor rate × C`` beside the bytes per second it reads and writes, which
is where a shared filesystem or an object store bounds it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_machine import machine  # scripts/ is on sys.path when run as a script
from PIL import Image

from aeinfer import cluster, jobs, mnist
from aeinfer.card import DENOISE
from aeinfer.model import load_model
from aeinfer.tasks import pipeline
from aeinfer.train import photos

SIGMA = 25.0
CROP = 512
CLUSTER_CORES = (64, 512)
"""Cluster sizes the paper estimate is printed for."""


def _digits(folder: Path, count: int, data_dir: Path | None) -> None:
    split = mnist.load_split("test", data_dir)
    folder.mkdir(parents=True)
    for index, image in enumerate(split.images[:count]):
        Image.fromarray(image).save(folder / f"{index:05d}.png")


def _photos(folder: Path, count: int) -> None:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    names = sorted(p for p in photos.default_dir().iterdir() if p.suffix in (".png", ".jpg"))
    made = 0
    while made < count:
        for path in names:
            picture = np.asarray(Image.open(path).convert("RGB"), np.float32)
            if min(picture.shape[:2]) < CROP or made >= count:
                continue
            top = rng.integers(0, picture.shape[0] - CROP + 1)
            left = rng.integers(0, picture.shape[1] - CROP + 1)
            crop = picture[top : top + CROP, left : left + CROP]
            noisy = np.clip(crop + rng.normal(0, SIGMA, crop.shape), 0, 255).round()
            Image.fromarray(noisy.astype(np.uint8)).save(folder / f"{made:04d}.png")
            made += 1


def _bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _row(name: str, items: int, seconds: float, cpus: int) -> float:
    rate = items / seconds
    print(f"| {name} | {seconds:.1f} | {rate:.1f} | {rate / cpus:.1f} |")
    return rate


def _compare(label: str, folder: Path, model: str, cpus: int, scratch: Path) -> None:
    items = len(list(folder.iterdir()))
    size_in = _bytes(folder) / items
    print(f"\n{label}: {items} files, {size_in / 1024:.1f} KiB each, model {model!r}")
    print("| job | s | items/s | items/s per CPU |\n|---|---:|---:|---:|")
    pipe = pipeline(load_model(model, "cpu"))
    out = scratch / f"{model}-single"
    start = time.perf_counter()
    report = jobs.map_files(pipe, [folder], out, jobs.DENOISED_TAG, task=DENOISE)
    _row(f"single process ({cpus} threads)", items, time.perf_counter() - start, cpus)
    assert len(report.written) == items, report.failed[:3]
    size_out = _bytes(out) / items
    per_actor = 0.0
    for actors in (1, cpus):
        target = scratch / f"{model}-ray{actors}"
        work = cluster.Work(DENOISE, model)
        start = time.perf_counter()
        report = cluster.map_files(
            [str(folder)],
            str(target),
            "denoised",
            work,
            cluster.Cluster(actors=actors),  # the default batch size, as a user gets
        )
        seconds = time.perf_counter() - start
        assert len(report.written) == items, report.failed[:3]
        rate = _row(f"Ray Data, {actors} actor(s) × 1 CPU", items, seconds, actors)
        if actors == 1:
            per_actor = rate
    for cores in CLUSTER_CORES:
        rate = per_actor * cores
        io = rate * (size_in + size_out) / 2**20
        print(
            f"- on paper, {cores} cores: {rate:,.0f} items/s, reading and writing {io:,.0f} MiB/s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digits", type=int, default=2000)
    parser.add_argument("--photos", type=int, default=16)
    parser.add_argument("--cpus", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--data-dir", type=Path, default=None, help="The MNIST folder.")
    args = parser.parse_args()
    import ray

    print("\n".join(machine().describe()))
    scratch = Path(tempfile.mkdtemp(prefix="aeinfer-bench-ray-"))
    try:
        _digits(scratch / "digits", args.digits, args.data_dir)
        _photos(scratch / "photos", args.photos)
        start = time.perf_counter()
        cluster.connect(cluster.LOCAL) if args.cpus == os.cpu_count() else ray.init(
            num_cpus=args.cpus, include_dashboard=False, log_to_driver=False
        )
        print(
            f"ray.init (a local cluster of {args.cpus} CPUs): {time.perf_counter() - start:.1f} s"
        )
        _compare("MNIST digits", scratch / "digits", "denoise", args.cpus, scratch)
        _compare(f"{CROP}×{CROP} noisy photos", scratch / "photos", "photo", args.cpus, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        if ray.is_initialized():
            ray.shutdown()


if __name__ == "__main__":
    main()
