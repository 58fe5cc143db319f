"""``dense``: the simplest autoencoder, 784 → 32 → 784.

Seed: "Building Autoencoders in Keras" (F. Chollet, 2016), first example: one ReLU layer to a
32-float code, one sigmoid layer back, per-pixel binary cross-entropy.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from aeinfer.metadata import LATENT_DETERMINISTIC, LAYOUT_FLAT
from aeinfer.train.config import TrainConfig
from aeinfer.train.data import IMAGE_PIXELS
from aeinfer.train.families.base import SigmoidDecoder, bce_loss, plain_metrics

LAYOUT = LAYOUT_FLAT
LATENT_KIND = LATENT_DETERMINISTIC
PRIMARY_METRIC = "bce"
TRAINING = TrainConfig(epochs=100, batch_size=256, lr=2e-3, schedule="cosine")


@dataclass(frozen=True)
class Config:
    """Architecture of a one-hidden-layer dense autoencoder."""

    latent_dim: int = 32
    input_dim: int = IMAGE_PIXELS


def build(cfg: Config) -> tuple[nn.Module, nn.Module]:
    encoder = nn.Sequential(nn.Linear(cfg.input_dim, cfg.latent_dim), nn.ReLU())
    decoder = SigmoidDecoder(nn.Linear(cfg.latent_dim, cfg.input_dim))
    return encoder, decoder


loss = bce_loss
metrics = plain_metrics
