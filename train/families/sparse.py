"""``sparse``: the dense 784 → 32 → 784 autoencoder with an L1 activity penalty on the code.

Seed: "Building Autoencoders in Keras", sparsity example: ``activity_regularizer=l1(10e-5)`` on
the 32-unit code. The penalty is part of the loss only; the exported graphs are plain dense.
Keras adds the regulariser as sum(|z|) per sample, averaged over the batch, to the mean BCE.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from aeinfer.metadata import LATENT_DETERMINISTIC, LAYOUT_FLAT
from aeinfer.train.config import TrainConfig
from aeinfer.train.data import IMAGE_PIXELS
from aeinfer.train.families import dense
from aeinfer.train.families.base import LossOutput, SigmoidDecoder, StepContext, bce_per_pixel
from aeinfer.train.families.base import plain_metrics as metrics  # noqa: F401

LAYOUT = LAYOUT_FLAT
LATENT_KIND = LATENT_DETERMINISTIC
PRIMARY_METRIC = "bce"
TRAINING = TrainConfig(epochs=100, batch_size=256, lr=2e-3, schedule="cosine")


@dataclass(frozen=True)
class Config:
    """Dense autoencoder shape plus the L1 weight on the code (Keras: l1(10e-5) = 1e-4)."""

    latent_dim: int = 32
    input_dim: int = IMAGE_PIXELS
    l1_weight: float = 1e-4


def build(cfg: Config) -> tuple[nn.Module, nn.Module]:
    return dense.build(dense.Config(latent_dim=cfg.latent_dim, input_dim=cfg.input_dim))


def loss(
    encoder: nn.Module, decoder: SigmoidDecoder, x: torch.Tensor, cfg: Config, ctx: StepContext
) -> LossOutput:
    code = encoder(x)
    bce = bce_per_pixel(decoder.logits(code), x)
    penalty = cfg.l1_weight * code.abs().sum(dim=1).mean()
    return LossOutput(bce + penalty, {"bce": bce.item(), "l1": penalty.item()})
