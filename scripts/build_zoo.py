"""Rebuild the bundled model zoo: train every family (resumable), export, check parity.

    python scripts/build_zoo.py [--families denoise vae ...] [--data-dir DIR] [--runs runs/zoo]
        [--jobs N] [--export-only]

Each family trains with its own defaults (``TRAINING`` in its module) into ``runs/zoo/FAMILY``;
rerunning resumes from the last checkpoint, and a finished family is not retrained. Each is then
exported into ``infer/models/FAMILY`` (encoder.onnx, decoder.onnx, their fp16/int8 variants and
card.json), which fails if ONNX Runtime disagrees with torch beyond the exporter's tolerance;
the card records the training configuration, seed, epochs, wall time, machine and the metrics,
and each variant's quality and speed measured against fp32 through ONNX Runtime.

Runs for hours on 2 CPU cores. ``--jobs N`` trains N families at once, each in its own process
on one thread (these small models use a second thread poorly, so on 2 cores two one-thread
jobs get through the zoo sooner than one job on both; how the bundled zoo was trained).
"""

from __future__ import annotations

import argparse
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from aeinfer.export.checkpoint import export_checkpoint
from aeinfer.train.registry import FAMILIES
from aeinfer.train.trainer import train
from aeinfer.zoo import MODELS_DIR


def _one_thread() -> None:
    import torch

    torch.set_num_threads(1)


def _train(family: str, run_dir: Path, data_dir: Path | None, progress: bool) -> str:
    result = train(family, run_dir, data_dir=data_dir, progress=progress)
    return f"{family}: {result.epochs_done} epochs, metrics {result.metrics}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", nargs="+", choices=list(FAMILIES), default=list(FAMILIES))
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--runs", type=Path, default=Path("runs/zoo"))
    parser.add_argument("--models", type=Path, default=MODELS_DIR)
    parser.add_argument("--jobs", type=int, default=1, help="Families trained at once.")
    parser.add_argument("--export-only", action="store_true", help="Export existing checkpoints.")
    args = parser.parse_args()
    if not args.export_only:
        if args.jobs > 1:
            with ProcessPoolExecutor(args.jobs, initializer=_one_thread) as pool:
                runs = [
                    pool.submit(_train, f, args.runs / f, args.data_dir, False)
                    for f in args.families
                ]
                for run in runs:
                    print(run.result(), flush=True)
        else:
            for family in args.families:
                print(_train(family, args.runs / family, args.data_dir, True), flush=True)
    for family in args.families:
        card = export_checkpoint(
            args.runs / family / "last.pt", args.models / family, data_dir=args.data_dir
        )
        print(f"{family}: exported to {args.models / family}; metrics {dict(card.metrics)}")


if __name__ == "__main__":
    main()
