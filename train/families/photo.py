"""``photo``: a blind denoiser for natural colour photographs, fully convolutional.

Seeds: FFDNet (Zhang, Zuo & Zhang, "FFDNet: Toward a Fast and Flexible Solution for CNN-Based
Image Denoising", 2018) for the shape — a lossless pixel-unshuffle of the image into a
half-resolution map of 4·C channels, 3×3 convolutions there, and a pixel-shuffle back; DnCNN
(Zhang et al., "Beyond a Gaussian Denoiser", 2017) for residual learning — the network predicts
the noise, which is subtracted from the input; residual blocks (He et al., 2016) for the body.
Measured here before choosing (4 minutes of training each on these photos, σ = 25 held out):
a plain 8-conv stack at half resolution barely learned (+1 dB: without the identity paths of
residual blocks it hardly moved from its start), a plain 10-conv stack at full resolution
reached 24.8 dB, six residual blocks at half resolution 29.7 dB (input 20.5 dB).

As an aeinfer autoencoder: the encoder is the unshuffle and the first half of the stack; its
code is a half-resolution feature map holding the unshuffled image itself beside the features
(so the code loses nothing and the decoder can subtract the noise it predicts); the decoder is
the second half of the stack, the subtraction, and the shuffle back, clamped to [0, 1]. Blind
over noise levels: each training patch gets its own σ drawn from [0, ``noise_max``] (on the
0–255 scale), a share of patches stays clean (so a clean photo comes back unchanged), and a
share is grey with the same noise in every channel (so grey photos, read as RGB, are denoised
too). The noise exists only in the loss; the exported graphs are deterministic.

Where the gap to BM3D at low noise comes from, measured by fine-tuning the 80-epoch weights
on the first 14 photos with ``scripts/photo_probe.py`` (held-out photos at full size, PSNR at
σ 0/15/25/50: 45.07, 33.24, 31.12, 27.97 dB before): restricted to σ ≤ 30 for 4 epochs it
gained 0.13 dB at σ 15 (and lost 0.55 at σ 50), so being blind costs little at low σ —
capacity and data limit it, not the noise level being unknown; a per-patch log-MSE loss (every
σ weighted alike in dB) raised the clean photos by 2.2 dB after one epoch (0.4 after three) but
cost 0.25–0.37 dB at every σ within 3 epochs, so it was dropped. (Those runs: a fresh AdamW,
lr 1e-4, cosine.)
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from aeinfer.card import DENOISE, DETERMINISTIC, IMAGE
from aeinfer.train.config import TrainConfig
from aeinfer.train.families.base import ITEM, SIGMOID, LossOutput, StepContext, psnr

LAYOUT = ITEM
MODALITIES = (IMAGE,)
LATENT_KIND = DETERMINISTIC
PRIMARY_METRIC = "psnr_noisy_db"
TASKS = (DENOISE,)
FREE_AXES = ("height", "width")
MULTIPLE_OF = 2
"""The unshuffle halves each side: the model takes any even height and width."""
DEFAULT_DATA = "photos"
"""Trains on the natural photographs of :mod:`aeinfer.train.photos` unless told otherwise."""
TRAINING = TrainConfig(epochs=80, batch_size=32, lr=5e-4, schedule="cosine", grad_clip=0.1)
"""A run from scratch. The bundled model was trained in seven stages on a 2-core CPU (no GPU
was lent to it). First 80 epochs of this on the first 14 photos (a 40-epoch run resumed as an
80-epoch one; held-out σ 25 PSNR 31.19 → 31.47 dB over the last 40). Then 90 more epochs from
those weights on 20 photos — the raccoon from scipy, five Kodak photographs from pyiqa, and
each photo's draw share capped at :data:`aeinfer.train.photos.AREA_CAP` — with a fresh cosine
from lr 2e-4 (``scripts/build_zoo.py --families photo --init-from-bundled --epochs 90 --lr
2e-4``; the card's ``init_from``): held-out σ 25 from 31.47 to 32.21 dB, the clean patches from
45.2 to 50.2 dB. Then the same again on today's 25 (gradio's cheetahs and tower, imgaug's
quokka, mahotas's portrait added): σ 25 to 32.38 dB, clean patches 53.0 dB, and on the
held-out photos at full size σ 15/25/50 from 33.87/31.88/28.76 to 34.07/32.06/29.02 dB
(``scripts/photo_quality.py``). The probes (module docstring) moved σ 15 by
at most 0.13 dB, so more and more typical photographs helped far more than any change of loss.
That model left the noise of a noisy photo saved as JPEG q90 in place (σ 15: 27.42 dB out for
27.28 in; BM3D 33.02 — photo_quality.py's JPEG rows): it had only seen white noise. So a fourth
stage (80 epochs from it, lr 2e-4) saw 30 % of its patches through JPEG (``jpeg_share``) and
half of them at σ ≤ 30 (``low_share``): JPEG σ 15 32.84 dB, PNG σ 15 34.07 → 34.18; but clean
photos came back less unchanged (grace_hopper 57.9 → 37.4 dB against itself: its film grain is
now removed as noise). A fifth (20 epochs from the fourth, lr 1e-4) kept a clean patch saved as
JPEG as it is (the target of ``corrupt``); it moved the clean photos little (grace_hopper
37.8 dB). A sixth (20 epochs from the fifth, lr 1e-4, 17 min) left 40 % of the patches clean
(``clean_share``, was 0.1; the probes that chose it are in its docstring): the held-out clean
photos from 43.2/40.9/45.1/37.8 to 47.7/46.9/48.0/40.6 dB against themselves, for 0.01–0.02 dB
on the PNG rows of ``photo_quality.py`` and 0.06–0.07 dB on its JPEG rows. A seventh (40 epochs
from the sixth, lr 2e-4, 39 min) on 29 photos — glymur's snowy street and glass of beer and
PyWavelets' aerial view and escalator added — took σ 15/25/50 to 34.24/32.09/28.92 dB (from
34.18/32.05/28.94) and the JPEG rows to 33.01/31.28 (from 32.95/31.17); the clean photos
50.1/50.8/48.2/40.2 dB against themselves.
At 1e-3 without clipping a first run collapsed to the identity map (σ 25 PSNR 28.1 → 21.0 dB)
one epoch after warm-up; gradient norms sit near 0.04, so clipping at 0.1 only trims
spikes."""
SCALE = 2
KERNEL = 3
PIXEL_MAX = 255.0


@dataclass(frozen=True)
class Config:
    """Widths and depths of the two halves, the training noise, and the patch (item)."""

    features: int = 64
    encoder_blocks: int = 3
    decoder_blocks: int = 3
    noise_max: float = 55.0
    """Highest training σ, on the 0–255 scale (served: σ 0–50)."""
    low_share: float = 0.5
    """The share of patches whose σ is drawn from [0, ``low_noise_max``] instead: more of the
    loss at the low noise where the model trailed BM3D most (σ 15; see ``TRAINING``)."""
    low_noise_max: float = 30.0
    jpeg_share: float = 0.3
    """The share of noisy patches saved as JPEG before the model sees them, as a camera or an
    editor saves a noisy photo: 4:2:0 chroma shares the colour noise across 2×2 pixels (no
    longer white) and the DCT quantisation removes part of the rest. The third stage's model,
    which had only seen white noise, left it in place: see ``TRAINING``."""
    jpeg_quality: tuple[int, int] = (60, 95)
    """The JPEG quality range those patches are saved at (Pillow's scale, 4:2:0 chroma)."""
    eval_noise: float = 25.0
    clean_share: float = 0.4
    """The share of patches left clean (σ = 0), trained to come back as they are. With 0.1
    beside the fourth stage's low-σ and JPEG patches the model smoothed clean photos
    (grace_hopper's film grain removed: 37.8 dB against itself). ``scripts/photo_probe.py``, 4
    epochs from those weights, raised the worst held-out clean photo to 39.1 dB with
    ``low_share`` 0 (so the low-σ share is only part of it), 40.5 with ``clean_share`` 0.25 and
    42.8 with 0.4, each within 0.03 dB of σ 15/25/50 and JPEG σ 15 as they were; the sixth
    stage, 20 epochs with 0.4, reached 40.6 (see ``TRAINING``)."""
    grey_share: float = 0.15
    item: tuple[int, ...] = (3, 64, 64)
    head: str = SIGMOID


def eval_noise_factor(cfg: Config) -> float:
    """The evaluation noise on [0, 1] (``eval_noise`` is on the 0–255 scale): what exported
    variants are judged at, as the trainer judges the model."""
    return cfg.eval_noise / PIXEL_MAX


class Block(nn.Module):
    """A residual block: x + conv(relu(conv(x)))."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.first = nn.Conv2d(width, width, KERNEL, padding=1)
        self.second = nn.Conv2d(width, width, KERNEL, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.second(F.relu(self.first(x)))


class PhotoEncoder(nn.Module):
    """(N, C, H, W) → (N, 4C + F, H/2, W/2): the unshuffled image, and features beside it."""

    def __init__(self, cfg: Config) -> None:
        super().__init__()
        self.unshuffle = nn.PixelUnshuffle(SCALE)
        self.enter = nn.Conv2d(cfg.item[0] * SCALE * SCALE, cfg.features, KERNEL, padding=1)
        self.blocks = nn.Sequential(*(Block(cfg.features) for _ in range(cfg.encoder_blocks)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        low = self.unshuffle(x)
        return torch.cat([low, self.blocks(self.enter(low))], dim=1)


class PhotoDecoder(nn.Module):
    """The code → the image: features → predicted noise (half resolution), subtracted from the
    unshuffled image in the code, shuffled back, clamped to [0, 1]."""

    def __init__(self, cfg: Config) -> None:
        super().__init__()
        self.image_channels = cfg.item[0] * SCALE * SCALE
        self.blocks = nn.Sequential(*(Block(cfg.features) for _ in range(cfg.decoder_blocks)))
        self.leave = nn.Conv2d(cfg.features, self.image_channels, KERNEL, padding=1)
        self.shuffle = nn.PixelShuffle(SCALE)

    def unclamped(self, code: torch.Tensor) -> torch.Tensor:
        """The output before the clamp, for the loss (the clamp has no gradient outside)."""
        low, features = code[:, : self.image_channels], code[:, self.image_channels :]
        noise = self.leave(F.relu(self.blocks(features)))
        return self.shuffle(low - noise)

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        return self.unclamped(code).clamp(0.0, 1.0)


def build(cfg: Config) -> tuple[nn.Module, nn.Module]:
    if cfg.item[0] not in (1, 3):
        raise ValueError(f"denoises grey or RGB photos; this item has {cfg.item[0]} channels")
    return PhotoEncoder(cfg), PhotoDecoder(cfg)


def corrupt(x: torch.Tensor, cfg: Config, generator: torch.Generator) -> torch.Tensor:
    """Each patch: σ ~ U[0, noise_max], or U[0, low_noise_max] for a ``low_share`` of them (a
    ``clean_share`` of them σ = 0), Gaussian noise, the
    same in every channel for a ``grey_share`` of them (which are made grey first), then
    clipped and quantised to 8 bits, as a user's noisy PNG is; a ``jpeg_share`` of them then
    saved as JPEG (:func:`as_jpeg`). Returns (input, target): the clean patch, or for a clean
    patch saved as JPEG that JPEG itself."""
    n = x.shape[0]
    draws = torch.rand((n, 6), generator=generator)
    top = torch.where(draws[:, 3] < cfg.low_share, cfg.low_noise_max, cfg.noise_max)
    sigma = draws[:, 0] * top / PIXEL_MAX
    sigma = torch.where(draws[:, 1] < cfg.clean_share, torch.zeros_like(sigma), sigma)
    grey = draws[:, 2] < cfg.grey_share
    if grey.any() and x.shape[1] == 3:
        luma = (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]).unsqueeze(1)
        x = torch.where(grey.view(-1, 1, 1, 1), luma.expand_as(x), x)
    noise = torch.randn(x.shape, generator=generator)
    shared = noise[:, :1].expand_as(noise)
    noise = torch.where(grey.view(-1, 1, 1, 1), shared, noise)
    noisy = (x + sigma.view(-1, 1, 1, 1) * noise).clamp(0.0, 1.0)
    noisy = torch.round(noisy * PIXEL_MAX) / PIXEL_MAX
    low, high = cfg.jpeg_quality
    target = x
    for i in torch.nonzero(draws[:, 4] < cfg.jpeg_share).flatten().tolist():
        quality = low + int(draws[i, 5] * (high - low + 1))
        noisy[i] = as_jpeg(noisy[i], quality)
        if sigma[i] == 0:
            # A clean JPEG is a clean photo: it comes back as it is, artefacts and all (not
            # deblocked; trained on noisy JPEGs alone the model altered clean JPEG photos).
            target = target.clone() if target is x else target
            target[i] = noisy[i]
    return noisy, target


def as_jpeg(patch: torch.Tensor, quality: int) -> torch.Tensor:
    """A (C, H, W) patch in [0, 1] saved as a JPEG of ``quality`` and read back."""
    pixels = (patch * PIXEL_MAX).round().to(torch.uint8).permute(1, 2, 0).numpy()
    mode = "RGB" if pixels.shape[2] == 3 else "L"
    buffer = io.BytesIO()
    Image.fromarray(pixels[..., 0] if mode == "L" else pixels, mode).save(
        buffer, "JPEG", quality=quality
    )
    back = np.asarray(Image.open(buffer).convert(mode), dtype=np.float32) / PIXEL_MAX
    return torch.from_numpy(back.reshape(pixels.shape)).permute(2, 0, 1).contiguous()


INT8_PERCENTILE = 99.99
"""The int8 variant's activation ranges hold 99.99 % of each activation's calibrated values
(``aeinfer.export.variants.Int8Recipe``; the rest clip), not all of them (MinMax): the rare
extremes of a few noisy patches had stretched every range, and so every 8-bit step.
``scripts/photo_int8.py`` (the 192 held-out patches, PSNR against fp32 at σ 0/15/25/50, same
graphs and calibration): MinMax lost 0.90/0.67/0.45/0.26 dB, MinMax with :data:`INT8_FLOAT_ENDS`
0.16/0.60/0.39/0.20, and this percentile with them 0.28/0.32/0.22/0.18, at the same speed
(2.7× fp32 on a 572² window); 99.9 lost 0.68 at σ 50 (too much clipped), 99.999 0.40 at σ 15,
and 99.99 without float ends 1.35 at σ 0."""
INT8_FLOAT_ENDS = True
"""The int8 variant leaves the encoder's last node and the decoder's last convolution in float:
the code holds the noisy image itself beside 64 features (see the module docstring), and
rounded to one 8-bit range with them, a clean photo lost 0.9 dB (above)."""


CALIBRATION_SEED = 5
"""Seeds the noise of :func:`calibration_items` (any fixed seed: the export is repeatable)."""
CALIBRATION_CLEAN_SHARE = 0.1
"""The clean share of the calibration items, apart from training's ``clean_share``: raising
that one to keep clean photos unchanged must not thin out the noisy items whose ranges int8
must not clip (0.1, as the exports before it were calibrated)."""


def calibration_items(items: np.ndarray, cfg: Config) -> np.ndarray:
    """What the int8 export calibrates activation ranges on: the inputs the model serves, noisy
    as :func:`corrupt` makes them, not the clean patches. Calibrated on clean patches, the
    ranges clipped the activations of noisy photos: the third stage's export lost 1.80 dB at
    σ 25, and 0.61 dB once re-exported calibrated on noisy ones (same weights; the card's
    ``graphs.int8.measured``)."""
    generator = torch.Generator().manual_seed(CALIBRATION_SEED)
    served = replace(cfg, clean_share=CALIBRATION_CLEAN_SHARE)
    noisy, _ = corrupt(torch.from_numpy(items), served, generator)
    return noisy.numpy()


def loss(
    encoder: nn.Module, decoder: PhotoDecoder, x: torch.Tensor, cfg: Config, ctx: StepContext
) -> LossOutput:
    noisy, clean = corrupt(x, cfg, ctx.generator)
    value = F.mse_loss(decoder.unclamped(encoder(noisy)), clean)
    mse = value.item()
    return LossOutput(value, {"mse": mse, "psnr": -10.0 * math.log10(max(mse, 1e-10))})


def metrics(
    encoder: nn.Module, decoder: nn.Module, x: torch.Tensor, cfg: Config, gen: torch.Generator
) -> dict[str, float]:
    sigma = cfg.eval_noise / PIXEL_MAX
    noisy = (x + sigma * torch.randn(x.shape, generator=gen)).clamp(0.0, 1.0)
    noisy = torch.round(noisy * PIXEL_MAX) / PIXEL_MAX
    return {
        "psnr_noisy_db": float(psnr(decoder(encoder(noisy)), x)),
        "psnr_input_db": float(psnr(noisy, x)),
        "psnr_db": float(psnr(decoder(encoder(x)), x)),
        "mse": float(F.mse_loss(decoder(encoder(x)), x)),
    }
