"""One generic trainer for every family and any data: seeded, resumable, validated held out.

The data is MNIST, a folder of images or a folder of signals (:mod:`aeinfer.train.data`); the
family's config takes its item shape and head from the data (``item``, ``head``), never from
MNIST constants. The checkpoint (``last.pt`` in the run directory) carries the family name, both
configs and the data spec, so export can rebuild the model and reload its data from the
checkpoint alone (as nanoGPT keeps ``model_args``). It is written atomically at every epoch end
and when ``max_steps`` stops a run, and holds everything needed to continue exactly where it
stopped: weights, optimizer, schedule, step, RNG state. Shuffling is seeded per epoch, so a run
resumed mid-epoch skips the batches already seen.

A run may start from another model's weights (``init_from``: a weights file of the same
architecture, e.g. a bundled model's weights read from its graphs): the optimizer, schedule and
data start afresh, and the checkpoint, then the card, record where the weights came from.
"""

from __future__ import annotations

import math
import os
import pickle
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch
from torch import nn

from aeinfer.card import IMAGE
from aeinfer.errors import CheckpointError, DataError
from aeinfer.train.config import SCHEDULES, TrainConfig
from aeinfer.train.data import (
    MNIST,
    Dataset,
    DataSpec,
    load_dataset,
    normalized,
    spec_from_dict,
)
from aeinfer.train.families.base import FLAT, ITEM, LINEAR, ROWS, SIGMOID, StepContext
from aeinfer.train.registry import get_family

CHECKPOINT_FILE = "last.pt"
CHECKPOINT_FORMAT = 2
EVAL_BATCH = 1000
# Evaluation noise/sampling uses its own fixed seed so every epoch is scored on the same draw.
EVAL_SEED = 20_161_114
WARMUP_FRACTION = 0.02


def to_layout(items: torch.Tensor, layout: str) -> torch.Tensor:
    """An item batch (N, *item) → the family's input layout: flattened, as it is, or rows (a
    grey image without its channel axis; a signal as it is)."""
    if layout == FLAT:
        return items.reshape(items.shape[0], -1)
    if layout == ITEM:
        return items
    if layout == ROWS:
        return items[:, 0] if items.ndim == 4 else items
    raise ValueError(f"unknown layout {layout!r}")


def images_to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, 28, 28) digits → float32 items (N, 1, 28, 28) in [0, 1]."""
    return torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)


def _merge(base: Any, overrides: dict[str, Any] | None) -> Any:
    """A frozen dataclass with ``overrides`` applied; unknown keys are an error."""
    if not overrides:
        return base
    valid = {f.name for f in fields(base)}
    unknown = sorted(set(overrides) - valid)
    if unknown:
        raise CheckpointError(
            f"unknown setting(s) {', '.join(unknown)} for {type(base).__qualname__}; "
            f"valid: {', '.join(sorted(valid))}"
        )
    return replace(base, **overrides)


RESUME_MAY_CHANGE = ("max_steps", "epochs")
"""Settings a resumed run may change: where it stops (``max_steps``) and how long it is
(``epochs``: a run cut short or extended; the cosine schedule is recomputed for the new length,
a step in the learning rate at the change). Anything else needs a new run directory."""


def _schedule(cfg: TrainConfig, total_steps: int) -> Callable[[int], float]:
    """Learning-rate multiplier per step: constant, or linear warm-up then cosine to zero."""
    if cfg.schedule not in SCHEDULES:
        raise CheckpointError(f"unknown schedule {cfg.schedule!r}; valid: {', '.join(SCHEDULES)}")
    if cfg.schedule == "constant":
        return lambda step: 1.0
    warmup = max(1, int(WARMUP_FRACTION * total_steps))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor


@dataclass
class TrainResult:
    """Where the checkpoint is and what the last validation measured."""

    checkpoint: Path
    epochs_done: int
    steps: int
    metrics: dict[str, float]
    wall_time_s: float


def machine_description() -> str:
    """A short description of the machine for cards (CPU model and core count)."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{cpu}, {os.cpu_count()} logical cores"


def evaluate(
    family: ModuleType,
    encoder: nn.Module,
    decoder: nn.Module,
    model_cfg: Any,
    images: torch.Tensor,
) -> dict[str, float]:
    """The family's metrics over items (N, *item) in training units, averaged weighting by
    batch size."""
    encoder.eval()
    decoder.eval()
    gen = torch.Generator().manual_seed(EVAL_SEED)
    totals: dict[str, float] = {}
    with torch.no_grad():
        for start in range(0, images.shape[0], EVAL_BATCH):
            batch = to_layout(images[start : start + EVAL_BATCH], family.LAYOUT)
            for key, value in family.metrics(encoder, decoder, batch, model_cfg, gen).items():
                totals[key] = totals.get(key, 0.0) + value * batch.shape[0]
    return {key: value / images.shape[0] for key, value in totals.items()}


# What torch.load raises on a file that is not a checkpoint; the weights-only unpickler also
# raises IndexError or KeyError (LookupError) on some garbage.
CHECKPOINT_KEYS = (
    "family", "model_config", "train_config", "data", "dataset", "encoder", "decoder", "history",
)  # fmt: skip
# torch's weights-only unpickler raises any of these on bytes that are not a checkpoint.
_UNREADABLE = (pickle.UnpicklingError, RuntimeError, OSError, EOFError, ValueError, LookupError)


def _load_safely(path: Path, what: str) -> Any:
    """``torch.load`` with ``weights_only=True``; a missing or unreadable file is one line."""
    if not path.is_file():
        raise CheckpointError(f"{path}: {what} not found")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except _UNREADABLE as exc:
        raise CheckpointError(f"{path}: not a readable {what} ({_first_line(exc)})") from exc


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True`` and check it names a known family."""
    ckpt = _load_safely(path, "checkpoint")
    if not isinstance(ckpt, dict) or "format" not in ckpt:
        raise CheckpointError(f"{path}: not an aeinfer checkpoint")
    if ckpt["format"] != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{path}: checkpoint format {ckpt['format']}, this aeinfer reads {CHECKPOINT_FORMAT} "
            "(train again, or export it with the aeinfer that wrote it)"
        )
    missing = [key for key in CHECKPOINT_KEYS if key not in ckpt]
    if missing:
        raise CheckpointError(f"{path}: checkpoint lacks {', '.join(missing)}")
    get_family(ckpt["family"])
    return ckpt


def config_of(family: ModuleType, data: dict[str, Any]) -> Any:
    """A family config from the plain dict a checkpoint stores (lists back to tuples)."""
    return family.Config(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


def rebuild(ckpt: dict[str, Any]) -> tuple[ModuleType, Any, nn.Module, nn.Module]:
    """Family module, model config, encoder and decoder (in eval mode) from a checkpoint."""
    family = get_family(ckpt["family"])
    model_cfg = config_of(family, ckpt["model_config"])
    encoder, decoder = family.build(model_cfg)
    encoder.load_state_dict(ckpt["encoder"])
    decoder.load_state_dict(ckpt["decoder"])
    return family, model_cfg, encoder.eval(), decoder.eval()


def _first_line(exc: BaseException) -> str:
    """torch's messages run over many lines; an error here is one."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def load_weights(path: Path) -> dict[str, Any]:
    """A weights file (``encoder``, ``decoder`` state dicts; a checkpoint is one) to start a run
    from, loaded with ``weights_only=True``."""
    weights = _load_safely(path, "weights file")
    if not isinstance(weights, dict) or not {"encoder", "decoder"} <= weights.keys():
        raise CheckpointError(f"{path}: holds no encoder and decoder weights")
    return weights


def _start_from(
    path: Path, weights: dict[str, Any], encoder: nn.Module, decoder: nn.Module
) -> dict[str, Any]:
    """Load ``weights`` (read from ``path``) into the modules; what the checkpoint records."""
    try:
        encoder.load_state_dict(weights["encoder"])
        decoder.load_state_dict(weights["decoder"])
    except RuntimeError as exc:  # load_state_dict's missing/unexpected keys or shapes
        why = _first_line(exc)
        raise CheckpointError(f"{path}: weights of another architecture ({why})") from exc
    return {"file": path.name, "description": str(weights.get("description", ""))}


def _save_atomic(obj: dict[str, Any], path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def dataset_record(dataset: Dataset) -> dict[str, Any]:
    """What a checkpoint (and then the card) says about the data."""
    return {
        "description": dataset.description,
        "held_out_description": dataset.held_out_description,
        "held_out": list(dataset.held_out),
        "modality": dataset.modality,
        "item": list(dataset.item),
        "channels": list(dataset.channels),
        "range": None if dataset.value_range is None else list(dataset.value_range),
        "normalization": dataset.normalization,
        "preparation": dataset.preparation,
    }


def model_config_for(family: ModuleType, dataset: Dataset, overrides: dict[str, Any] | None) -> Any:
    """The family's config for this data: its item shape and head, then the overrides."""
    if dataset.modality not in family.MODALITIES:
        able = [
            name for name, module in _families().items() if dataset.modality in module.MODALITIES
        ]
        raise DataError(
            f"family {family.__name__.rsplit('.', 1)[-1]!r} trains on "
            f"{' and '.join(family.MODALITIES)}s; "
            f"for {dataset.modality}s use {', '.join(able)}"
        )
    head = SIGMOID if dataset.modality == IMAGE else LINEAR
    return _merge(family.Config(), {"item": dataset.item, "head": head, **(overrides or {})})


def _families() -> dict[str, ModuleType]:
    from aeinfer.train.registry import FAMILIES

    return FAMILIES


def train(
    family_name: str,
    run_dir: Path,
    *,
    data: DataSpec | None = None,
    data_dir: Path | None = None,
    model_overrides: dict[str, Any] | None = None,
    train_overrides: dict[str, Any] | None = None,
    init_from: Path | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train ``family_name`` into ``run_dir``, resuming from ``run_dir/last.pt`` if present.

    ``data`` says what to train on (default: MNIST, in ``data_dir`` if given). ``init_from``
    (a weights file, see :func:`load_weights`) starts a new run from those weights; a run being
    resumed keeps the weights of its checkpoint.
    """
    family = get_family(family_name)
    ckpt_path = run_dir / CHECKPOINT_FILE
    # Read before the data (which may take a while): a bad weights file fails at once.
    initial = load_weights(init_from) if init_from and not ckpt_path.is_file() else None
    kind = getattr(family, "DEFAULT_DATA", MNIST)  # the photo family trains on photographs
    spec = data or DataSpec(kind, None if data_dir is None else str(data_dir))
    dataset = load_dataset(spec)
    model_cfg = model_config_for(family, dataset, model_overrides)
    train_cfg: TrainConfig = _merge(family.TRAINING, train_overrides)
    try:
        torch.manual_seed(train_cfg.seed)
        encoder, decoder = family.build(model_cfg)
    except ValueError as exc:  # a shape the family cannot take, e.g. RGB rows for lstm
        raise DataError(f"{family_name}: {exc}") from exc
    run_dir.mkdir(parents=True, exist_ok=True)
    params = [*encoder.parameters(), *decoder.parameters()]
    optimizer = torch.optim.AdamW(params, lr=train_cfg.lr, weight_decay=train_cfg.weight_decay)

    units = dataset.normalization
    train_items = torch.from_numpy(normalized(dataset.train[: train_cfg.train_limit], units))
    val_items = torch.from_numpy(normalized(dataset.val[: train_cfg.val_limit], units))
    n_train = train_items.shape[0]
    steps_per_epoch = math.ceil(n_train / train_cfg.batch_size)
    total_steps = steps_per_epoch * train_cfg.epochs
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _schedule(train_cfg, total_steps))
    loss_gen = torch.Generator().manual_seed(train_cfg.seed + 1)
    data_record = asdict(spec)

    step, history, wall = 0, [], 0.0
    started_from: dict[str, Any] | None = None
    if ckpt_path.is_file():
        ckpt = load_checkpoint(ckpt_path)
        # A key added to TrainConfig after the run started takes its default.
        saved_cfg = {**asdict(TrainConfig()), **ckpt["train_config"]}
        saved = {k: v for k, v in saved_cfg.items() if k not in RESUME_MAY_CHANGE}
        wanted = {k: v for k, v in asdict(train_cfg).items() if k not in RESUME_MAY_CHANGE}
        if (
            ckpt["family"] != family_name
            or config_of(family, ckpt["model_config"]) != model_cfg
            or saved != wanted
            or spec_from_dict(ckpt["data"]) != spec
        ):
            raise CheckpointError(
                f"{ckpt_path}: holds a run with other settings; use a new run directory "
                "or the same settings to resume"
            )
        encoder.load_state_dict(ckpt["encoder"])
        decoder.load_state_dict(ckpt["decoder"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        loss_gen.set_state(ckpt["loss_generator"])
        step, history, wall = ckpt["step"], list(ckpt["history"]), float(ckpt["wall_time_s"])
        started_from = ckpt.get("init_from")
        if saved_cfg["epochs"] != train_cfg.epochs:
            # LambdaLR keeps only its step count: the schedule follows the new length from here.
            print(
                f"{family_name}: resuming a {saved_cfg['epochs']}-epoch run as a "
                f"{train_cfg.epochs}-epoch one; the schedule follows the new length",
                flush=True,
            )
    elif init_from is not None and initial is not None:
        started_from = _start_from(init_from, initial, encoder, decoder)

    def checkpoint(metrics: dict[str, float]) -> None:
        _save_atomic(
            {
                "format": CHECKPOINT_FORMAT,
                "family": family_name,
                "model_config": asdict(model_cfg),
                "train_config": asdict(train_cfg),
                "data": data_record,
                "dataset": dataset_record(dataset),
                "encoder": encoder.state_dict(),
                "decoder": decoder.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "loss_generator": loss_gen.get_state(),
                "step": step,
                "history": history,
                "metrics": metrics,
                "wall_time_s": wall,
                "machine": machine_description(),
                "torch_version": str(torch.__version__),
                **({"init_from": started_from} if started_from else {}),
            },
            ckpt_path,
        )

    def limit_reached() -> bool:
        return train_cfg.max_steps is not None and step >= train_cfg.max_steps

    metrics: dict[str, float] = history[-1]["val"] if history else {}
    first_epoch = step // steps_per_epoch
    if first_epoch >= train_cfg.epochs or limit_reached():
        return TrainResult(ckpt_path, first_epoch, step, metrics, wall)

    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    bar = Progress(
        TextColumn(f"[bold]{family_name}[/] epoch {{task.fields[epoch]}}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[logs]}"),
        TimeRemainingColumn(),
        disable=not progress,
    )
    with bar:
        shown_total = min(total_steps, train_cfg.max_steps or total_steps)
        task = bar.add_task(
            "train", total=shown_total, completed=step, epoch=first_epoch + 1, logs=""
        )
        for epoch in range(first_epoch, train_cfg.epochs):
            started = time.perf_counter()
            encoder.train()
            decoder.train()
            if dataset.resample is not None and epoch > 0:  # fresh augmented patches
                fresh = dataset.resample(epoch)[: train_cfg.train_limit]
                train_items = torch.from_numpy(normalized(fresh, units))
            order = torch.randperm(
                n_train, generator=torch.Generator().manual_seed(train_cfg.seed * 1000 + epoch)
            )
            ctx = StepContext(epoch=epoch, total_epochs=train_cfg.epochs, generator=loss_gen)
            losses: list[float] = []
            for batch_index in range(step - epoch * steps_per_epoch, steps_per_epoch):
                idx = order[
                    batch_index * train_cfg.batch_size : (batch_index + 1) * train_cfg.batch_size
                ]
                batch = to_layout(train_items[idx], family.LAYOUT)
                out = family.loss(encoder, decoder, batch, model_cfg, ctx)
                optimizer.zero_grad(set_to_none=True)
                out.loss.backward()
                if train_cfg.grad_clip is not None:
                    torch.nn.utils.clip_grad_norm_(params, train_cfg.grad_clip)
                optimizer.step()
                scheduler.step()
                step += 1
                losses.append(out.loss.item())
                logs = " ".join(f"{k}={v:.4g}" for k, v in out.logs.items())
                bar.update(task, advance=1, epoch=epoch + 1, logs=logs)
                if limit_reached():
                    break
            wall += time.perf_counter() - started
            metrics = evaluate(family, encoder, decoder, model_cfg, val_items)
            history.append(
                {
                    "epoch": epoch + 1,
                    "step": step,
                    "train_loss": float(np.mean(losses)) if losses else float("nan"),
                    "val": metrics,
                    "wall_time_s": wall,
                }
            )
            checkpoint(metrics)
            shown = " ".join(f"{k}={v:.4g}" for k, v in metrics.items())
            bar.console.print(
                f"{family_name} epoch {epoch + 1}/{train_cfg.epochs} val: {shown}"
            ) if progress else None
            if limit_reached():
                break
    return TrainResult(ckpt_path, step // steps_per_epoch, step, metrics, wall)
