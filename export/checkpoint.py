"""Export a trained aeinfer checkpoint: rebuild the model and its data from the checkpoint alone.

The checkpoint carries its family, configs and data spec (see :mod:`aeinfer.train.trainer`), so
nothing else is needed but the data itself (``data_dir`` says where it is now, if it moved). The
held-out split serves as the real parity inputs (its first items), gives the card its
reference score distribution (all of it, or its first ``score_limit`` items), and judges the
fp16/int8 variants, which are calibrated on the first training items (see
:mod:`aeinfer.export.variants`). The card says what the data was and which files were held out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from aeinfer.card import Card
from aeinfer.export.onnx_export import ScoreData, Tolerance, export_pair
from aeinfer.export.runner import ort_available
from aeinfer.export.variants import VARIANTS, Int8Recipe, VariantData, add_variants
from aeinfer.quality import NOISE_FACTOR
from aeinfer.train.data import load_dataset, normalized, spec_from_dict
from aeinfer.train.families.base import primary_metric
from aeinfer.train.trainer import load_checkpoint, machine_description, rebuild, to_layout

PARITY_ITEMS = 64
CALIBRATION_ITEMS = 512
"""Training items that calibrate int8 activation ranges: enough to see every class's extremes."""
HELD_OUT_LISTED = 200
NO_RUNTIME = (
    "making and measuring variants needs ONNX Runtime at export: pip install 'aeinfer[cpu]'"
)


FIXED_SIZE_ADAPTERS = ("mnist_digit", "image")
"""Preparations that fit an input into one fixed size."""


def training_record(ckpt: dict[str, Any]) -> dict[str, Any]:
    """What a card says about how a checkpoint was trained and on what."""
    history = ckpt["history"]
    dataset = ckpt["dataset"]
    held_out = list(dataset.get("held_out", []))
    return {
        "data": dataset["description"],
        "held_out": dataset["held_out_description"],
        **({"held_out_files": held_out[:HELD_OUT_LISTED]} if held_out else {}),
        **(
            {"held_out_files_not_listed": len(held_out) - HELD_OUT_LISTED}
            if len(held_out) > HELD_OUT_LISTED
            else {}
        ),
        "model_config": ckpt["model_config"],
        "train_config": ckpt["train_config"],
        "seed": ckpt["train_config"]["seed"],
        "epochs": history[-1]["epoch"] if history else 0,
        "steps": ckpt["step"],
        "wall_time_s": round(float(ckpt["wall_time_s"]), 1),
        "machine": ckpt["machine"],
        "framework": f"torch {ckpt['torch_version']}",
        **({"init_from": ckpt["init_from"]} if "init_from" in ckpt else {}),
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
) -> Card:
    """Export ``ckpt_path`` into the model directory ``out_dir`` (named after it unless
    ``name``); returns the card. ``score_limit`` measures the score distribution and the
    variants on only the first N held-out items (smoke tests); ``variants`` are the reduced
    precisions to add beside fp32 (none: ``()``; skipped, and said so in the card, without
    ONNX Runtime)."""
    ckpt = load_checkpoint(ckpt_path)
    family, cfg, encoder, decoder = rebuild(ckpt)
    dataset = load_dataset(spec_from_dict(ckpt["data"]), data_dir)
    record = ckpt["dataset"]
    units = record["normalization"]
    held_out = dataset.val[:score_limit]
    real = to_layout(torch.from_numpy(normalized(held_out[:PARITY_ITEMS], units)), family.LAYOUT)
    split = (
        record["held_out_description"]
        if len(held_out) == len(dataset.val)
        else f"{record['held_out_description']}, first {len(held_out)}"
    )
    validated = min(ckpt["train_config"].get("val_limit") or len(dataset.val), len(dataset.val))
    primary = primary_metric(family.PRIMARY_METRIC, cfg.head)
    # The family docstring's first line reads "``name``: what it is"; the card keeps the what.
    doc = (family.__doc__ or "").strip().splitlines()
    # Said before the graphs are written: they carry the card, not_made included.
    not_made = dict.fromkeys(variants, NO_RUNTIME) if variants and not ort_available() else {}
    free_axes = getattr(family, "FREE_AXES", ())
    preparation = record["preparation"]
    if free_axes and preparation and preparation.get("adapter") in FIXED_SIZE_ADAPTERS:
        # A fully convolutional family takes any size, whatever size it trained on (MNIST's
        # 28×28 for the photo denoiser's smoke run): the default for free axes, tiles, serves it.
        preparation = None
    card = export_pair(
        encoder,
        decoder,
        real[:2],
        out_dir,
        name=name,
        family=ckpt["family"],
        description=doc[0].split(": ", 1)[-1] if doc else "",
        item_shape=tuple(record["item"]),
        free_axes=free_axes,
        multiple_of=getattr(family, "MULTIPLE_OF", 1),
        value_range=None if record["range"] is None else tuple(record["range"]),
        normalization=units,
        channels=record["channels"],
        preparation=preparation,
        latent_kind=family.LATENT_KIND,
        tasks=_tasks(family),
        metrics={
            "split": f"{record['held_out_description']}, first {validated} items "
            "(torch, end of training)",
            "primary": primary,
            **ckpt["metrics"],
        },
        training=training_record(ckpt),
        not_made=not_made,
        real_inputs=real,
        tolerance=tolerance,
        score_data=ScoreData(held_out.astype(np.float32), split),
    )
    if not variants or not_made:
        return card
    items = dataset.train[:CALIBRATION_ITEMS].astype(np.float32)
    # A family may say what its served inputs look like (a denoiser's are noisy): int8
    # activation ranges calibrated on anything else clip them.
    if hasattr(family, "calibration_items"):
        items = family.calibration_items(items, cfg).astype(np.float32)
    data = VariantData(
        calibration=items,
        evaluation=held_out.astype(np.float32),
        evaluation_split=split,
        noise=eval_noise_factor(family, cfg),
        int8=Int8Recipe(
            percentile=getattr(family, "INT8_PERCENTILE", None),
            float_ends=getattr(family, "INT8_FLOAT_ENDS", False),
        ),
    )
    return add_variants(out_dir, data, primary, machine=machine_description(), precisions=variants)


def eval_noise_factor(family: Any, cfg: Any) -> float:
    """The noise factor (on [0, 1]) a family is judged at: its ``eval_noise_factor(cfg)``, its
    config's ``eval_noise``, or the zoo's 0.5."""
    if hasattr(family, "eval_noise_factor"):
        return float(family.eval_noise_factor(cfg))
    return float(getattr(cfg, "eval_noise", NOISE_FACTOR))


def _tasks(family: Any) -> list[str]:
    from aeinfer.export.onnx_export import DEFAULT_TASKS

    extra = list(family.TASKS)
    sample = ["sample"] if family.LATENT_KIND == "gaussian" else []
    return [*DEFAULT_TASKS[:3], *extra, *DEFAULT_TASKS[3:], *sample]
