"""Export a trained aeinfer checkpoint: rebuild the model from the checkpoint alone, export it.

The checkpoint carries its family and configs (see :mod:`aeinfer.train.trainer`), so nothing
else is needed but the MNIST test split: its first images serve as real parity inputs, and all
of it (or its first ``score_limit`` images) gives the card's anomaly-score distribution, measured
with ONNX Runtime on the exported graphs (see :func:`aeinfer.export.onnx_export.measure_scores`).
The fp16 and int8 variants are then made (int8 calibrated on the first training images) and
measured on the same test images (see :mod:`aeinfer.export.variants`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from aeinfer.export.onnx_export import ExportSpec, ScoreData, Tolerance, export_pair
from aeinfer.export.variants import VARIANTS, VariantData, add_variants
from aeinfer.train.data import load_split
from aeinfer.train.trainer import (
    images_to_tensor,
    load_checkpoint,
    machine_description,
    rebuild,
    to_layout,
)

PARITY_IMAGES = 64
# Training images that calibrate int8 activation ranges: enough to see every digit's extremes.
CALIBRATION_IMAGES = 512
SCORE_SPLIT = "MNIST test"
UINT8_MAX = 255.0


def training_record(ckpt: dict[str, Any]) -> dict[str, Any]:
    """What a card says about how a checkpoint was trained."""
    history = ckpt["history"]
    return {
        "data": ckpt["training_data"],
        "model_config": ckpt["model_config"],
        "train_config": ckpt["train_config"],
        "seed": ckpt["train_config"]["seed"],
        "epochs": history[-1]["epoch"] if history else 0,
        "steps": ckpt["step"],
        "wall_time_s": round(float(ckpt["wall_time_s"]), 1),
        "machine": ckpt["machine"],
        "framework": f"torch {ckpt['torch_version']}",
    }


def export_checkpoint(
    ckpt_path: Path,
    out_dir: Path,
    *,
    name: str | None = None,
    data_dir: Path | None = None,
    tolerance: Tolerance = Tolerance(),
    score_limit: int | None = None,
    variants: tuple[str, ...] = VARIANTS,
) -> dict[str, Any]:
    """Export ``ckpt_path`` into the model directory ``out_dir``; returns the card.

    ``score_limit`` measures the score distribution and the variants on only the first N test
    images (smoke tests); by default the whole test split is used. ``variants`` are the
    reduced precisions to add beside fp32 (none: ``()``).
    """
    ckpt = load_checkpoint(ckpt_path)
    family, _, encoder, decoder = rebuild(ckpt)
    test_images = load_split("test", data_dir).images
    real = to_layout(images_to_tensor(test_images[:PARITY_IMAGES]), family.LAYOUT)
    scored = test_images[:score_limit]
    score_data = ScoreData(
        images=scored.astype(np.float32) / UINT8_MAX,
        split=SCORE_SPLIT if len(scored) == len(test_images) else f"{SCORE_SPLIT}[:{len(scored)}]",
    )
    validated = min(ckpt["train_config"].get("val_limit") or len(test_images), len(test_images))
    # The family docstring's first line reads "``name``: what it is"; the card keeps the what.
    doc = (family.__doc__ or "").strip().splitlines()
    spec = ExportSpec(
        name=name or ckpt["family"],
        family=ckpt["family"],
        layout=family.LAYOUT,
        latent_kind=family.LATENT_KIND,
        description=doc[0].split(": ", 1)[-1] if doc else "",
        training=training_record(ckpt),
        metrics={
            "split": f"MNIST test, first {validated} images (torch, end of training)",
            "primary": family.PRIMARY_METRIC,
            **ckpt["metrics"],
        },
    )
    card = export_pair(
        encoder,
        decoder,
        real[:2],
        out_dir,
        spec,
        real_inputs=real,
        tolerance=tolerance,
        score_data=score_data,
    )
    if not variants:
        return card
    calibration = load_split("train", data_dir).images[:CALIBRATION_IMAGES]
    data = VariantData(
        calibration=calibration.astype(np.float32) / UINT8_MAX,
        evaluation=score_data.images,
        evaluation_split=score_data.split,
    )
    return add_variants(
        out_dir, data, family.PRIMARY_METRIC, machine=machine_description(), precisions=variants
    )
