"""``denoise``: a 32-filter convolutional autoencoder trained to map noisy digits to clean ones.

Seed: "Building Autoencoders in Keras", denoising example: Conv(32)-Pool-Conv(32)-Pool to a
7×7×32 code, Conv(32)-Up-Conv(32)-Up-Conv(1, sigmoid); corruption x + 0.5·N(0, 1), clipped.
Here the noise factor is drawn afresh for every batch from [0, ``noise_max``], so one model
serves light and heavy noise and leaves clean digits alone. The noise exists only in the loss:
the exported encoder/decoder are deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from aeinfer.metadata import LATENT_DETERMINISTIC, LAYOUT_IMAGE
from aeinfer.train.config import TrainConfig
from aeinfer.train.families.base import (
    LossOutput,
    SigmoidDecoder,
    StepContext,
    add_noise,
    bce_per_pixel,
    psnr,
    reconstruction_metrics,
)

LAYOUT = LAYOUT_IMAGE
LATENT_KIND = LATENT_DETERMINISTIC
PRIMARY_METRIC = "psnr_noisy_db"
TRAINING = TrainConfig(epochs=30, batch_size=128, lr=2e-3, schedule="cosine")
KERNEL = 3
POOL = 2  # each pooling halves the side, each upsampling doubles it


@dataclass(frozen=True)
class Config:
    """Filter count, the training noise range and the noise factor used for evaluation."""

    filters: int = 32
    noise_max: float = 0.7
    eval_noise: float = 0.5


def _conv(n_in: int, n_out: int) -> nn.Conv2d:
    return nn.Conv2d(n_in, n_out, KERNEL, padding=1)


def build(cfg: Config) -> tuple[nn.Module, nn.Module]:
    f = cfg.filters
    encoder = nn.Sequential(
        _conv(1, f), nn.ReLU(), nn.MaxPool2d(POOL),
        _conv(f, f), nn.ReLU(), nn.MaxPool2d(POOL),
    )  # fmt: skip
    decoder = SigmoidDecoder(
        nn.Sequential(
            _conv(f, f),
            nn.ReLU(),
            nn.Upsample(scale_factor=POOL),
            _conv(f, f),
            nn.ReLU(),
            nn.Upsample(scale_factor=POOL),
            _conv(f, 1),
        )
    )
    return encoder, decoder


def loss(
    encoder: nn.Module, decoder: SigmoidDecoder, x: torch.Tensor, cfg: Config, ctx: StepContext
) -> LossOutput:
    factor = float(torch.rand((), generator=ctx.generator)) * cfg.noise_max
    noisy = add_noise(x, factor, ctx.generator)
    value = bce_per_pixel(decoder.logits(encoder(noisy)), x)
    return LossOutput(value, {"bce": value.item(), "noise": factor})


def metrics(
    encoder: nn.Module, decoder: nn.Module, x: torch.Tensor, cfg: Config, gen: torch.Generator
) -> dict[str, float]:
    noisy = add_noise(x, cfg.eval_noise, gen)
    denoised = decoder(encoder(noisy))
    return {
        **reconstruction_metrics(decoder(encoder(x)), x),
        "psnr_noisy_db": float(psnr(denoised, x)),
        "psnr_input_db": float(psnr(noisy, x)),
    }
