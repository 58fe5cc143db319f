"""``deep``: a deep dense autoencoder, 128 → 64 → 32 and the mirror back.

Seed: "Building Autoencoders in Keras", deep autoencoder example (784 → 128 → 64 → 32, reported
BCE ≈ 0.097). Reads the item flattened, so any image or signal shape trains.
"""

from __future__ import annotations

import itertools
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
TRAINING = TrainConfig(epochs=150, batch_size=256, lr=2e-3, schedule="cosine")


@dataclass(frozen=True)
class Config:
    """Hidden widths from the input side down to the code; the decoder mirrors them."""

    hidden: tuple[int, ...] = (128, 64)
    latent_dim: int = 32
    item: tuple[int, ...] = MNIST_ITEM
    head: str = SIGMOID


def _mlp(widths: list[int], last_activation: bool) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(widths)):
        layers.append(nn.Linear(n_in, n_out))
        if last_activation or i < len(widths) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def build(cfg: Config) -> tuple[nn.Module, nn.Module]:
    down = [features(cfg.item), *cfg.hidden, cfg.latent_dim]
    encoder = _mlp(down, last_activation=True)
    decoder = decoder_head(cfg.head, _mlp(down[::-1], last_activation=False))
    return encoder, decoder


loss = plain_loss
metrics = plain_metrics
