"""Calibrating a digit model's domain check at export: fit the score, set the threshold, measure.

The check (:mod:`aeinfer.domain`) scores named figures of a prepared input. Here its weights
are fitted — a logistic regression on the standardised figures and their squares, by Newton's
method (iteratively reweighted least squares), classes weighted equally, a small ridge — on one
seed's examples: in the domain, MNIST training digits (clean and with noise, at 28×28 and
enlarged) and photographed single digits; outside it, the non-digits of
:mod:`aeinfer.export.domain_sets` (photos, pages of several digits, blank and ruled pages,
text). The threshold is then set on MNIST training digits the fit did not see, so that
:data:`ACCEPT_MNIST` of them are accepted, and the result is measured on the MNIST test split and
on another seed's photographed digits and non-digits, by kind. Everything — the weights, the
threshold, the distributions, the rates — goes into the card's ``domain`` section, measured
through the model being exported.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from aeinfer.adapters import Adapter
from aeinfer.adapters.ink import FEATURES
from aeinfer.domain import figures
from aeinfer.export.domain_sets import NON_DIGIT_KINDS, digit_photos, non_digits
from aeinfer.model import Model
from aeinfer.pictures import read_picture

ACCEPT_MNIST = 0.995
"""The share of MNIST test digits the threshold accepts."""
SEED_FIT = 11
SEED_MEASURE = 12
RIDGE = 1e-2
NEWTON_STEPS = 30
QUANTILES = tuple(range(0, 101, 5))
NOISE_MAX = 0.5
"""Noisy examples get x + σ·N(0, 1), σ up to this (the Quickstart's noise)."""
CHUNK = 256


@dataclass(frozen=True)
class Counts:
    """How many examples of each kind fit the score and measure it."""

    digits: int = 3000
    noisy_digits: int = 1500
    enlarged_digits: int = 300
    digit_photos: int = 600
    non_digits: int = 2000
    measure_digit_photos: int = 400
    measure_non_digits: int = 1000
    threshold_digits: int = 5000
    """MNIST training digits, unseen by the fit, that set the threshold."""
    mnist_test: int | None = None
    """None: the whole test split."""


@dataclass(frozen=True, eq=False)
class DomainData:
    """MNIST digits (uint8 N×28×28) and natural photographs ((H, W, 3) float in [0, 1]; may be
    empty) for fitting and for measuring."""

    train_digits: np.ndarray
    train_labels: np.ndarray
    test_digits: np.ndarray
    test_labels: np.ndarray
    photos_fit: list[np.ndarray] = field(default_factory=list)
    photos_measure: list[np.ndarray] = field(default_factory=list)


def _enlarged_noisy(digits: np.ndarray, rng: np.random.Generator) -> Iterable[np.ndarray]:
    from PIL import Image

    for digit in digits:
        side = int(rng.integers(56, 225))
        big = np.asarray(Image.fromarray(digit).resize((side, side), Image.Resampling.BICUBIC))
        noisy = big / 255.0 + rng.uniform(0, NOISE_MAX) * rng.standard_normal(big.shape)
        yield (np.clip(noisy, 0, 1) * 255 + 0.5).astype(np.uint8)


def _noisy(digits: np.ndarray, rng: np.random.Generator) -> Iterable[np.ndarray]:
    for digit in digits:
        noisy = digit / 255.0 + rng.uniform(0, NOISE_MAX) * rng.standard_normal(digit.shape)
        yield (np.clip(noisy, 0, 1) * 255 + 0.5).astype(np.uint8)


def measure_figures(model: Model, adapter: Adapter, sources: Iterable[Any]) -> np.ndarray:
    """(N, len(FEATURES)) figures of each source (an image array or an encoded file)."""
    rows: list[np.ndarray] = []
    batch: list[tuple[np.ndarray, Any]] = []

    def flush() -> None:
        frames = np.concatenate([tensor for tensor, _ in batch])
        recon = model.reconstruct(frames)
        for (tensor, state), out in zip(batch, recon, strict=True):
            values = figures(state.diagnosis, tensor[0], out[None])
            rows.append(np.array([values[name] for name in FEATURES]))
        batch.clear()

    for source in sources:
        tensor, state = adapter.prepare(read_picture(source))
        batch.append((tensor, state))
        if len(batch) == CHUNK:
            flush()
    if batch:
        flush()
    return np.stack(rows) if rows else np.zeros((0, len(FEATURES)))


def fit(positive: np.ndarray, negative: np.ndarray) -> dict[str, Any]:
    """Centre, scale and weights of the quadratic logistic score (class-balanced IRLS)."""
    x = np.concatenate([positive, negative])
    y = np.concatenate([np.ones(len(positive)), np.zeros(len(negative))])
    centre, scale = x.mean(axis=0), np.maximum(x.std(axis=0), 1e-6)
    z = (x - centre) / scale
    design = np.hstack([z, z * z, np.ones((len(z), 1))])
    weight = np.where(y == 1, 0.5 / len(positive), 0.5 / len(negative))
    w = np.zeros(design.shape[1])
    for _ in range(NEWTON_STEPS):
        p = 1.0 / (1.0 + np.exp(-np.clip(design @ w, -30, 30)))
        gradient = design.T @ (weight * (p - y)) + RIDGE * w
        hessian = (design * (weight * p * (1 - p))[:, None]).T @ design + RIDGE * np.eye(len(w))
        w -= np.linalg.solve(hessian, gradient)
    n = len(FEATURES)
    return {
        "centre": [float(v) for v in centre],
        "scale": [float(v) for v in scale],
        "linear": [float(v) for v in w[:n]],
        "quadratic": [float(v) for v in w[n : 2 * n]],
        "bias": float(w[-1]),
    }


def _scores(params: dict[str, Any], rows: np.ndarray) -> np.ndarray:
    z = (rows - np.array(params["centre"])) / np.array(params["scale"])
    return params["bias"] + z @ np.array(params["linear"]) + (z * z) @ np.array(params["quadratic"])


def _summary(scores: np.ndarray, threshold: float, accepted: bool) -> dict[str, Any]:
    share = float((scores >= threshold).mean()) if len(scores) else 0.0
    return {
        "count": len(scores),
        ("accepted" if accepted else "refused"): round(share if accepted else 1 - share, 4),
        "quantiles": [round(float(np.percentile(scores, q)), 3) for q in QUANTILES]
        if len(scores)
        else [],
    }


def calibrate(
    model: Model, adapter: Adapter, data: DomainData, counts: Counts = Counts()
) -> dict[str, Any]:
    """The card's ``domain`` section for ``model`` (see the module docstring)."""
    rng = np.random.default_rng(SEED_FIT)
    pick = rng.permutation(len(data.train_digits))
    cut = [counts.digits, counts.noisy_digits, counts.enlarged_digits]
    clean = data.train_digits[pick[: cut[0]]]
    noisy = data.train_digits[pick[cut[0] : cut[0] + cut[1]]]
    enlarged = data.train_digits[pick[cut[0] + cut[1] : sum(cut)]]
    photographed = digit_photos(data.train_digits, data.train_labels, counts.digit_photos, SEED_FIT)
    positive = np.concatenate([
        measure_figures(model, adapter, clean),
        measure_figures(model, adapter, _noisy(noisy, rng)),
        measure_figures(model, adapter, _enlarged_noisy(enlarged, rng)),
        measure_figures(model, adapter, (s.data for s in photographed)),
    ])  # fmt: skip
    negatives = list(non_digits(data.train_digits, data.photos_fit, counts.non_digits, SEED_FIT))
    negative = measure_figures(model, adapter, (s.data for s in negatives))
    params = fit(positive, negative)

    held_out = data.train_digits[pick[sum(cut) : sum(cut) + counts.threshold_digits]]
    held_out_scores = _scores(params, measure_figures(model, adapter, held_out))
    threshold = float(np.quantile(held_out_scores, 1.0 - ACCEPT_MNIST))
    test = data.test_digits[: counts.mnist_test]
    test_scores = _scores(params, measure_figures(model, adapter, test))
    measured_photos = digit_photos(
        data.test_digits, data.test_labels, counts.measure_digit_photos, SEED_MEASURE
    )
    photo_scores = _scores(
        params, measure_figures(model, adapter, (s.data for s in measured_photos))
    )
    others = list(
        non_digits(data.test_digits, data.photos_measure, counts.measure_non_digits, SEED_MEASURE)
    )
    other_scores = _scores(params, measure_figures(model, adapter, (s.data for s in others)))
    kinds = np.array([s.kind for s in others])
    by_kind = {
        kind: _summary(other_scores[kinds == kind], threshold, accepted=False)
        for kind in NON_DIGIT_KINDS
        if (kinds == kind).any()
    }
    for entry in by_kind.values():
        entry.pop("quantiles")
    return {
        "features": list(FEATURES),
        **params,
        "threshold": threshold,
        "reference": {
            "target": f"accept {ACCEPT_MNIST:.1%} of MNIST digits (threshold set on "
            f"{len(held_out)} training digits the fit did not see)",
            "fitted_on": {
                "seed": SEED_FIT,
                "in_domain": {
                    "MNIST train digits": counts.digits,
                    "noisy MNIST train digits (σ up to 0.5)": counts.noisy_digits,
                    "enlarged noisy MNIST train digits": counts.enlarged_digits,
                    "photographed MNIST train digits": counts.digit_photos,
                },
                "outside": {"non-digits": counts.non_digits, "photos": len(data.photos_fit)},
            },
            "mnist_test": _summary(test_scores, threshold, accepted=True),
            "digit_photos": {
                **_summary(photo_scores, threshold, accepted=True),
                "seed": SEED_MEASURE,
            },
            "non_digits": {
                **_summary(other_scores, threshold, accepted=False),
                "seed": SEED_MEASURE,
                "photos": len(data.photos_measure),
                "by_kind": by_kind,
            },
        },
    }


__all__ = ["ACCEPT_MNIST", "Counts", "DomainData", "calibrate", "fit", "measure_figures"]
