"""Training configuration shared by every family (each family module supplies its defaults)."""

from __future__ import annotations

from dataclasses import dataclass

SCHEDULES = ("constant", "cosine", "onecycle")


@dataclass(frozen=True)
class TrainConfig:
    """How to train: optimizer, schedule, length and seed. Model shape lives in the family."""

    epochs: int = 20
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.0
    schedule: str = "cosine"
    seed: int = 0
    # Clip the gradient's global norm to this (None: no clipping). Deep residual stacks at
    # Adam's peak rate can jump to a degenerate identity map; clipping keeps the jump small.
    grad_clip: float | None = None
    # Smoke runs: stop after this many optimizer steps (None: train all epochs).
    max_steps: int | None = None
    # Use only the first N training images (None: all 60 000); for smoke tests.
    train_limit: int | None = None
    # Validate on at most this many test images (None: the whole 10 000-image test split).
    val_limit: int | None = None
