"""Geometric self-ensemble: a model's output averaged over the 8 flips and 90° rotations.

Seeds: Timofte, Rothe & Van Gool, "Seven ways to improve example-based single image super
resolution" (CVPR 2016), and EDSR+ (Lim et al., 2017): run a fully convolutional model on each
of the eight dihedral transforms of its input, undo each transform on the output, and average.
Each pass sees the noise from another orientation, so their errors are partly independent and
the mean is closer to the clean picture; it costs eight passes. It is only valid for a model
that treats the eight alike, because it was trained on all of them (the card's ``tiles``
preparation says so: ``dihedral``), and that takes any height and width (a rotation swaps them).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from aeinfer.adapters.base import ModelFunction

PASSES = 8
"""Four rotations by 90°, each with and without a left–right flip."""
SPATIAL = (2, 3)
"""The height and width axes of an (N, C, H, W) batch."""


def _transforms() -> Iterator[tuple[int, bool]]:
    for quarter_turns in range(4):
        for flip in (False, True):
            yield quarter_turns, flip


def _forward(batch: np.ndarray, quarter_turns: int, flip: bool) -> np.ndarray:
    out = np.rot90(batch, quarter_turns, axes=SPATIAL)
    if flip:
        out = out[..., ::-1]
    return np.ascontiguousarray(out)


def _backward(batch: np.ndarray, quarter_turns: int, flip: bool) -> np.ndarray:
    if flip:
        batch = batch[..., ::-1]
    return np.rot90(batch, -quarter_turns, axes=SPATIAL)


def dihedral_mean(fn: ModelFunction) -> ModelFunction:
    """``fn`` (an (N, C, H, W) → (N, C', H, W) model function) averaged over the 8 transforms.
    One pass's output is held at a time beside the running sum."""

    def averaged(batch: np.ndarray) -> np.ndarray:
        total: np.ndarray | None = None
        for quarter_turns, flip in _transforms():
            out = _backward(fn(_forward(batch, quarter_turns, flip)), quarter_turns, flip)
            if total is None:
                total = np.array(out, dtype=np.float32)
            else:
                total += out
        assert total is not None  # eight passes ran
        total /= PASSES
        return total

    return averaged


__all__ = ["PASSES", "dihedral_mean"]
