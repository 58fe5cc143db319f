"""Rebuild the bundled model zoo: train every family (resumable), export, check parity.

    python scripts/build_zoo.py [--families denoise vae ...] [--data-dir DIR] [--runs runs/zoo]

Each family trains with its own defaults (``TRAINING`` in its module) into ``runs/zoo/FAMILY``;
rerunning resumes from the last checkpoint, and a finished family is not retrained. Each is then
exported into ``infer/models/FAMILY`` (encoder.onnx, decoder.onnx, card.json), which fails if
ONNX Runtime disagrees with torch beyond the exporter's tolerance. Runs for hours on 2 CPU cores.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from aeinfer.export.checkpoint import export_checkpoint
from aeinfer.train.registry import FAMILIES
from aeinfer.train.trainer import train
from aeinfer.zoo import MODELS_DIR


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", nargs="+", choices=list(FAMILIES), default=list(FAMILIES))
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--runs", type=Path, default=Path("runs/zoo"))
    parser.add_argument("--models", type=Path, default=MODELS_DIR)
    parser.add_argument("--export-only", action="store_true", help="Export existing checkpoints.")
    args = parser.parse_args()
    for family in args.families:
        run_dir = args.runs / family
        if not args.export_only:
            train(family, run_dir, data_dir=args.data_dir)
        card = export_checkpoint(run_dir / "last.pt", args.models / family, data_dir=args.data_dir)
        print(f"{family}: exported to {args.models / family}; metrics {card['metrics']}")


if __name__ == "__main__":
    main()
