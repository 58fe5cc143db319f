"""Putting a digit model's result back on the user's own paper, in the user's own ink.

A photographed or scanned digit is, to a good approximation, two colours: paper lit unevenly
and ink laid over it. Each pixel is ``paper(x) + coverage(x) · (ink − paper(x))`` with coverage
0 on bare paper and 1 under the pen. :func:`paper_field` estimates the lit paper per channel
(the grey opening of :mod:`aeinfer.adapters.ink`, channel by channel, so a warm lamp stays
warm), :func:`ink_colour` the ink (the median input colour under the model's strokes: the
median, unlike the mean, is not pulled by noise clipped at black or white), and :func:`paint`
lays a coverage map over the paper. The result keeps navy ink navy and cream paper cream.

What coverage to paint depends on the task. A reconstruction paints the model's own strokes.
A denoised digit at a size larger than the model's frame paints :func:`guided_coverage`: the
input's own coverage (projected on the ink–paper axis, which averages the channels' noise, then
median filtered) weighed against the model's strokes by the noise measured on the filtered
coverage — a precision-weighted mean, as in a Kalman update — then snapped towards 0 or 1 by a
sigmoid (pen ink is opaque), and kept only where the model saw ink. The median window is the
smallest of :data:`MEDIAN_WINDOWS` that leaves the input :data:`INPUT_WEIGHT` of the weight: at
the Quickstart's noise (σ 127 on a 112-pixel digit) a 3×3 median left so much noise that the
input's ragged, blotchy edges were painted almost as they were, and a 5×5 one does not. The
model decides where the digit is; the input's pixels, which at the user's size carry far more
detail than 28×28 can, decide exactly where each edge lies. A plain scale-up of the 28×28
result loses to a 5×5 median filter by about 3 dB at the user's size; painting the guided
coverage beats it at every noise level (``scripts/large_digits.py``).
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

from aeinfer.adapters import ink
from aeinfer.pictures import resize_plane

MEDIAN_WINDOWS = (3, 5)
"""Median windows tried on the input's coverage, smallest (most detail kept) first."""
INPUT_WEIGHT = 0.9
"""The weight the input's filtered coverage should keep against the model's strokes: the
smallest window whose filtered noise allows it is used, else the largest."""
MIN_INK_PIXELS = 4
"""Fewer pixels than this under the model's strokes: the ink colour is not measured."""
STROKE_LEVEL = 0.8
"""The model's strokes, for measuring the ink colour: where its coverage exceeds this."""
SUPPORT_LEVEL = 0.02
"""Where the model saw any ink at all: coverage above this (widened by one frame pixel)."""
MAD_TO_SIGMA = 1.4826
"""A normal distribution's standard deviation per median absolute deviation."""


def median_of(values: np.ndarray, axis: int = 0) -> np.ndarray:
    """``np.median`` along ``axis`` via partition (numpy's median imports ``numpy.ma``)."""
    n = values.shape[axis]
    half = n // 2
    if n % 2:
        return np.take(np.partition(values, half, axis=axis), half, axis=axis)
    parted = np.partition(values, (half - 1, half), axis=axis)
    return np.take(parted, [half - 1, half], axis=axis).mean(axis=axis)


def paper_field(
    values: np.ndarray,
    border: np.ndarray,
    inverted: bool,
    grid: int,
    flatten: float,
    bare: np.ndarray | None = None,
) -> np.ndarray:
    """(H, W, C) the paper's colour under its light: per channel, the grey opening of the
    shrunk copy (ink removed) scaled back up; a plain colour, the median of ``border``
    ((N, C) border-ring pixels), when ``flatten`` is 0 or the picture is too small. Where
    ``bare`` (H, W) marks pixels known to be paper, each channel's level is corrected by the
    median of what the field leaves there: an opening of noisy pixels is biased towards the
    ink side by the noise's extremes, a median of residuals is not."""
    h, w, channels = values.shape
    plain = median_of(border, 0).astype(np.float32)
    field = np.empty_like(values)
    for c in range(channels):
        plane = 1.0 - values[..., c] if inverted else values[..., c]
        lit = ink.light(ink.shrink(plane, grid), flatten) if flatten > 0 else None
        if lit is None:
            field[..., c] = plain[c]
            continue
        up = resize_plane(lit, (w, h), "bicubic")
        field[..., c] = 1.0 - up if inverted else up
        if bare is not None and int(bare.sum()) >= MIN_INK_PIXELS:
            field[..., c] += float(median_of(values[..., c][bare] - field[..., c][bare]))
    return np.clip(field, 0.0, 1.0)


def ink_colour(values: np.ndarray, strokes: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """(C,) the median colour of ``values`` where the model's coverage ``strokes`` is high;
    ``fallback`` when the model drew (almost) nothing."""
    chosen = strokes > STROKE_LEVEL * max(float(strokes.max()), 1e-6)
    if int(chosen.sum()) < MIN_INK_PIXELS or float(strokes.max()) < SUPPORT_LEVEL:
        return fallback.astype(np.float32)
    return median_of(values[chosen], 0).astype(np.float32)


def coverage_of(values: np.ndarray, paper: np.ndarray, ink_rgb: np.ndarray) -> np.ndarray:
    """(H, W) each pixel's position on the line from paper (0) to ink (1): a least-squares
    projection over the channels (noise across the line is discarded)."""
    axis = ink_rgb - paper
    length = np.maximum((axis * axis).sum(-1), 1e-4)
    return (((values - paper) * axis).sum(-1) / length).astype(np.float32)


def noise_of(coverage: np.ndarray, apart: int = 1) -> float:
    """The standard deviation of pixel noise in ``coverage``, from the median absolute
    deviation of differences between pixels ``apart`` columns apart (edges are few, so they
    barely move the median). A k×k filtered plane is measured k apart: its pixels' windows
    then share no input pixel, so their noise is independent as the formula assumes."""
    if coverage.shape[1] <= apart:
        return 0.0
    diffs = (coverage[:, apart:] - coverage[:, :-apart]).ravel()
    deviation = float(median_of(np.abs(diffs - median_of(diffs)), 0))
    return MAD_TO_SIGMA * deviation / float(np.sqrt(2.0))


def snap(coverage: np.ndarray, gain: float) -> np.ndarray:
    """A sigmoid contrast around 0.5 normalised to keep 0 and 1 (``gain`` 0: unchanged)."""
    coverage = np.clip(coverage, 0.0, 1.0)
    if gain <= 0:
        return coverage
    low, high = (1.0 / (1.0 + np.exp(-(v - 0.5) * gain)) for v in (0.0, 1.0))
    curve = 1.0 / (1.0 + np.exp(-(coverage - 0.5) * gain))
    return ((curve - low) / (high - low)).astype(np.float32)


def guided_coverage(
    observed: np.ndarray, strokes: np.ndarray, prior: float, gain: float, reach: int
) -> np.ndarray:
    """The input's ``observed`` coverage, median filtered and weighed against the model's
    ``strokes`` (trusted to within ``prior``) by its noise level, snapped by ``gain``, and
    zero farther than ``reach`` pixels from any stroke (see the module docstring)."""
    # The noise is measured on each filtered plane, not assumed (a 3×3 median keeps √(π/18)
    # ≈ 0.42 of Gaussian noise; Pratt, Digital Image Processing, ch. 10): one rule then serves
    # every window, whatever the noise's distribution after clipping at paper and ink.
    # The weight below is 1 / (1 + (noise / prior)²), so the input keeps INPUT_WEIGHT of it
    # while noise ≤ prior · √((1 − INPUT_WEIGHT) / INPUT_WEIGHT).
    limit = prior * float(np.sqrt((1.0 - INPUT_WEIGHT) / INPUT_WEIGHT))
    plane = Image.fromarray(np.ascontiguousarray(observed), "F")
    for size in MEDIAN_WINDOWS:
        smoothed = np.asarray(plane.filter(ImageFilter.MedianFilter(size)), dtype=np.float32)
        noise = max(noise_of(smoothed, size), 1e-6)
        if noise <= limit:
            break
    weight = (1.0 / noise**2) / (1.0 / noise**2 + 1.0 / prior**2)
    coverage = snap(weight * smoothed + (1.0 - weight) * strokes, gain)
    support = ink.box_blur((strokes > SUPPORT_LEVEL).astype(np.float32), reach) > 0
    return np.where(support, coverage, 0.0).astype(np.float32)


def paint(paper: np.ndarray, ink_rgb: np.ndarray, coverage: np.ndarray) -> np.ndarray:
    """(H, W, C) ``ink_rgb`` laid over ``paper`` at ``coverage``."""
    return np.clip(paper + coverage[..., None] * (ink_rgb - paper), 0.0, 1.0)


__all__ = [
    "coverage_of",
    "guided_coverage",
    "ink_colour",
    "median_of",
    "noise_of",
    "paint",
    "paper_field",
    "snap",
]
