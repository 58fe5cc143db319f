"""``convt``: strided Conv2d down to a 64-d code, ConvTranspose2d back up, trained on MSE.

Seed: the conv-transpose autoencoder tutorials (e.g. PyTorch / Keras "convolutional
autoencoder" with Conv2DTranspose): two stride-2 convolutions 28 → 14 → 7, a linear bottleneck
to 64 numbers, and the mirror with transposed convolutions. Its smooth latent suits
interpolation. Any image size and channel count: strided layers round up, the decoder crops.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from aeinfer.card import DETERMINISTIC, IMAGE
from aeinfer.train.config import TrainConfig
from aeinfer.train.families.base import (
    ITEM,
    MNIST_ITEM,
    SIGMOID,
    Crop,
    Decoder,
    LossOutput,
    StepContext,
    conv_out,
    decoder_head,
    plain_metrics,
)

LAYOUT = ITEM
MODALITIES = (IMAGE,)
LATENT_KIND = DETERMINISTIC
PRIMARY_METRIC = "mse"
TASKS: tuple[str, ...] = ()
TRAINING = TrainConfig(epochs=40, batch_size=128, lr=2e-3, schedule="cosine")
KERNEL = 3
STRIDE = 2


@dataclass(frozen=True)
class Config:
    """Channel counts of the two strided convolutions, the code size, the item and the head."""

    channels: tuple[int, int] = (32, 64)
    latent_dim: int = 64
    item: tuple[int, ...] = MNIST_ITEM
    head: str = SIGMOID


def build(cfg: Config) -> tuple[nn.Module, nn.Module]:
    c1, c2 = cfg.channels
    colours, height, width = cfg.item
    sh, sw = (conv_out(conv_out(s, STRIDE), STRIDE) for s in (height, width))
    encoder = nn.Sequential(
        nn.Conv2d(colours, c1, KERNEL, stride=STRIDE, padding=1), nn.ReLU(),
        nn.Conv2d(c1, c2, KERNEL, stride=STRIDE, padding=1), nn.ReLU(),
        nn.Flatten(), nn.Linear(c2 * sh * sw, cfg.latent_dim),
    )  # fmt: skip
    layers: list[nn.Module] = [
        nn.Linear(cfg.latent_dim, c2 * sh * sw), nn.ReLU(),
        nn.Unflatten(1, (c2, sh, sw)),
        nn.ConvTranspose2d(c2, c1, KERNEL, stride=STRIDE, padding=1, output_padding=1), nn.ReLU(),
        nn.ConvTranspose2d(c1, colours, KERNEL, stride=STRIDE, padding=1, output_padding=1),
    ]  # fmt: skip
    if (STRIDE * STRIDE * sh, STRIDE * STRIDE * sw) != (height, width):
        layers.append(Crop(height, width))
    return encoder, decoder_head(cfg.head, nn.Sequential(*layers))


def loss(
    encoder: nn.Module, decoder: Decoder, x: torch.Tensor, cfg: Config, ctx: StepContext
) -> LossOutput:
    value = F.mse_loss(decoder(encoder(x)), x)
    return LossOutput(value, {"mse": value.item()})


metrics = plain_metrics
