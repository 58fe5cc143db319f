"""``denoise``: a 32-filter convolutional autoencoder trained to map noisy images to clean ones.

Seed: "Building Autoencoders in Keras", denoising example: Conv(32)-Pool-Conv(32)-Pool to a
7×7×32 code, Conv(32)-Up-Conv(32)-Up-Conv(1, sigmoid); corruption x + 0.5·N(0, 1), clipped.
Here the noise factor is drawn afresh for every batch from [0, ``noise_max``], so one model
serves light and heavy noise and leaves clean inputs alone. The noise exists only in the loss:
the exported encoder/decoder are deterministic. Any image size and channel count (pooling
rounds up; the decoder crops back to the size).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from aeinfer.card import DENOISE, DETERMINISTIC, IMAGE
from aeinfer.train.config import TrainConfig
from aeinfer.train.families.base import (
    ITEM,
    MNIST_ITEM,
    SIGMOID,
    Crop,
    Decoder,
    LossOutput,
    StepContext,
    add_noise,
    decoder_head,
    psnr,
    reconstruction_loss,
    reconstruction_metrics,
)

LAYOUT = ITEM
MODALITIES = (IMAGE,)
LATENT_KIND = DETERMINISTIC
PRIMARY_METRIC = "psnr_noisy_db"
TASKS = (DENOISE,)
TRAINING = TrainConfig(epochs=30, batch_size=128, lr=2e-3, schedule="cosine")
KERNEL = 3
POOL = 2  # each pooling halves the side, each upsampling doubles it
STAGES = 2


@dataclass(frozen=True)
class Config:
    """Filter count, the training noise range, the evaluation noise factor, the item, the head."""

    filters: int = 32
    noise_max: float = 0.7
    eval_noise: float = 0.5
    item: tuple[int, ...] = MNIST_ITEM
    head: str = SIGMOID


def _conv(n_in: int, n_out: int) -> nn.Conv2d:
    return nn.Conv2d(n_in, n_out, KERNEL, padding=1)


def build(cfg: Config) -> tuple[nn.Module, nn.Module]:
    channels, height, width = cfg.item
    f = cfg.filters
    encoder = nn.Sequential(
        _conv(channels, f), nn.ReLU(), nn.MaxPool2d(POOL, ceil_mode=True),
        _conv(f, f), nn.ReLU(), nn.MaxPool2d(POOL, ceil_mode=True),
    )  # fmt: skip
    layers: list[nn.Module] = [
        _conv(f, f), nn.ReLU(), nn.Upsample(scale_factor=POOL),
        _conv(f, f), nn.ReLU(), nn.Upsample(scale_factor=POOL),
        _conv(f, channels),
    ]  # fmt: skip
    if any(math.ceil(s / POOL**STAGES) * POOL**STAGES != s for s in (height, width)):
        layers.append(Crop(height, width))
    return encoder, decoder_head(cfg.head, nn.Sequential(*layers))


def loss(
    encoder: nn.Module, decoder: Decoder, x: torch.Tensor, cfg: Config, ctx: StepContext
) -> LossOutput:
    factor = float(torch.rand((), generator=ctx.generator)) * cfg.noise_max
    noisy = add_noise(x, factor, ctx.generator)
    value = reconstruction_loss(decoder, encoder(noisy), x)
    return LossOutput(value, {"bce": value.item(), "noise": factor})


def metrics(
    encoder: nn.Module, decoder: nn.Module, x: torch.Tensor, cfg: Config, gen: torch.Generator
) -> dict[str, float]:
    noisy = add_noise(x, cfg.eval_noise, gen)
    denoised = decoder(encoder(noisy))
    return {
        **reconstruction_metrics(decoder(encoder(x)), x, cfg.head),
        "psnr_noisy_db": float(psnr(denoised, x)),
        "psnr_input_db": float(psnr(noisy, x)),
    }
