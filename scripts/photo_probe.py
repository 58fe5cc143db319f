"""Probe what limits the photo denoiser: fine-tune the bundled weights briefly, one way.

    python scripts/photo_probe.py --loss mse|log [--noise-max 55] [--epochs 4] [--lr 1e-4]
        [--low-share S] [--clean-share S] [--jpeg-share S]

Reads the bundled ``photo`` model's weights from its graphs (``graph_modules.py``), fine-tunes
them on the training photos (fresh AdamW, cosine from ``--lr``) with the family's own
corruption, and prints the held-out photographs' PSNR at full size (torch, whole pictures, σ 0,
15, 25, 50 on the 0–255 scale, fixed noise per photo and σ; σ 0 per photo as well, since one
clean photo altered is what the ≥ 40 dB bar catches; and σ 15 saved as JPEG q90) before and
after each epoch. ``--low-share``, ``--clean-share`` and ``--jpeg-share`` override the family's
corruption shares (:class:`~aeinfer.train.families.photo.Config`).
``--loss log`` weighs every patch's error alike in dB (the mean of log MSE), ``--noise-max``
restricts the training noise (σ ≤ 30: how much a model that need not be blind gains at low σ).
Nothing is written; the findings are recorded in :mod:`aeinfer.train.families.photo`.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch
import torch.nn.functional as F
from graph_modules import modules_from_graphs  # scripts/ is on sys.path when run as a script

from aeinfer.train import photos
from aeinfer.train.families import photo

SIGMAS = (0, 15, 25, 50)
JPEG_SIGMA = 15
JPEG_QUALITY = 90
PATCHES = 4096
BATCH = 32
LOG_FLOOR = 1e-5


def held_out_psnr(encoder: torch.nn.Module, decoder: torch.nn.Module) -> dict[str, object]:
    pictures = photos.load(photos.fetch(), photos.TEST_PHOTOS)
    encoder.eval()
    decoder.eval()
    out: dict[str, object] = {}
    with torch.no_grad():
        for sigma, jpeg in [*((s, False) for s in SIGMAS), (JPEG_SIGMA, True)]:
            values = []
            for index, picture in enumerate(pictures):
                h, w = picture.shape[0] // 2 * 2, picture.shape[1] // 2 * 2
                x = torch.from_numpy(picture[:h, :w].transpose(2, 0, 1).copy())[None]
                rng = np.random.default_rng([index, sigma])
                noise = torch.from_numpy(rng.standard_normal(x.shape).astype(np.float32))
                noisy = torch.round((x + sigma / 255 * noise).clamp(0, 1) * 255) / 255
                if jpeg:
                    noisy = photo.as_jpeg(noisy[0], JPEG_QUALITY)[None]
                mse = F.mse_loss(decoder(encoder(noisy)), x).item()
                values.append(-10 * math.log10(mse))
            key = f"jpeg{sigma}" if jpeg else str(sigma)
            out[key] = round(float(np.mean(values)), 3)
            if sigma == 0 and not jpeg:
                out["0 per photo"] = [round(value, 2) for value in values]
    encoder.train()
    decoder.train()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loss", choices=("mse", "log"), default="mse")
    parser.add_argument("--noise-max", type=float, default=photo.Config().noise_max)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--lr", type=float, default=1e-4)
    defaults = photo.Config()
    parser.add_argument("--low-share", type=float, default=defaults.low_share)
    parser.add_argument("--clean-share", type=float, default=defaults.clean_share)
    parser.add_argument("--jpeg-share", type=float, default=defaults.jpeg_share)
    args = parser.parse_args()

    _, encoder, decoder = modules_from_graphs("photo")
    cfg = photo.Config(
        noise_max=args.noise_max,
        low_share=args.low_share,
        clean_share=args.clean_share,
        jpeg_share=args.jpeg_share,
    )
    names = tuple(n for n in photos.PHOTOS if n not in photos.TEST_PHOTOS)
    sampler = photos.PatchSampler.of(photos.load(photos.fetch(), names), 64, PATCHES, 0)
    print("before", held_out_psnr(encoder, decoder), flush=True)
    params = [*encoder.parameters(), *decoder.parameters()]
    optimizer = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.0)
    steps_per_epoch = PATCHES // BATCH
    total, step = args.epochs * steps_per_epoch, 0
    generator = torch.Generator().manual_seed(123)
    started = time.perf_counter()
    for epoch in range(args.epochs):
        items = torch.from_numpy(sampler.epoch(1000 + epoch))
        order = torch.randperm(PATCHES, generator=generator)
        for batch in range(steps_per_epoch):
            x = items[order[batch * BATCH : (batch + 1) * BATCH]]
            noisy, clean = photo.corrupt(x, cfg, generator)
            per_patch = ((decoder.unclamped(encoder(noisy)) - clean) ** 2).mean(dim=(1, 2, 3))
            loss = (
                torch.log(per_patch + LOG_FLOOR).mean() if args.loss == "log" else per_patch.mean()
            )
            for group in optimizer.param_groups:
                group["lr"] = args.lr * 0.5 * (1 + math.cos(math.pi * step / total))
            optimizer.zero_grad()
            loss.backward()
            if args.loss == "mse":
                torch.nn.utils.clip_grad_norm_(params, photo.TRAINING.grad_clip or math.inf)
            optimizer.step()
            step += 1
        elapsed = round(time.perf_counter() - started)
        print(f"epoch {epoch + 1} ({elapsed} s)", held_out_psnr(encoder, decoder), flush=True)


if __name__ == "__main__":
    main()
