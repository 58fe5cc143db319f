"""Quality metrics of a served model, computed in numpy on what ONNX Runtime returns.

The definitions match the trainer's (``aeinfer.train.families.base``), so a card's figures
(measured in torch at the end of training) and these (measured through ``aeinfer.load``)
agree up to parity error and the random draw of noise or latent samples:

- ``bce``: mean per-pixel binary cross-entropy, log clamped at 1e-7 as Keras does;
- ``mse``: mean per-pixel squared error; ``psnr_db``: mean over images of 10·log10(1/MSE);
- ``psnr_noisy_db``: PSNR of reconstruct(x + f·N(0, 1), clipped) against clean x (denoising;
  f = ``noise``, 0.5 for the digit zoo, σ 25/255 for the photo denoiser; reported as
  ``noise_factor``);
- ``mean_code``: mean |code| (the Keras blog's sparsity figure);
- ``neg_elbo``: for variational models, per-image summed BCE of one reparameterised sample
  plus KL(q(z|x) ‖ N(0, I)), in nats.

Items are whatever the model takes ((N, 1, 28, 28) digits for the zoo; (N, H, W) grey images
are accepted too); every figure is computed on the items as the model sees them.
"""

from __future__ import annotations

import numpy as np

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


def measure(
    model: Model, images: np.ndarray, seed: int = 0, noise: float = NOISE_FACTOR
) -> dict[str, float]:
    """All metrics of ``model`` (the tensor-level model) on ``images`` in [0, 1], the noisy
    ones with noise factor ``noise``."""
    rng = np.random.default_rng(seed)
    images = model.check_items(images)
    recon = model.reconstruct(images)
    noisy = add_noise(images, noise, rng)
    out = {
        "bce": float(bce_per_pixel(recon, images).mean()),
        "mse": float(((recon - images) ** 2).mean()),
        "psnr_db": float(psnr_per_image(recon, images).mean()),
        "psnr_noisy_db": float(psnr_per_image(model.reconstruct(noisy), images).mean()),
        "psnr_input_db": float(psnr_per_image(noisy, images).mean()),
        "noise_factor": noise,
    }
    if model.is_variational:
        out["neg_elbo"] = neg_elbo(model, images, rng)
    else:
        out["mean_code"] = float(np.abs(model.encode(images)).mean())
    return out
