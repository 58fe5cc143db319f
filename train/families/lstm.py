"""``lstm``: sequence-to-sequence LSTM autoencoder reading time steps.

Seed: "Building Autoencoders in Keras", sequence-to-sequence example: an LSTM encoder squeezes
the sequence into one vector, RepeatVector feeds it at every step of an LSTM decoder that
rebuilds the sequence; a linear layer maps the decoder state to each step's values. A grey image
is read row by row (its rows are the steps, its columns the features: 28 steps of 28 for
MNIST); a signal (C, T) is read as T steps of C channels.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from aeinfer.card import DETERMINISTIC, IMAGE, SIGNAL
from aeinfer.train.config import TrainConfig
from aeinfer.train.families.base import (
    MNIST_ITEM,
    ROWS,
    SIGMOID,
    decoder_head,
    is_image,
    plain_loss,
    plain_metrics,
)

LAYOUT = ROWS
MODALITIES = (IMAGE, SIGNAL)
LATENT_KIND = DETERMINISTIC
PRIMARY_METRIC = "bce"
TASKS: tuple[str, ...] = ()
TRAINING = TrainConfig(epochs=40, batch_size=128, lr=2e-3, schedule="cosine")


@dataclass(frozen=True)
class Config:
    """LSTM width, code size, the item (1, H, W) or (C, T), and the head."""

    hidden: int = 128
    latent_dim: int = 64
    item: tuple[int, ...] = MNIST_ITEM
    head: str = SIGMOID


def steps_and_features(item: tuple[int, ...]) -> tuple[int, int, bool]:
    """(steps, features per step, whether time is the last axis) of an item."""
    if is_image(item):
        if item[0] != 1:
            raise ValueError(
                f"reads grey images row by row, or signals; this image has {item[0]} channels "
                "(train it with --channels 1)"
            )
        return item[1], item[2], False
    return item[1], item[0], True


class LSTMEncoder(nn.Module):
    """(N, steps, features) — or (N, C, T) for a signal — → (N, latent): the last hidden
    state, projected to the code."""

    def __init__(self, cfg: Config) -> None:
        super().__init__()
        _, features, self.time_last = steps_and_features(cfg.item)
        self.lstm = nn.LSTM(features, cfg.hidden, batch_first=True)
        self.project = nn.Linear(cfg.hidden, cfg.latent_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.time_last:
            x = x.transpose(1, 2)
        _, (h_last, _) = self.lstm(x)
        return self.project(h_last[-1])


class LSTMDecoderBody(nn.Module):
    """(N, latent) → (N, steps, features) (or (N, C, T)): the code repeated at every step."""

    def __init__(self, cfg: Config) -> None:
        super().__init__()
        self.steps, features, self.time_last = steps_and_features(cfg.item)
        self.lstm = nn.LSTM(cfg.latent_dim, cfg.hidden, batch_first=True)
        self.row = nn.Linear(cfg.hidden, features)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        repeated = z.unsqueeze(1).expand(-1, self.steps, -1)
        states, _ = self.lstm(repeated)
        out = self.row(states)
        return out.transpose(1, 2) if self.time_last else out


def build(cfg: Config) -> tuple[nn.Module, nn.Module]:
    return LSTMEncoder(cfg), decoder_head(cfg.head, LSTMDecoderBody(cfg))


loss = plain_loss
metrics = plain_metrics
