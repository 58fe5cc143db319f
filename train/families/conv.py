"""``conv``: convolutional autoencoder down to a (8, H/8, W/8) code.

Seed: "Building Autoencoders in Keras", convolutional example: Conv(16)-Pool-Conv(8)-Pool-
Conv(8)-Pool ('same' padding, so 28 → 14 → 7 → 4), then Conv(8)-Up-Conv(8)-Up-Conv(16, 'valid',
16 → 14)-Up-Conv(1, sigmoid). Reported BCE ≈ 0.094 after 50 epochs.

Kept: the shape (three conv/pool stages down, three conv/upsample stages up) and the 4×4×8 code
for 28×28. Changed: the first two stages are 32 filters wide instead of 16 and 8, and the
decoder's first convolution widens the code back to that width at once (with the seed's widths,
(16, 8, 8), this is exactly the seed's decoder). The seed's 8-filter middle is what holds it at
0.094. Any image size and channel count: pooling rounds up ('same'), and where the seed's
'valid' trick does not land exactly on the size, the decoder pads 'same' and crops its output.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch import nn

from aeinfer.card import DETERMINISTIC, IMAGE
from aeinfer.train.config import TrainConfig
from aeinfer.train.families.base import (
    ITEM,
    MNIST_ITEM,
    SIGMOID,
    Crop,
    decoder_head,
    plain_loss,
    plain_metrics,
)

LAYOUT = ITEM
MODALITIES = (IMAGE,)
LATENT_KIND = DETERMINISTIC
PRIMARY_METRIC = "bce"
TASKS: tuple[str, ...] = ()
TRAINING = TrainConfig(epochs=40, batch_size=128, lr=2e-3, schedule="cosine")
KERNEL = 3
POOL = 2  # each pooling halves the side, each upsampling doubles it
STAGES = 3


@dataclass(frozen=True)
class Config:
    """Filter counts of the three encoder convolutions (the decoder goes back through f2, f2,
    f1), the item (C, H, W) and the head."""

    filters: tuple[int, int, int] = (32, 32, 8)
    item: tuple[int, ...] = MNIST_ITEM
    head: str = SIGMOID


def _conv(n_in: int, n_out: int, padding: int = 1) -> nn.Conv2d:
    return nn.Conv2d(n_in, n_out, KERNEL, padding=padding)


def build(cfg: Config) -> tuple[nn.Module, nn.Module]:
    channels, height, width = cfg.item
    f1, f2, f3 = cfg.filters
    # ceil_mode reproduces Keras 'same' pooling: 7 → 4 rather than 3.
    encoder = nn.Sequential(
        _conv(channels, f1), nn.ReLU(), nn.MaxPool2d(POOL, ceil_mode=True),
        _conv(f1, f2), nn.ReLU(), nn.MaxPool2d(POOL, ceil_mode=True),
        _conv(f2, f3), nn.ReLU(), nn.MaxPool2d(POOL, ceil_mode=True),
    )  # fmt: skip
    sides = [math.ceil(s / POOL**STAGES) for s in (height, width)]
    # The seed's 'valid' third convolution lands 28×28 exactly (8·4 − 4); elsewhere it pads.
    valid = all(8 * s - 4 == size for s, size in zip(sides, (height, width), strict=True))
    layers: list[nn.Module] = [
        _conv(f3, f2), nn.ReLU(), nn.Upsample(scale_factor=POOL),
        _conv(f2, f2), nn.ReLU(), nn.Upsample(scale_factor=POOL),
        _conv(f2, f1, padding=0 if valid else 1), nn.ReLU(), nn.Upsample(scale_factor=POOL),
        _conv(f1, channels),
    ]  # fmt: skip
    if not valid and any(8 * s != size for s, size in zip(sides, (height, width), strict=True)):
        layers.append(Crop(height, width))
    return encoder, decoder_head(cfg.head, nn.Sequential(*layers))


loss = plain_loss
metrics = plain_metrics
