"""``dense``: the simplest autoencoder, one dense layer down to a 32-float code and one back.

Seed: "Building Autoencoders in Keras" (F. Chollet, 2016), first example: 784 → 32 → 784, a
ReLU code, a sigmoid output, per-pixel binary cross-entropy. Any item shape: the layer reads the
item flattened (an image's pixels, a signal's values), so it trains on images of any size and
channels and on signals (with a linear head).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from aeinfer.card import DETERMINISTIC, IMAGE, SIGNAL
from aeinfer.train.config import TrainConfig
from aeinfer.train.families.base import (
    FLAT,
    MNIST_ITEM,
    SIGMOID,
    decoder_head,
    features,
    plain_loss,
    plain_metrics,
)

LAYOUT = FLAT
MODALITIES = (IMAGE, SIGNAL)
LATENT_KIND = DETERMINISTIC
PRIMARY_METRIC = "bce"
TASKS: tuple[str, ...] = ()
TRAINING = TrainConfig(epochs=100, batch_size=256, lr=2e-3, schedule="cosine")


@dataclass(frozen=True)
class Config:
    """Code size, the item's shape and the decoder head."""

    latent_dim: int = 32
    item: tuple[int, ...] = MNIST_ITEM
    head: str = SIGMOID


def build(cfg: Config) -> tuple[nn.Module, nn.Module]:
    size = features(cfg.item)
    encoder = nn.Sequential(nn.Linear(size, cfg.latent_dim), nn.ReLU())
    decoder = decoder_head(cfg.head, nn.Linear(cfg.latent_dim, size))
    return encoder, decoder


loss = plain_loss
metrics = plain_metrics
