"""The anomaly score and its reference distribution.

An item's score is the mean squared error per value between it and its reconstruction, in the
data's own units (pixels in [0, 1] for images). A card may carry the distribution of the score
on a reference split (written at export, measured through the exported graphs), so a new score
can be placed among them as a percentile.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from aeinfer.card import SCORE_METRIC, ScoreDistribution
from aeinfer.errors import InputError

SCORE_PERCENTILES = (50.0, 90.0, 95.0, 99.0, 99.9)
SCORE_QUANTILE_STEPS = 100
"""Quantiles at every 1 % (0 %, 1 %, …, 100 %): enough to interpolate any percentile."""
PERCENT = 100.0
SCORE_DIGITS = 6
"""Significant digits kept in a card; far finer than any threshold a user would read."""


def score_per_item(results: np.ndarray, items: np.ndarray) -> np.ndarray:
    """The score of each item of a batch: mean squared error per value."""
    diff = results.astype(np.float64) - items.astype(np.float64)
    return (diff**2).reshape(len(items), -1).mean(axis=1)


def _rounded(value: float) -> float:
    return float(f"{value:.{SCORE_DIGITS}g}")


def score_distribution(scores: np.ndarray, split: str, computed_with: str) -> dict[str, Any]:
    """The card's ``score`` entry: summary figures and 1 % quantiles of per-item scores."""
    values = np.asarray(scores, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise InputError(f"need a non-empty 1-D array of scores, got shape {values.shape}")
    levels = np.linspace(0.0, PERCENT, SCORE_QUANTILE_STEPS + 1)
    return {
        "metric": SCORE_METRIC,
        "split": split,
        "count": int(values.size),
        "computed_with": computed_with,
        "mean": _rounded(float(values.mean())),
        "std": _rounded(float(values.std())),
        "percentiles": {
            f"{p:g}": _rounded(float(np.percentile(values, p))) for p in SCORE_PERCENTILES
        },
        "quantiles": [_rounded(float(q)) for q in np.percentile(values, levels)],
    }


def percentile_of(score: float, distribution: ScoreDistribution) -> float:
    """Where ``score`` falls: the percentage of reference items scoring lower, interpolated
    between the card's quantiles (0 below the lowest, 100 above the highest)."""
    quantiles = np.asarray(distribution.quantiles, dtype=np.float64)
    levels = np.linspace(0.0, PERCENT, len(quantiles))
    return float(np.interp(score, quantiles, levels))


__all__ = ["percentile_of", "score_distribution", "score_per_item"]
