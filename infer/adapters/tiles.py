"""``tiles``: fully convolutional image models at the input's own resolution, in tiles.

A fully convolutional model takes any size whose height and width are a multiple of its total
stride (the card's ``multiple_of``). :meth:`Tiles.prepare` composites the picture over the paper
colour, brings its channels to the model's, and pads the bottom and right edges by mirroring up
to that multiple; :meth:`Tiles.restore` crops the padding away and brings the channels back
(a grey model keeps a colour input's chroma, as the ``image`` adapter does).

:meth:`Tiles.run` applies the model in overlapping windows so that memory is bounded by the
tile, not the photo: each window is a ``tile``-sized core plus ``margin`` pixels of context on
every side (clamped to the image, never padded), and only its core is kept. Every output pixel
depends on inputs at most the model's receptive radius away, and the card's margin covers that
radius, so each core is computed from exactly the inputs the whole-image pass would use: the
tiled result equals the whole-image result up to float summation order (seamless; tested within
1e-4). Windows start on multiples of ``multiple_of``, so pooling and strided layers see the same
grid as in the whole-image pass.

``in_place`` (denoise, whose input tensor is not needed afterwards): each core's result is
written over the input tensor instead of into a second whole-picture array, as soon as no window
still to run reads that core's pixels (about two rows of tiles are held meanwhile), so a large
photo needs one float copy of itself, not two (12 bytes a pixel less at RGB).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from aeinfer.adapters.base import Adapter, ModelFunction, Params
from aeinfer.adapters.image import model_planes, paper_problems, picture_from_planes
from aeinfer.card import HEIGHT, IMAGE, WIDTH, Card, Problems
from aeinfer.pictures import Picture
from aeinfer.progress import report

SYMMETRIC = "symmetric"
MAX_STRIDE = 1024
EDGE = "edge"


@dataclass(frozen=True)
class TilesParams(Params):
    """How a large picture is cut into windows."""

    margin: int = field(
        metadata={
            "doc": "Context pixels on each side of a tile's core; at least the model's receptive "
            "radius (measured at export), a multiple of multiple_of."
        }
    )
    tile: int = field(
        default=256,
        metadata={"doc": "Side of a window's core in pixels, a multiple of multiple_of."},
    )
    batch: int = field(default=4, metadata={"doc": "Windows per model call."})
    pad: str = field(
        default=SYMMETRIC,
        metadata={
            "doc": "How the bottom and right edges are padded up to multiple_of: mirrored "
            "(symmetric, the edge pixel repeated once) or the edge pixel repeated.",
            "choices": (SYMMETRIC, EDGE),
        },
    )
    paper: tuple[float, ...] = field(
        default=(1.0,),
        metadata={"doc": "The colour transparent pixels take, in [0, 1]: one value or three."},
    )
    dihedral: bool = field(
        default=False,
        metadata={
            "doc": "The model was trained on all 8 flips and 90° rotations of its pictures "
            "alike, so its output may be averaged over them (the ensemble option)."
        },
    )


@dataclass(frozen=True, eq=False)
class Padded:
    """A picture padded for the model: the picture and its own size."""

    picture: Picture
    height: int
    width: int


def _multiple(card: Card) -> int:
    sizes = [a.multiple_of for a in card.data.axes if a.name in (HEIGHT, WIDTH)]
    return math.lcm(*sizes) if sizes else 1


class Tiles(Adapter):
    """Native resolution through overlapping tiles (see the module docstring)."""

    name = "tiles"
    version = 1
    modality = IMAGE
    Params = TilesParams
    batchable = False

    @classmethod
    def problems(cls, card: Card, params: TilesParams, problems: Problems) -> None:
        data = card.data
        if data.modality != IMAGE or set(data.free_axes) != {HEIGHT, WIDTH}:
            problems.add(
                "preparation",
                "the tiles adapter takes images of free height and width; the "
                f"card's item is {data.describe()}",
            )
            return
        if data.range != (0.0, 1.0):
            problems.add("data.range", "image adapters give pixels in [0, 1]")
        step = _multiple(card)
        for name in ("margin", "tile"):
            value = getattr(params, name)
            if value < (0 if name == "margin" else 1) or value % step:
                problems.add(
                    f"preparation.params.{name}", f"{value} is not a multiple of {step} (≥ 0)"
                )
        if params.batch < 1:
            problems.add("preparation.params.batch", "must be at least 1")
        paper_problems(params.paper, problems)

    def prepare(self, raw: Picture) -> tuple[np.ndarray, Padded]:
        """The picture as one (1, C, H', W') tensor, H' and W' padded up to ``multiple_of``:
        built in place, one plane at a time, so a large photo costs one float copy."""
        channels = int(self.card.data.axes[0].size or 0)
        step = _multiple(self.card)
        w, h = raw.size
        height, width = h + -h % step, w + -w % step
        tensor = np.empty((1, channels, height, width), dtype=np.float32)
        model_planes(raw, tensor[0, :, :h, :w], self.params.paper)
        if (height, width) != (h, w):
            _pad_in_place(tensor[0], h, w, self.params.pad)
        return tensor, Padded(raw, h, w)

    def restore(self, result: np.ndarray, state: Padded) -> Picture:
        values = np.asarray(result, dtype=np.float32)[0, :, : state.height, : state.width]
        return picture_from_planes(values, state.picture, self.params.paper)

    def original(self, state: Padded) -> Picture:
        return state.picture

    def run(
        self,
        fn: ModelFunction,
        batch: np.ndarray,
        scale: float | Fraction = 1.0,
        unit: int = 1,
        in_place: bool = False,
    ) -> np.ndarray:
        """``fn`` over ``batch`` (n, C, H, W) in windows; ``scale`` is ``fn``'s output size per
        input size (1 reconstruct, 1/stride encode, stride decode) and ``unit`` the pixels one
        element of ``batch`` spans (1 for images, the stride for codes); with ``in_place`` and
        a result of ``batch``'s shape, the result is written over ``batch`` (see the module
        docstring) and ``batch`` is returned. Windows done are reported
        (:func:`aeinfer.progress.report`) before each call and at the end."""
        # Whole-number arithmetic for the window geometry: a stride of 3 is 1/3, not 0.333….
        scale = Fraction(scale).limit_denominator(MAX_STRIDE)
        tile = max(1, self.params.tile // unit)
        margin = -(-self.params.margin // unit)
        n, _, height, width = batch.shape
        if height <= tile + 2 * margin and width <= tile + 2 * margin:
            return fn(batch)
        window = (min(tile + 2 * margin, height), min(tile + 2 * margin, width))
        cores = [(y, x) for y in range(0, height, tile) for x in range(0, width, tile)]
        origins = [_window_origin(core, window, (height, width), margin) for core in cores]
        # The last window (in running order) that reads each core's pixels: past it, the core
        # may be written over (in_place).
        last_reader = [
            max(j for j, o in enumerate(origins) if _overlaps(o, window, core, tile))
            for core in cores
        ]
        out: np.ndarray | None = None
        for item in range(n):
            pending: dict[int, np.ndarray] = {}
            for start in range(0, len(cores), self.params.batch):
                report(item * len(cores) + start, n * len(cores))
                indices = range(start, min(start + self.params.batch, len(cores)))
                crops = np.stack(
                    [batch[item, :, y : y + window[0], x : x + window[1]]
                     for y, x in (origins[i] for i in indices)]
                )  # fmt: skip
                results = fn(crops)
                if out is None:
                    size = (int(height * scale), int(width * scale))
                    shape = (n, results.shape[1], *size)
                    in_place = in_place and shape == batch.shape
                    out = batch if in_place else np.empty(shape, dtype=np.float32)
                for i, result in zip(indices, results, strict=True):
                    (cy, cx), (wy, wx) = cores[i], origins[i]
                    y1, x1 = int(min(cy + tile, height) * scale), int(min(cx + tile, width) * scale)
                    y0, x0 = int(cy * scale), int(cx * scale)
                    oy, ox = int((cy - wy) * scale), int((cx - wx) * scale)
                    core = result[:, oy : oy + y1 - y0, ox : ox + x1 - x0]
                    # Held past this call only in place: a copy, not a view of all the windows.
                    pending[i] = core.copy() if in_place else core
                done = indices[-1] if in_place else len(cores)
                for i in [i for i in pending if last_reader[i] <= done]:
                    (cy, cx), core = cores[i], pending.pop(i)
                    y0, x0 = int(cy * scale), int(cx * scale)
                    out[item, :, y0 : y0 + core.shape[1], x0 : x0 + core.shape[2]] = core
            assert not pending, "every core was written"
        assert out is not None  # at least one core exists
        report(n * len(cores), n * len(cores))
        return out


def _pad_in_place(planes: np.ndarray, h: int, w: int, mode: str) -> None:
    """Fill planes[:, h:, :] and planes[:, :, w:] from the (h, w) picture in their top-left:
    mirrored (``symmetric``: the edge pixel repeated once) or the edge pixel repeated."""
    height, width = planes.shape[1:]
    if mode == SYMMETRIC and height - h <= h and width - w <= w:
        planes[:, h:, :w] = planes[
            :, h - 1 : 2 * h - height - 1 if 2 * h - height else None : -1, :w
        ]
        planes[:, :, w:] = planes[:, :, w - 1 : 2 * w - width - 1 if 2 * w - width else None : -1]
        return
    # Tiny pictures (a pad wider than the picture) and edge mode: numpy's own padding.
    padded = np.pad(planes[:, :h, :w], ((0, 0), (0, height - h), (0, width - w)), mode=mode)
    planes[:] = padded


def _overlaps(
    origin: tuple[int, int], window: tuple[int, int], core: tuple[int, int], tile: int
) -> bool:
    """Whether the window at ``origin`` reads any pixel of the tile core at ``core``."""
    return all(o < c + tile and c < o + w for o, w, c in zip(origin, window, core, strict=True))


def _window_origin(
    core: tuple[int, int], window: tuple[int, int], size: tuple[int, int], margin: int
) -> tuple[int, int]:
    """Top-left of the window around ``core``: ``margin`` before it, moved inside the image."""
    return tuple(  # type: ignore[return-value]
        min(max(c - margin, 0), s - w) for c, w, s in zip(core, window, size, strict=True)
    )


__all__ = ["Tiles", "TilesParams"]
