"""Pieces every family module shares: record types, decoder heads, losses and metrics.

A family module exposes ``Config`` (a frozen dataclass that owns its defaults, among them
``item``, the shape of one item — (1, 28, 28) for MNIST — and ``head``), ``TRAINING`` (its
default :class:`~aeinfer.train.config.TrainConfig`), ``LAYOUT`` (how its modules take an item
batch: ``flat``, ``item`` or ``rows``), ``MODALITIES`` (the data it trains on), ``LATENT_KIND``,
``PRIMARY_METRIC``, ``TASKS`` (tasks beyond the defaults, e.g. denoise), ``build(cfg) ->
(encoder, decoder)``, ``loss(...)`` and ``metrics(...)``. Shapes come from ``cfg.item``, never
from MNIST constants. Training-only behaviour (noise, sampling, sparsity) lives in ``loss``,
never in the modules, so the exported graphs are the plain deterministic encoder and decoder.

Two decoder heads: ``sigmoid`` for data in [0, 1] (images; trained with binary cross-entropy
on logits, as Keras does) and ``linear`` for unbounded data (signals, normalised per channel;
trained with mean squared error).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

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


MNIST_ITEM = (1, 28, 28)
"""The default item of every family: one grey 28×28 MNIST digit."""
SIGMOID = "sigmoid"
LINEAR = "linear"
HEADS = (SIGMOID, LINEAR)
FLAT = "flat"
"""The modules take (N, C·H·W) / (N, C·T)."""
ITEM = "item"
"""The modules take the item as it is: (N, C, H, W) / (N, C, T)."""
ROWS = "rows"
"""The modules take rows as time steps: (N, H, W) of a grey image, or a signal (N, C, T)."""
LAYOUTS = (FLAT, ITEM, ROWS)


def features(item: tuple[int, ...]) -> int:
    """Values in one item."""
    return math.prod(item)


def is_image(item: tuple[int, ...]) -> bool:
    return len(item) == 3


class Crop(nn.Module):
    """Keep the top-left (height, width) of a feature map: undoes the rounding up of 'same'
    pooling or strided layers, which pad at the bottom and right."""

    def __init__(self, height: int, width: int) -> None:
        super().__init__()
        self.height, self.width = height, width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[..., : self.height, : self.width]


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


class LinearDecoder(nn.Module):
    """A decoder body whose output is the prediction itself (unbounded data); ``logits`` is
    the same, so losses treat both heads alike."""

    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def logits(self, z: torch.Tensor) -> torch.Tensor:
        return self.body(z)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.body(z)


Decoder = SigmoidDecoder | LinearDecoder


def decoder_head(head: str, body: nn.Module) -> Decoder:
    """The decoder for ``head``: values in [0, 1] (sigmoid) or unbounded (linear)."""
    if head not in HEADS:
        raise ValueError(f"unknown head {head!r}; valid: {', '.join(HEADS)}")
    return SigmoidDecoder(body) if head == SIGMOID else LinearDecoder(body)


def reconstruction_loss(decoder: Decoder, code: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-value BCE on logits for the sigmoid head, MSE for the linear head."""
    if isinstance(decoder, SigmoidDecoder):
        return bce_per_pixel(decoder.logits(code), target)
    return F.mse_loss(decoder(code), target)


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


def reconstruction_metrics(
    pred: torch.Tensor, target: torch.Tensor, head: str = SIGMOID
) -> dict[str, float]:
    """The metrics every family reports on the held-out split: MSE, and for data in [0, 1]
    BCE and PSNR."""
    if head == LINEAR:
        return {"mse": float(F.mse_loss(pred, target))}
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


def plain_loss(
    encoder: nn.Module, decoder: Decoder, x: torch.Tensor, cfg: Any, ctx: StepContext
) -> LossOutput:
    """The plain autoencoder loss: per-value BCE (sigmoid head) or MSE (linear head) of
    decoder(encoder(x)) against x."""
    value = reconstruction_loss(decoder, encoder(x), x)
    return LossOutput(value, {"bce" if cfg.head == SIGMOID else "mse": value.item()})


def plain_metrics(
    encoder: nn.Module, decoder: nn.Module, x: torch.Tensor, cfg: Any, gen: torch.Generator
) -> dict[str, float]:
    """Reconstruction metrics of a deterministic autoencoder on clean inputs, plus the mean
    code activation (the Keras blog's sparsity figure: 7.30 plain, 3.33 with an L1 penalty)."""
    code = encoder(x)
    return {
        **reconstruction_metrics(decoder(code), x, cfg.head),
        "mean_code": float(code.abs().mean()),
    }


def primary_metric(family_primary: str, head: str) -> str:
    """The metric a model is judged on: the family's for images, MSE for unbounded data."""
    return family_primary if head == SIGMOID else "mse"
