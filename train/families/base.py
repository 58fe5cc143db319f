"""Pieces every family module shares: the loss/metric record types and the sigmoid decoder head.

A family module exposes ``Config`` (frozen dataclass that owns its defaults), ``TRAINING``
(its default :class:`~aeinfer.train.config.TrainConfig`), ``LAYOUT``, ``LATENT_KIND``,
``PRIMARY_METRIC``, ``build(cfg) -> (encoder, decoder)``, ``loss(...)`` and ``metrics(...)``.
Training-only behaviour (noise, sampling, sparsity) lives in ``loss``, never in the modules, so
the exported graphs are the plain deterministic encoder and decoder.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class StepContext:
    """What a loss may need besides the batch: where training is, and a seeded generator."""

    epoch: int
    total_epochs: int
    generator: torch.Generator


@dataclass
class LossOutput:
    """The scalar to minimise and named scalars to show on the progress bar."""

    loss: torch.Tensor
    logs: dict[str, float] = field(default_factory=dict)


class SigmoidDecoder(nn.Module):
    """Wraps a decoder body that produces logits; ``forward`` returns pixels in [0, 1].

    Training uses ``logits`` with BCE-with-logits (numerically safer than BCE on a sigmoid);
    the exported graph is ``forward``, so users always get pixel values.
    """

    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def logits(self, z: torch.Tensor) -> torch.Tensor:
        return self.body(z)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.body(z))


def bce_per_pixel(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean binary cross-entropy per pixel (the Keras blog's reported figure)."""
    return F.binary_cross_entropy_with_logits(logits, target)


def clamp_bce(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean per-pixel BCE of predictions in [0, 1], log clamped as Keras does (eps 1e-7)."""
    eps = 1e-7
    pred = pred.clamp(eps, 1 - eps)
    return -(target * pred.log() + (1 - target) * (1 - pred).log()).mean()


def psnr(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean over images of the per-image PSNR in dB for pixels in [0, 1]."""
    mse = ((pred - target) ** 2).flatten(1).mean(dim=1).clamp_min(1e-10)
    return (-10.0 * torch.log10(mse)).mean()


def reconstruction_metrics(pred: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    """The metrics every family reports on the test split: BCE, MSE and PSNR."""
    return {
        "bce": float(clamp_bce(pred, target)),
        "mse": float(F.mse_loss(pred, target)),
        "psnr_db": float(psnr(pred, target)),
    }


def add_noise(
    x: torch.Tensor, factor: float | torch.Tensor, generator: torch.Generator
) -> torch.Tensor:
    """x + factor·N(0, 1), clipped to [0, 1] (the Keras blog's denoising corruption)."""
    noise = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
    return (x + factor * noise).clamp(0.0, 1.0)


def conv_out(size: int, stride: int) -> int:
    """Spatial size after a 'same'-padded, strided op (ceil division, as Keras computes it)."""
    return math.ceil(size / stride)


def bce_loss(
    encoder: nn.Module, decoder: SigmoidDecoder, x: torch.Tensor, cfg: object, ctx: StepContext
) -> LossOutput:
    """The plain autoencoder loss: per-pixel BCE of decoder(encoder(x)) against x."""
    value = bce_per_pixel(decoder.logits(encoder(x)), x)
    return LossOutput(value, {"bce": value.item()})


def plain_metrics(
    encoder: nn.Module, decoder: nn.Module, x: torch.Tensor, cfg: object, gen: torch.Generator
) -> dict[str, float]:
    """Reconstruction metrics of a deterministic autoencoder on clean inputs, plus the mean
    code activation (the Keras blog's sparsity figure: 7.30 plain, 3.33 with an L1 penalty)."""
    code = encoder(x)
    return {**reconstruction_metrics(decoder(code), x), "mean_code": float(code.abs().mean())}
