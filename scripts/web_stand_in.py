"""A stand-in photo denoiser for the page's screenshots and benchmark, until ``photo`` is bundled.

The page's photo part runs any bundled model whose card names the ``tiles`` preparation and the
``denoise`` task; the bundled ``photo`` model is still training. :func:`photo_model` returns the
bundled one when there is one, else exports a stand-in into a folder: the ``photo`` family's
architecture (:mod:`aeinfer.train.families.photo`: pixel-unshuffle, 3×3 convolutions at half
resolution, the noise predicted and subtracted) made small — ``features`` wide, ``layers`` deep
on each side — and trained for ``steps`` steps on patches of the training photographs
(``aeinfer data photos``): about a minute on one core, and +7 dB on a held-out photo at σ 25.
With ``trained=False`` the weights stay random (timings do not depend on them).

Imported by scripts/web_screenshots.py and scripts/bench_web.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

TASKS = ["encode", "decode", "reconstruct", "denoise", "score"]


def bundled_photo_model() -> str | None:
    """The first bundled model whose card names tiles and denoise, or None."""
    from aeinfer.zoo import list_models

    for row in list_models():
        if row["preparation"] == "tiles" and "denoise" in row["tasks"]:
            return str(row["name"])
    return None


def stand_in(
    directory: Path,
    *,
    features: int = 32,
    layers: int = 3,
    steps: int = 3000,
    trained: bool = True,
    seed: int = 0,
) -> Path:
    """Export the stand-in denoiser into ``directory`` (see the module docstring)."""
    import torch

    from aeinfer.export.onnx_export import export_pair
    from aeinfer.train import photos
    from aeinfer.train.families import photo

    torch.manual_seed(seed)
    patch = 48
    cfg = photo.Config(
        features=features, encoder_layers=layers, decoder_layers=layers, item=(3, patch, patch)
    )
    encoder, decoder = photo.build(cfg)
    if trained:
        names = tuple(n for n in photos.PHOTOS if n not in photos.TEST_PHOTOS)
        sampler = photos.PatchSampler.of(photos.load(photos.fetch(), names), patch, 16, seed)
        optimizer = torch.optim.Adam([*encoder.parameters(), *decoder.parameters()], lr=1e-3)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
        generator = torch.Generator().manual_seed(seed)
        for step in range(steps):
            noisy, clean = photo.corrupt(torch.from_numpy(sampler.epoch(step)), cfg, generator)
            loss = torch.nn.functional.mse_loss(decoder.unclamped(encoder(noisy)), clean)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
    encoder.eval()
    decoder.eval()
    export_pair(
        encoder,
        decoder,
        torch.rand(2, 3, patch, patch),
        directory,
        free_axes=("height", "width"),
        multiple_of=2,
        tasks=TASKS,
        training={
            "data": f"stand-in: the photo family at {features} features × {layers} layers, "
            f"{steps if trained else 0} steps on photo patches (scripts/web_stand_in.py)"
        },
    )
    return directory


def photo_model(folder: Path, **stand_in_options: Any) -> str | Path:
    """The bundled photo denoiser's name, else a stand-in exported into ``folder/stand-in``
    (``stand_in_options`` are :func:`stand_in`'s)."""
    return bundled_photo_model() or stand_in(folder / "stand-in", **stand_in_options)


__all__ = ["bundled_photo_model", "photo_model", "stand_in"]
