"""Rebuild the bundled model zoo: train every family (resumable), export, check parity.

    python scripts/build_zoo.py [--families denoise vae ...] [--data-dir DIR] [--runs runs/zoo]
        [--jobs N] [--export-only] [--init-from-bundled] [--epochs N] [--lr LR]

Each family trains with its own defaults (``TRAINING`` in its module) into ``runs/zoo/FAMILY``;
rerunning resumes from the last checkpoint, and a finished family is not retrained. Each is then
exported into ``infer/models/FAMILY`` (encoder.onnx, decoder.onnx, their fp16/int8 variants and
card.json), which fails if ONNX Runtime disagrees with torch beyond the exporter's tolerance;
the card records the training configuration, seed, epochs, wall time, machine and the metrics,
and each variant's quality and speed measured against fp32 through ONNX Runtime.

``--init-from-bundled`` starts each (new) run from the weights of the bundled model of that
name, read from its fp32 graphs (``scripts/graph_modules.py``), to train it further, e.g. on
more data; ``--epochs`` and ``--lr`` override the family's ``TRAINING`` for such a run. The
card records both.

Runs for hours on 2 CPU cores. ``--jobs N`` trains N families at once, each in its own process
on one thread (these small models use a second thread poorly, so on 2 cores two one-thread
jobs get through the zoo sooner than one job on both; how the bundled zoo was trained).
"""

from __future__ import annotations

import argparse
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch
from graph_modules import modules_from_graphs  # scripts/ is on sys.path when run as a script

from aeinfer.export.checkpoint import export_checkpoint
from aeinfer.train.registry import FAMILIES
from aeinfer.train.trainer import train
from aeinfer.zoo import MODELS_DIR


def _one_thread() -> None:
    import torch

    torch.set_num_threads(1)


INIT_FILE = "init.pt"


def bundled_weights(family: str, run_dir: Path) -> Path:
    """The bundled model ``family``'s weights as a weights file in ``run_dir`` (to start from)."""
    import aeinfer

    card = aeinfer.load(family, device="cpu").card
    _, encoder, decoder = modules_from_graphs(family)
    graphs = card.graphs["fp32"]
    epochs = card.provenance["training"]["epochs"]
    description = (
        f"the bundled {family} model ({epochs} epochs), read from its fp32 graphs "
        f"(encoder sha256 {graphs.encoder.sha256[:12]}, decoder {graphs.decoder.sha256[:12]})"
    )
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / INIT_FILE
    state = {"encoder": encoder.state_dict(), "decoder": decoder.state_dict()}
    torch.save({**state, "description": description}, path)
    return path


def _train(
    family: str,
    run_dir: Path,
    data_dir: Path | None,
    progress: bool,
    overrides: dict[str, float | int],
    init_from: Path | None,
) -> str:
    result = train(
        family,
        run_dir,
        data_dir=data_dir,
        train_overrides=overrides or None,
        init_from=init_from,
        progress=progress,
    )
    return f"{family}: {result.epochs_done} epochs, metrics {result.metrics}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", nargs="+", choices=list(FAMILIES), default=list(FAMILIES))
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--runs", type=Path, default=Path("runs/zoo"))
    parser.add_argument("--models", type=Path, default=MODELS_DIR)
    parser.add_argument("--jobs", type=int, default=1, help="Families trained at once.")
    parser.add_argument("--export-only", action="store_true", help="Export existing checkpoints.")
    parser.add_argument(
        "--init-from-bundled", action="store_true", help="Start from the bundled weights."
    )
    parser.add_argument("--epochs", type=int, default=None, help="Override TRAINING's epochs.")
    parser.add_argument("--lr", type=float, default=None, help="Override TRAINING's lr.")
    args = parser.parse_args()
    overrides = {
        key: value for key, value in (("epochs", args.epochs), ("lr", args.lr)) if value is not None
    }
    if not args.export_only:
        inits = {
            family: bundled_weights(family, args.runs / family)
            if args.init_from_bundled and not (args.runs / family / "last.pt").is_file()
            else None
            for family in args.families
        }
        jobs = [
            (f, args.runs / f, args.data_dir, args.jobs == 1, overrides, inits[f])
            for f in args.families
        ]
        if args.jobs > 1:
            with ProcessPoolExecutor(args.jobs, initializer=_one_thread) as pool:
                for run in [pool.submit(_train, *job) for job in jobs]:
                    print(run.result(), flush=True)
        else:
            for job in jobs:
                print(_train(*job), flush=True)
    for family in args.families:
        card = export_checkpoint(
            args.runs / family / "last.pt", args.models / family, data_dir=args.data_dir
        )
        print(f"{family}: exported to {args.models / family}; metrics {dict(card.metrics)}")


if __name__ == "__main__":
    main()
