"""``convt``: strided Conv2d down to a 64-d code, ConvTranspose2d back up, trained on MSE.

Seed: the conv-transpose autoencoder tutorials (e.g. PyTorch / Keras "convolutional
autoencoder" with Conv2DTranspose): two stride-2 convolutions 28 → 14 → 7, a linear bottleneck
to 64 numbers, and the mirror with transposed convolutions. Its smooth latent suits
interpolation.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from aeinfer.metadata import LATENT_DETERMINISTIC, LAYOUT_IMAGE
from aeinfer.train.config import TrainConfig
from aeinfer.train.data import IMAGE_SIZE
from aeinfer.train.families.base import (
    LossOutput,
    SigmoidDecoder,
    StepContext,
    conv_out,
    plain_metrics,
)

LAYOUT = LAYOUT_IMAGE
LATENT_KIND = LATENT_DETERMINISTIC
PRIMARY_METRIC = "mse"
TRAINING = TrainConfig(epochs=40, batch_size=128, lr=2e-3, schedule="cosine")
KERNEL = 3
STRIDE = 2


@dataclass(frozen=True)
class Config:
    """Channel counts of the two strided convolutions and the code size."""

    channels: tuple[int, int] = (32, 64)
    latent_dim: int = 64
    image_size: int = IMAGE_SIZE


def build(cfg: Config) -> tuple[nn.Module, nn.Module]:
    c1, c2 = cfg.channels
    side = conv_out(conv_out(cfg.image_size, STRIDE), STRIDE)
    encoder = nn.Sequential(
        nn.Conv2d(1, c1, KERNEL, stride=STRIDE, padding=1), nn.ReLU(),
        nn.Conv2d(c1, c2, KERNEL, stride=STRIDE, padding=1), nn.ReLU(),
        nn.Flatten(), nn.Linear(c2 * side * side, cfg.latent_dim),
    )  # fmt: skip
    body = nn.Sequential(
        nn.Linear(cfg.latent_dim, c2 * side * side), nn.ReLU(),
        nn.Unflatten(1, (c2, side, side)),
        nn.ConvTranspose2d(c2, c1, KERNEL, stride=STRIDE, padding=1, output_padding=1), nn.ReLU(),
        nn.ConvTranspose2d(c1, 1, KERNEL, stride=STRIDE, padding=1, output_padding=1),
    )  # fmt: skip
    return encoder, SigmoidDecoder(body)


def loss(
    encoder: nn.Module, decoder: SigmoidDecoder, x: torch.Tensor, cfg: Config, ctx: StepContext
) -> LossOutput:
    value = F.mse_loss(decoder(encoder(x)), x)
    return LossOutput(value, {"mse": value.item()})


metrics = plain_metrics
