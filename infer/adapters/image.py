"""``image``: pictures for fixed-size image models, resized in and back out.

:meth:`ImageAdapter.prepare` composites the picture over the card's paper colour (alpha), brings
its channels to the model's (grey ↔ RGB by ITU-R 601 luma, or by repeating grey), and resizes it
to the model's height and width — stretched, or letterboxed (scaled to fit, centred, the bars
filled with the paper colour). :meth:`ImageAdapter.restore` undoes each step: the letterbox is
cropped away, the result resized to the input's size, and its channels brought back to the
input's. A grey model's result on a colour input keeps the input's colour: the result's luma
replaces the input's (its chroma is kept), so colour is never silently lost. Bit depth and alpha
are the input's.

Resizing is Pillow's bicubic (a = −0.5), antialiased when shrinking (see
:func:`aeinfer.pictures.resize_plane`); channels are converted and resized one plane at a
time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from aeinfer.adapters.base import Adapter, Params
from aeinfer.card import IMAGE, Card, Problems
from aeinfer.pictures import LUMA, Picture, resize_plane

STRETCH = "stretch"
LETTERBOX = "letterbox"


def seen_plane(picture: Picture, channel: int, paper: tuple[float, ...]) -> np.ndarray:
    """One channel of ``picture`` as it looks on ``paper`` (alpha composited), float32 in
    [0, 1], (H, W)."""
    plane = picture.pixels[..., channel].astype(np.float32)
    if picture.scale != 1.0:
        plane /= picture.scale
    if picture.alpha is not None:
        weight = picture.alpha.astype(np.float32) / picture.scale
        plane = plane * weight + paper[channel] * (1.0 - weight)
    return plane


def model_planes(picture: Picture, out: np.ndarray, paper: tuple[float, ...]) -> None:
    """Fill ``out`` (C, H, W) with ``picture`` in the model's C channels, one plane at a time
    (memory stays one plane above the tensor): luma for colour → grey (ITU-R 601), repeated
    grey for grey → colour."""
    channels = out.shape[0]
    paper = paper_for(paper, picture.channels)
    if picture.channels == channels:
        for c in range(channels):
            out[c] = seen_plane(picture, c, paper)
    elif channels == 1:
        out[0] = sum(LUMA[k] * seen_plane(picture, k, paper) for k in range(3))
    else:
        out[:] = seen_plane(picture, 0, paper)


def _quantized(plane: np.ndarray, like: np.ndarray, scale: float) -> np.ndarray:
    clipped = np.clip(plane, 0.0, 1.0)
    if scale == 1.0:
        return clipped.astype(like.dtype)
    return (clipped * scale + 0.5).astype(like.dtype)


BAND_ROWS = 256
"""Rows of a result turned into pixels at a time: a large photo's result then costs a band of
float temporaries, not whole planes of them (at 40 megapixels, about 8 MB instead of 480)."""


def picture_from_planes(result: np.ndarray, picture: Picture, paper: tuple[float, ...]) -> Picture:
    """A result (Cm, H, W) in [0, 1] as a picture like ``picture``: its channels, bit depth and
    alpha. Colour → grey by luma; a grey result on a colour picture keeps the picture's colour:
    the result's luma replaces the picture's (each channel shifted by the luma change), so
    chroma is never silently lost. Converted in bands of :data:`BAND_ROWS` rows (every step is
    per pixel, so the bands join exactly)."""
    height, width = result.shape[1:]
    pixels = np.empty((height, width, picture.channels), dtype=picture.pixels.dtype)
    alpha = picture.alpha
    for top in range(0, height, BAND_ROWS):
        rows = slice(top, top + BAND_ROWS)
        band = Picture(picture.pixels[rows], None if alpha is None else alpha[rows], picture.label)
        _fill_band(result[:, rows], band, paper, pixels[rows])
    return Picture(pixels, alpha, picture.label, profile=picture.profile)


def _fill_band(
    result: np.ndarray, picture: Picture, paper: tuple[float, ...], out: np.ndarray
) -> None:
    """``out`` (h, W, C) from ``result`` (Cm, h, W) for the same rows of ``picture``."""
    channels = picture.channels
    if result.shape[0] == channels:
        for c in range(channels):
            out[..., c] = _quantized(result[c], out, picture.scale)
    elif channels == 1:
        grey = sum(LUMA[k] * np.clip(result[k], 0.0, 1.0) for k in range(3))
        out[..., 0] = _quantized(grey, out, picture.scale)
    else:
        paper = paper_for(paper, channels)
        seen = [seen_plane(picture, c, paper) for c in range(channels)]
        shift = np.clip(result[0], 0.0, 1.0) - sum(LUMA[k] * seen[k] for k in range(3))
        for c in range(channels):
            out[..., c] = _quantized(seen[c] + shift, out, picture.scale)


@dataclass(frozen=True)
class ImageParams(Params):
    """How pictures are brought to a fixed-size model."""

    fit: str = field(
        default=STRETCH,
        metadata={
            "doc": "stretch: resize to the model's size; letterbox: scale to fit, centred, "
            "the rest filled with the paper colour.",
            "choices": (STRETCH, LETTERBOX),
        },
    )
    paper: tuple[float, ...] = field(
        default=(1.0,),
        metadata={
            "doc": "The colour transparent pixels and letterbox bars take, in [0, 1]: one value "
            "(grey) or one per channel."
        },
    )


@dataclass(frozen=True, eq=False)
class Placement:
    """Where the picture went in the model's frame, and the picture itself."""

    picture: Picture
    box: tuple[int, int, int, int]
    """(left, top, right, bottom) of the picture's content in the model's frame."""


class ImageAdapter(Adapter):
    """Resize to a fixed-size model and back (see the module docstring)."""

    name = "image"
    version = 1
    modality = IMAGE
    Params = ImageParams

    @classmethod
    def problems(cls, card: Card, params: ImageParams, problems: Problems) -> None:
        data = card.data
        if data.modality != IMAGE or data.free_axes:
            problems.add(
                "preparation",
                f"the image adapter takes fixed-size images; the card's item is "
                f"{data.describe()} (free sizes take the tiles adapter)",
            )
        if data.range != (0.0, 1.0):
            problems.add("data.range", "image adapters give pixels in [0, 1]")
        if data.axes and data.axes[0].size not in (1, 3):
            problems.add("data.axes", "image adapters take 1 (grey) or 3 (RGB) channels")
        paper_problems(params.paper, problems)

    def prepare(self, raw: Picture) -> tuple[np.ndarray, Placement]:
        channels, height, width = (int(s or 0) for s in self.card.data.shape)
        return frame(raw, channels, (height, width), self.params)

    def restore(self, result: np.ndarray, state: Placement) -> Picture:
        left, top, right, bottom = state.box
        inner = np.asarray(result, dtype=np.float32)[0, :, top:bottom, left:right]
        size = state.picture.size
        back = np.stack([resize_plane(np.clip(plane, 0.0, 1.0), size) for plane in inner])
        return picture_from_planes(back, state.picture, self.params.paper)

    def original(self, state: Placement) -> Picture:
        return state.picture


def paper_for(paper: tuple[float, ...], channels: int) -> tuple[float, ...]:
    """The paper colour with one value per channel."""
    return paper * channels if len(paper) == 1 else paper


def frame(
    picture: Picture, channels: int, size: tuple[int, int], params: ImageParams = ImageParams()
) -> tuple[np.ndarray, Placement]:
    """``picture`` brought into a (1, channels, height, width) tensor in [0, 1] as the image
    adapter does it (also how ``aeinfer train --images`` prepares training images, so a model
    sees its inputs as it saw its training data)."""
    height, width = size
    w, h = picture.size
    planes = np.empty((channels, h, w), dtype=np.float32)
    model_planes(picture, planes, params.paper)
    tensor = np.empty((1, channels, height, width), dtype=np.float32)
    if params.fit == STRETCH:
        box = (0, 0, width, height)
    else:
        scale = min(width / w, height / h)
        inner = (max(1, round(w * scale)), max(1, round(h * scale)))
        left, top = (width - inner[0]) // 2, (height - inner[1]) // 2
        box = (left, top, left + inner[0], top + inner[1])
        paper = paper_for(params.paper, channels)
        for c in range(channels):
            tensor[0, c] = paper[c]
    left, top, right, bottom = box
    for c in range(channels):
        tensor[0, c, top:bottom, left:right] = resize_plane(planes[c], (right - left, bottom - top))
    np.clip(tensor, 0.0, 1.0, out=tensor)
    return tensor, Placement(picture, box)


def paper_problems(paper: tuple[float, ...], problems: Problems) -> None:
    if len(paper) not in (1, 3) or any(not 0.0 <= v <= 1.0 for v in paper):
        problems.add("preparation.params.paper", "one value or three, each in [0, 1]")


__all__ = [
    "ImageAdapter",
    "ImageParams",
    "frame",
    "model_planes",
    "paper_for",
    "picture_from_planes",
    "seen_plane",
]
