"""``lstm``: sequence-to-sequence LSTM autoencoder reading image rows as 28 time steps.

Seed: "Building Autoencoders in Keras", sequence-to-sequence example: an LSTM encoder squeezes
the sequence into one vector, RepeatVector feeds it at every step of an LSTM decoder that
rebuilds the sequence. A linear layer maps the decoder state to the 28 pixels of a row.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from aeinfer.metadata import LATENT_DETERMINISTIC, LAYOUT_SEQUENCE
from aeinfer.train.config import TrainConfig
from aeinfer.train.data import IMAGE_SIZE
from aeinfer.train.families.base import SigmoidDecoder, bce_loss, plain_metrics

LAYOUT = LAYOUT_SEQUENCE
LATENT_KIND = LATENT_DETERMINISTIC
PRIMARY_METRIC = "bce"
TRAINING = TrainConfig(epochs=40, batch_size=128, lr=2e-3, schedule="cosine")


@dataclass(frozen=True)
class Config:
    """Row width (features per step), number of steps, LSTM width and code size."""

    row_size: int = IMAGE_SIZE
    steps: int = IMAGE_SIZE
    hidden: int = 128
    latent_dim: int = 64


class LSTMEncoder(nn.Module):
    """(N, steps, row) → (N, latent): the last hidden state, projected to the code."""

    def __init__(self, cfg: Config) -> None:
        super().__init__()
        self.lstm = nn.LSTM(cfg.row_size, cfg.hidden, batch_first=True)
        self.project = nn.Linear(cfg.hidden, cfg.latent_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, (h_last, _) = self.lstm(x)
        return self.project(h_last[-1])


class LSTMDecoderBody(nn.Module):
    """(N, latent) → (N, steps, row) logits: the code repeated at every step."""

    def __init__(self, cfg: Config) -> None:
        super().__init__()
        self.steps = cfg.steps
        self.lstm = nn.LSTM(cfg.latent_dim, cfg.hidden, batch_first=True)
        self.row = nn.Linear(cfg.hidden, cfg.row_size)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        repeated = z.unsqueeze(1).expand(-1, self.steps, -1)
        states, _ = self.lstm(repeated)
        return self.row(states)


def build(cfg: Config) -> tuple[nn.Module, nn.Module]:
    return LSTMEncoder(cfg), SigmoidDecoder(LSTMDecoderBody(cfg))


loss = bce_loss
metrics = plain_metrics
