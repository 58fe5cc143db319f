"""Quality metrics of a served model, computed in numpy on what ONNX Runtime returns.

The definitions match the trainer's (``aeinfer.train.families.base``), so a card's figures
(measured in torch at the end of training) and these (measured through ``aeinfer.load``)
agree up to parity error and the random draw of noise or latent samples:

- ``bce``: mean per-pixel binary cross-entropy, log clamped at 1e-7 as Keras does;
- ``mse``: mean per-pixel squared error; ``psnr_db``: mean over images of 10·log10(1/MSE);
- ``psnr_noisy_db``: PSNR of reconstruct(x + 0.5·N(0, 1), clipped) against clean x (denoising);
- ``mean_code``: mean |code| (the Keras blog's sparsity figure);
- ``neg_elbo``: for variational models, per-image summed BCE of one reparameterised sample
  plus KL(q(z|x) ‖ N(0, I)), in nats.

It also defines the anomaly score of ``aeinfer score`` (per-image MSE of the reconstruction) and
the summary of its distribution that a model card carries.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from aeinfer.errors import InputError, ModelIntegrityError
from aeinfer.model import Model

NOISE_FACTOR = 0.5
BCE_EPS = 1e-7
MSE_FLOOR = 1e-10


def add_noise(images: np.ndarray, factor: float, rng: np.random.Generator) -> np.ndarray:
    """x + factor·N(0, 1), clipped to [0, 1]; float32."""
    noise = rng.standard_normal(images.shape).astype(np.float32)
    return np.clip(images + factor * noise, 0.0, 1.0).astype(np.float32)


def bce_per_pixel(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per-pixel BCE, same shape as the inputs."""
    p = np.clip(pred.astype(np.float64), BCE_EPS, 1 - BCE_EPS)
    return -(target * np.log(p) + (1 - target) * np.log(1 - p))


def psnr_per_image(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """PSNR in dB of each image (pixels in [0, 1])."""
    mse = ((pred.astype(np.float64) - target) ** 2).reshape(len(pred), -1).mean(axis=1)
    return -10.0 * np.log10(np.maximum(mse, MSE_FLOOR))


def neg_elbo(model: Model, images: np.ndarray, rng: np.random.Generator) -> float:
    """Mean −ELBO in nats with one reparameterised sample per image."""
    mean, logvar = model.encode_distribution(images)
    z = mean + np.exp(0.5 * logvar) * rng.standard_normal(mean.shape).astype(np.float32)
    rec = bce_per_pixel(model.decode(z), images).reshape(len(images), -1).sum(axis=1)
    kl = -0.5 * (1 + logvar - mean**2 - np.exp(logvar)).reshape(len(images), -1).sum(axis=1)
    return float((rec + kl).mean())


def measure(model: Model, images: np.ndarray, seed: int = 0) -> dict[str, float]:
    """All metrics of ``model`` on ``images`` (N, 28, 28) float32 in [0, 1]."""
    rng = np.random.default_rng(seed)
    recon = model.reconstruct(images)
    noisy = add_noise(images, NOISE_FACTOR, rng)
    out = {
        "bce": float(bce_per_pixel(recon, images).mean()),
        "mse": float(((recon - images) ** 2).mean()),
        "psnr_db": float(psnr_per_image(recon, images).mean()),
        "psnr_noisy_db": float(psnr_per_image(model.reconstruct(noisy), images).mean()),
        "psnr_input_db": float(psnr_per_image(noisy, images).mean()),
    }
    if model.is_variational:
        out["neg_elbo"] = neg_elbo(model, images, rng)
    else:
        out["mean_code"] = float(np.abs(model.encode(images)).mean())
    return out


# --- the anomaly score ------------------------------------------------------------------------
# A model card may carry the distribution of the per-image score on a reference split (written
# at export, see aeinfer.export.checkpoint), so `aeinfer score` can say where an image falls.
SCORE_METRIC = "mse_per_pixel"
SCORE_PERCENTILES = (50.0, 90.0, 95.0, 99.0, 99.9)
# Quantiles at every 1 % (0 %, 1 %, …, 100 %): enough to interpolate any percentile.
SCORE_QUANTILE_STEPS = 100
PERCENT = 100.0
# Significant digits kept in a card; far finer than any threshold a user would read.
SCORE_DIGITS = 6


def score_per_image(recon: np.ndarray, images: np.ndarray) -> np.ndarray:
    """The anomaly score of each image: mean squared error per pixel, pixels in [0, 1]."""
    diff = recon.astype(np.float64) - images.astype(np.float64)
    return (diff**2).reshape(len(images), -1).mean(axis=1)


def _rounded(value: float) -> float:
    return float(f"{value:.{SCORE_DIGITS}g}")


def _percent_key(percent: float) -> str:
    return f"{percent:g}"


def score_distribution(scores: np.ndarray, split: str, computed_with: str) -> dict[str, Any]:
    """The card's ``score`` entry: summary figures and 1 % quantiles of per-image scores."""
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
            _percent_key(p): _rounded(float(np.percentile(values, p))) for p in SCORE_PERCENTILES
        },
        "quantiles": [_rounded(float(q)) for q in np.percentile(values, levels)],
    }


def card_score_distribution(card: dict[str, Any]) -> dict[str, Any] | None:
    """The card's score distribution, or None when the card has none (older exports)."""
    entry = card.get("score")
    if entry is None:
        return None
    quantiles = entry.get("quantiles") if isinstance(entry, dict) else None
    if (
        not isinstance(quantiles, list)
        or len(quantiles) < 2
        or not all(isinstance(q, (int, float)) for q in quantiles)
        or entry.get("metric") != SCORE_METRIC
    ):
        raise ModelIntegrityError(
            f"model {card.get('name')!r}: malformed score distribution in its card"
        )
    return entry


def percentile_of(score: float, distribution: dict[str, Any]) -> float:
    """Where ``score`` falls in ``distribution``: the percentage of reference images scoring
    lower, interpolated between the card's quantiles (0 below the lowest, 100 above the highest).
    """
    quantiles = np.asarray(distribution["quantiles"], dtype=np.float64)
    levels = np.linspace(0.0, PERCENT, len(quantiles))
    return float(np.interp(score, quantiles, levels))
