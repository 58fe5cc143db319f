"""``deep``: a deep dense autoencoder, 784 → 128 → 64 → 32 and the mirror back.

Seed: "Building Autoencoders in Keras", deep autoencoder example (reported BCE ≈ 0.097).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from torch import nn

from aeinfer.metadata import LATENT_DETERMINISTIC, LAYOUT_FLAT
from aeinfer.train.config import TrainConfig
from aeinfer.train.data import IMAGE_PIXELS
from aeinfer.train.families.base import SigmoidDecoder, bce_loss, plain_metrics

LAYOUT = LAYOUT_FLAT
LATENT_KIND = LATENT_DETERMINISTIC
PRIMARY_METRIC = "bce"
TRAINING = TrainConfig(epochs=150, batch_size=256, lr=2e-3, schedule="cosine")


@dataclass(frozen=True)
class Config:
    """Hidden widths from the input side down to the code; the decoder mirrors them."""

    hidden: tuple[int, ...] = (128, 64)
    latent_dim: int = 32
    input_dim: int = IMAGE_PIXELS


def _mlp(widths: list[int], last_activation: bool) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(widths)):
        layers.append(nn.Linear(n_in, n_out))
        if last_activation or i < len(widths) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def build(cfg: Config) -> tuple[nn.Module, nn.Module]:
    down = [cfg.input_dim, *cfg.hidden, cfg.latent_dim]
    encoder = _mlp(down, last_activation=True)
    decoder = SigmoidDecoder(_mlp(down[::-1], last_activation=False))
    return encoder, decoder


loss = bce_loss
metrics = plain_metrics
