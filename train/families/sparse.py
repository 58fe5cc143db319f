"""``sparse``: the dense autoencoder with an L1 activity penalty on its 32-float code.

Seed: "Building Autoencoders in Keras", sparsity example: ``activity_regularizer=l1(10e-5)`` on
the 32-unit code. The penalty is part of the loss only; the exported graphs are plain dense.
Keras adds the regulariser as sum(|z|) per sample, averaged over the batch, to the mean BCE.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from aeinfer.card import DETERMINISTIC, IMAGE, SIGNAL
from aeinfer.train.config import TrainConfig
from aeinfer.train.families import dense
from aeinfer.train.families.base import (
    FLAT,
    MNIST_ITEM,
    SIGMOID,
    Decoder,
    LossOutput,
    StepContext,
    reconstruction_loss,
)
from aeinfer.train.families.base import plain_metrics as metrics  # noqa: F401

LAYOUT = FLAT
MODALITIES = (IMAGE, SIGNAL)
LATENT_KIND = DETERMINISTIC
PRIMARY_METRIC = "bce"
TASKS: tuple[str, ...] = ()
TRAINING = TrainConfig(epochs=100, batch_size=256, lr=2e-3, schedule="cosine")


@dataclass(frozen=True)
class Config:
    """Dense autoencoder shape plus the L1 weight on the code (Keras: l1(10e-5) = 1e-4)."""

    latent_dim: int = 32
    l1_weight: float = 1e-4
    item: tuple[int, ...] = MNIST_ITEM
    head: str = SIGMOID


def build(cfg: Config) -> tuple[nn.Module, nn.Module]:
    return dense.build(dense.Config(latent_dim=cfg.latent_dim, item=cfg.item, head=cfg.head))


def loss(
    encoder: nn.Module, decoder: Decoder, x: torch.Tensor, cfg: Config, ctx: StepContext
) -> LossOutput:
    code = encoder(x)
    value = reconstruction_loss(decoder, code, x)
    penalty = cfg.l1_weight * code.abs().sum(dim=1).mean()
    name = "bce" if cfg.head == SIGMOID else "mse"
    return LossOutput(value + penalty, {name: value.item(), "l1": penalty.item()})
