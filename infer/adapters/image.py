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
:func:`aeinfer.pictures.resize_unit`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from aeinfer.adapters.base import Adapter, Params
from aeinfer.card import IMAGE, Card, Problems
from aeinfer.pictures import Picture, luma, resize_unit

STRETCH = "stretch"
LETTERBOX = "letterbox"


def to_channels(values: np.ndarray, channels: int) -> np.ndarray:
    """(H, W, C) values with ``channels`` channels: luma for colour → grey, repeated grey for
    grey → colour."""
    if values.shape[2] == channels:
        return values
    if channels == 1:
        return luma(values)
    return np.repeat(values[..., :1], channels, axis=2)


def back_to_channels(result: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """A result (H, W, Cm) in the channels of the input it was made from, ``seen`` (H, W, Cin):
    colour → grey by luma; grey → colour by moving the input's luma to the result's, keeping the
    input's chroma."""
    if result.shape[2] == seen.shape[2]:
        return result
    if seen.shape[2] == 1:
        return luma(result)
    return np.clip(seen + (result - luma(seen)), 0.0, 1.0)


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
    seen: np.ndarray
    """(H, W, C) the picture as composited over the paper, in its own channels."""
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
        values = np.asarray(result, dtype=np.float32)[0].transpose(1, 2, 0)[top:bottom, left:right]
        back = resize_unit(np.clip(values, 0.0, 1.0), state.picture.size)
        return state.picture.with_unit(back_to_channels(back, state.seen))

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
    seen = picture.over(paper_for(params.paper, picture.channels))
    values = to_channels(seen, channels)
    w, h = picture.size
    if params.fit == STRETCH:
        box = (0, 0, width, height)
        framed = resize_unit(values, (width, height))
    else:
        scale = min(width / w, height / h)
        inner = (max(1, round(w * scale)), max(1, round(h * scale)))
        left, top = (width - inner[0]) // 2, (height - inner[1]) // 2
        box = (left, top, left + inner[0], top + inner[1])
        framed = np.empty((height, width, channels), dtype=np.float32)
        framed[:] = np.asarray(paper_for(params.paper, channels), dtype=np.float32)
        framed[top : box[3], left : box[2]] = resize_unit(values, inner)
    tensor = np.clip(framed, 0.0, 1.0).transpose(2, 0, 1)[None]
    return np.ascontiguousarray(tensor, dtype=np.float32), Placement(picture, seen, box)


def paper_problems(paper: tuple[float, ...], problems: Problems) -> None:
    if len(paper) not in (1, 3) or any(not 0.0 <= v <= 1.0 for v in paper):
        problems.add("preparation.params.paper", "one value or three, each in [0, 1]")


__all__ = ["ImageAdapter", "ImageParams", "back_to_channels", "frame", "paper_for", "to_channels"]
