"""``mnist_digit``: fit a user's image of one digit into the MNIST frame, and map results back.

MNIST was made this way (LeCun et al.): the digit's bounding box size-normalised to 20×20
keeping its aspect ratio, then centred by its centre of mass in a 28×28 field, white ink on
black. :meth:`MnistDigit.prepare` does the same to any picture — composited over white, as grey
luma, inverted when the border says it is dark ink on light paper, uneven light removed (version
2, ``flatten``; see :mod:`aeinfer.adapters.ink`), the ink located on a copy shrunk to
``ink_grid`` pixels (so pixel noise is not taken for ink), its box made square,
scaled to ``fit`` pixels, contrast-stretched from the paper's level to the ink's, and centred
by centre of mass in ``frame`` pixels. An input already ``frame`` × ``frame`` is used as it is
(only polarity is handled). :meth:`MnistDigit.restore` scales the result back onto the
original: the whole frame maps back around the box (strokes drawn in the margin are kept), a
contrast curve keeps upscaled edges crisp, and the strokes are painted in the input's own ink
over its own lit paper (version 3; :mod:`aeinfer.adapters.paint`), at the input's size and mode
family. :meth:`MnistDigit.restore_denoised` paints the input's own edges where the model's
strokes and the input agree, weighed by the input's noise (``detail_prior``, ``detail_gain``).
While fitting it records what it saw (:class:`~aeinfer.adapters.ink.Diagnosis`): the figures
a digit model's domain check weighs.

Every number comes from the card (``preparation.params``), none from this module.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import numpy as np

from aeinfer.adapters import ink, paint
from aeinfer.adapters.base import Adapter, Params
from aeinfer.adapters.image import BAND_ROWS
from aeinfer.card import IMAGE, Card, Problems
from aeinfer.pictures import Picture, luma, resize_plane

WHITE = (1.0, 1.0, 1.0)
LIGHT_ON_DARK = "light_on_dark"
MASS = "mass"


@dataclass(frozen=True)
class DigitParams(Params):
    """The MNIST fit's numbers."""

    frame: int = field(default=28, metadata={"doc": "Side of the frame the model takes."})
    fit: int = field(default=20, metadata={"doc": "Side the ink's bounding box is scaled to."})
    centre: str = field(
        default=MASS,
        metadata={"doc": "Where the box goes in the frame: by centre of mass.", "choices": (MASS,)},
    )
    model_polarity: str = field(
        default=LIGHT_ON_DARK,
        metadata={"doc": "The model's polarity: light ink on dark.", "choices": (LIGHT_ON_DARK,)},
    )
    border_fraction: float = field(
        default=1 / 16,
        metadata={"doc": "The border ring (this fraction of each side) that tells the paper."},
    )
    ink_threshold: float = field(
        default=0.2, metadata={"doc": "Ink stands out from the paper by more than this..."}
    )
    ink_fraction: float = field(
        default=0.3, metadata={"doc": "...and by more than this fraction of the strongest ink."}
    )
    ink_grid: int = field(
        default=64, metadata={"doc": "Ink is located on a copy at most this many pixels a side."}
    )
    sharpen_per_scale: float = field(
        default=2.0,
        metadata={"doc": "Restoring at scale s applies a sigmoid contrast of gain s times this..."},
    )
    sharpen_max_gain: float = field(default=12.0, metadata={"doc": "...at most this gain."})
    flatten: float = field(
        default=0.17,
        metadata={
            "doc": "Version 2: uneven light is removed before the ink is found, by a grey "
            "opening this share of the ink grid's long side (wider than a pen stroke); 0: not "
            "removed (version 1)."
        },
    )
    detail_prior: float = field(
        default=0.3,
        metadata={
            "doc": "Version 3, denoising a fitted digit: how far (in coverage, 0 paper to 1 "
            "ink) the model's strokes are trusted to lie from the input's own; the input's "
            "median-filtered detail is weighed against them by its measured noise."
        },
    )
    detail_gain: float = field(
        default=12.0,
        metadata={
            "doc": "Version 3, denoising a fitted digit: gain of the sigmoid that snaps the "
            "weighed coverage towards paper or ink (pen ink is opaque); 0: no snap."
        },
    )
    quiet: float = field(
        default=4.0,
        metadata={
            "doc": "Version 3: ink is located on a copy box-blurred (radius at most 2 on the "
            "ink grid) until its measured pixel noise is this many times under "
            "``ink_threshold``, so a very noisy scan is not read as many marks; 0: never."
        },
    )


QUIET_RADII = (1, 2)
"""Box-blur radii tried on the ink grid: 5×5 at most, narrower than a stroke there."""


def quieted(small: np.ndarray, threshold: float, quiet: float) -> np.ndarray:
    """``small`` blurred just enough that its pixel noise (:func:`paint.noise_of`) sits
    ``quiet`` times under ``threshold``, or as far as :data:`QUIET_RADII` go; unchanged when
    it already does (clean scans and photos: their ink is located exactly as before)."""
    if quiet <= 0 or min(small.shape) < 3:
        return small
    noise = paint.noise_of(small)
    if noise <= threshold / quiet:
        return small
    for radius in QUIET_RADII:
        if noise / (2 * radius + 1) <= threshold / quiet:
            break
    return ink.box_blur(small, radius)


@dataclass(frozen=True, eq=False)
class DigitFit:
    """How an input was fitted into the frame: what :meth:`MnistDigit.restore` undoes."""

    picture: Picture
    gray: np.ndarray
    """(H, W) float32 in [0, 1], composited over white, in the model's polarity."""
    inverted: bool
    """True when the input was dark ink on light paper (and ``gray`` is inverted)."""
    box: tuple[int, int, int, int]
    """(left, top, right, bottom) square in input pixels scaled into the fit box."""
    offset: tuple[int, int]
    """(x, y) where the fit box was pasted into the frame."""
    background: float
    """The paper's level (median of the border ring of ``gray``)."""
    levels: tuple[float, float]
    """(black, white): levels of ``gray`` stretched to 0 and 1."""
    fitted: bool
    """False for frame-sized inputs, used as they are."""
    diagnosis: ink.Diagnosis | None = None
    """What the ink analysis found (the domain check's figures)."""
    shading: np.ndarray | None = None
    """(H, W) the light removed from ``gray`` (model polarity), put back on restore."""
    notes: tuple[str, ...] = ()
    """What the fit has to tell the user (e.g. that no ink was found)."""


def _planes_over_white(raw: Picture, grid: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """The picture over white paper, clipped to [0, 1]: its luma at full size, and each
    channel area-averaged to at most ``grid`` pixels a side (:func:`ink.shrink`). Made a band
    of rows and a channel at a time: a large photo's float copy of all its channels at once was
    the peak of the routing's check (12 bytes a pixel). Every step is per pixel, so the numbers
    are those of one whole copy."""
    height, width = raw.pixels.shape[:2]

    def bands() -> Iterator[tuple[slice, np.ndarray]]:
        for top in range(0, height, BAND_ROWS):
            rows = slice(top, top + BAND_ROWS)
            alpha = None if raw.alpha is None else raw.alpha[rows]
            values = replace(raw, pixels=raw.pixels[rows], alpha=alpha).over(WHITE)
            yield rows, np.clip(values, 0.0, 1.0, out=values)  # a fresh array: clipped there

    gray = np.empty((height, width), dtype=np.float32)
    for rows, values in bands():
        gray[rows] = luma(values)[..., 0]
    if raw.channels == 1:  # luma of one channel is that channel
        return gray, [ink.shrink(gray, grid)]
    small = []
    for channel in range(raw.channels):
        # A plane of its own each: shrink gives a small picture's plane itself back.
        plane = np.empty((height, width), dtype=np.float32)
        for rows, values in bands():
            plane[rows] = values[..., channel]
        small.append(ink.shrink(plane, grid))
    return gray, small


def _median(values: np.ndarray) -> float:
    """The median of a 1-D array."""
    return float(paint.median_of(values))


class MnistDigit(Adapter):
    """One digit fitted into the MNIST frame (see the module docstring)."""

    name = "mnist_digit"
    version = 3
    modality = IMAGE
    Params = DigitParams

    @classmethod
    def problems(cls, card: Card, params: DigitParams, problems: Problems) -> None:
        shape = card.data.shape
        if card.data.modality != IMAGE or shape != (1, params.frame, params.frame):
            problems.add(
                "preparation",
                f"mnist_digit takes grey {params.frame}×{params.frame} images; "
                f"the card's item is {card.data.describe()}",
            )
        if not 0 < params.fit <= params.frame:
            problems.add("preparation.params.fit", "must lie in 1..frame")
        if card.data.range != (0.0, 1.0):
            problems.add("data.range", "mnist_digit gives pixels in [0, 1]")

    # --- prepare -------------------------------------------------------------------------------
    def prepare(self, raw: Picture) -> tuple[np.ndarray, DigitFit]:
        p: DigitParams = self.params
        gray, colour_planes = _planes_over_white(raw, p.ink_grid)
        h, w = gray.shape
        inverted = bool(self._border(gray).mean() > 0.5)
        if inverted:
            gray = 1.0 - gray
        small = quieted(ink.shrink(gray, p.ink_grid), p.ink_threshold, p.quiet)
        lighting = ink.light(small, p.flatten) if p.flatten > 0 else None
        shading = None
        framed = (w, h) == (p.frame, p.frame)
        if lighting is not None:
            level = _median(self._border(lighting))
            small = small - lighting + level
            if not framed:  # MNIST's own frame goes to the model as it is (only polarity)
                shading = resize_plane(lighting, (w, h), "bicubic") - level
                gray = gray - shading
                np.clip(gray, 0.0, 1.0, out=gray)
        background = _median(self._border(gray))
        # The ink stands out from the small copy's own paper: on a noisy scan, clipped noise
        # averages above the full-size median, and would all count as ink.
        excess = small - _median(self._border(small))
        peak = float(excess.max())
        mask = ink.ink_mask(excess, p.ink_threshold, p.ink_fraction, peak)
        colours = np.stack(colour_planes, axis=2)
        colour_ring = self._ring(colours)
        if lighting is not None:  # each channel's light taken out, as the grey's was
            lit = paint.paper_field(colours, colour_ring, inverted, p.ink_grid, p.flatten)
            colours = colours - lit + paint.median_of(self._ring(lit), 0)
            colour_ring = self._ring(colours)
        diagnosis = ink.diagnose(
            small, self._border(small), mask, lighting, p.ink_threshold, colours, colour_ring
        )
        if framed:
            # MNIST's own frame: not gated (aeinfer.domain.gates_fail).
            diagnosis = replace(diagnosis, framed=True)
            fit = DigitFit(
                raw, gray, inverted, (0, 0, w, h), (0, 0), background, (0.0, 1.0), False,
                diagnosis, shading,
            )  # fmt: skip
            return gray.reshape(1, 1, h, w).copy(), fit
        bbox = None if peak <= p.ink_threshold else _bbox(mask, w, h)
        notes: tuple[str, ...] = ()
        if bbox is None:
            notes = ("no ink found: whole image used",)
            bbox = (0, 0, w, h)
        box = _square(bbox)
        crop = resize_plane(_crop_padded(gray, box, background), (p.fit, p.fit))
        black, white = background, float(crop.max())
        if white - black < p.ink_threshold:
            black, white = 0.0, 1.0
        crop = np.clip((crop - black) / (white - black), 0.0, 1.0)
        ox, oy = self._centre_offset(crop)
        digit = np.zeros((p.frame, p.frame), dtype=np.float32)
        digit[oy : oy + p.fit, ox : ox + p.fit] = crop
        state = DigitFit(
            raw, gray, inverted, box, (ox, oy), background, (black, white), True,
            diagnosis, shading, notes,
        )  # fmt: skip
        return digit.reshape(1, 1, p.frame, p.frame), state

    def notes(self, state: DigitFit) -> tuple[str, ...]:
        return state.notes

    def _border(self, gray: np.ndarray) -> np.ndarray:
        """The outermost ring (``border_fraction`` of each side, at least one pixel), flattened."""
        h, w = gray.shape
        bh = max(1, int(h * self.params.border_fraction))
        bw = max(1, int(w * self.params.border_fraction))
        parts = [gray[:bh, :].ravel(), gray[h - bh :, :].ravel()]
        if h > 2 * bh:
            parts += [gray[bh : h - bh, :bw].ravel(), gray[bh : h - bh, w - bw :].ravel()]
        return np.concatenate(parts)

    def _ring(self, values: np.ndarray) -> np.ndarray:
        """(N, C) the border ring of an (H, W, C) picture, channel by channel."""
        return np.stack([self._border(values[..., c]) for c in range(values.shape[2])], axis=1)

    def _centre_offset(self, fit: np.ndarray) -> tuple[int, int]:
        """Paste offset putting the centre of mass of ``fit`` at the frame's centre."""
        p: DigitParams = self.params
        margin = p.frame - p.fit
        total = float(fit.sum())
        if total <= 0.0:
            return margin // 2, margin // 2
        ys, xs = np.indices(fit.shape)
        cy, cx = float((ys * fit).sum()) / total, float((xs * fit).sum()) / total
        ox = min(max(round(p.frame / 2 - cx), 0), margin)
        oy = min(max(round(p.frame / 2 - cy), 0), margin)
        return int(ox), int(oy)

    # --- restore ---------------------------------------------------------------------------------
    def restore(self, result: np.ndarray, state: DigitFit) -> Picture:
        """Map a (1, 1, frame, frame) result back onto the input's size, colours and mode
        family, the model's strokes painted in the input's ink (alpha, if the input had one, is
        made opaque: strokes may move)."""
        return self._restore(result, state, guided=False)

    def restore_denoised(self, result: np.ndarray, state: DigitFit) -> Picture:
        """As :meth:`restore`, but the strokes painted are the input's own where the model
        agrees with them (see :mod:`aeinfer.adapters.paint`)."""
        return self._restore(result, state, guided=True)

    def _restore(self, result: np.ndarray, state: DigitFit, guided: bool) -> Picture:
        p: DigitParams = self.params
        digit = np.clip(np.asarray(result, dtype=np.float32).reshape(p.frame, p.frame), 0.0, 1.0)
        picture = state.picture
        opaque = None if picture.alpha is None else np.full_like(picture.alpha, picture.scale)
        restored = Picture(picture.pixels, opaque, picture.label, profile=picture.profile)
        if not state.fitted:  # the frame as it is: the model's own pixels, in grey
            gray = digit
            if state.shading is not None:  # the light the fit took out goes back in
                gray = np.clip(gray + state.shading, 0.0, 1.0)
            if state.inverted:
                gray = 1.0 - gray
            return restored.with_unit(np.repeat(gray[..., None], picture.channels, axis=2))
        strokes, scale = self._strokes(digit, state)
        values = picture.over(WHITE)
        border = self._ring(values)
        reach = max(1, round(scale))
        bare = ink.box_blur((strokes > paint.SUPPORT_LEVEL).astype(np.float32), reach) == 0
        paper = paint.paper_field(values, border, state.inverted, p.ink_grid, p.flatten, bare)
        white = state.levels[1]
        fallback = np.full(values.shape[2], 1.0 - white if state.inverted else white)
        ink_rgb = paint.ink_colour(values, strokes, fallback)
        coverage = strokes
        if guided:
            observed = paint.coverage_of(values, paper, ink_rgb)
            coverage = paint.guided_coverage(
                observed, strokes, p.detail_prior, p.detail_gain, reach
            )
        return restored.with_unit(paint.paint(paper, ink_rgb, coverage))

    def _strokes(self, digit: np.ndarray, state: DigitFit) -> tuple[np.ndarray, float]:
        """(H, W) the model's strokes as coverage at the input's size (the whole frame scaled
        back around the fitted box, edges kept crisp), and the scale from frame to input."""
        p: DigitParams = self.params
        width, height = state.picture.size
        left, top, right, _ = state.box
        ox, oy = state.offset
        scale = (right - left) / p.fit
        left, top = left - round(ox * scale), top - round(oy * scale)
        side = round(p.frame * scale)
        up = self._sharpen(np.clip(resize_plane(digit, (side, side)), 0.0, 1.0), scale)
        strokes = np.zeros((height, width), dtype=np.float32)
        x0, y0 = max(left, 0), max(top, 0)
        x1, y1 = min(left + side, width), min(top + side, height)
        if x1 > x0 and y1 > y0:
            strokes[y0:y1, x0:x1] = up[y0 - top : y1 - top, x0 - left : x1 - left]
        return strokes, scale

    def _sharpen(self, ink: np.ndarray, scale: float) -> np.ndarray:
        """Crisp edges for a result scaled up by ``scale``: normalise the ink to peak at 1 (the
        model's strokes rarely reach full white), then a normalised sigmoid contrast curve."""
        p: DigitParams = self.params
        peak = float(ink.max())
        if peak > p.ink_threshold:
            ink = ink / peak
        gain = min(max(p.sharpen_per_scale * scale, 1.0), p.sharpen_max_gain)
        low, high = (1.0 / (1.0 + math.exp(-(v - 0.5) * gain)) for v in (0.0, 1.0))
        curve = 1.0 / (1.0 + np.exp(-(ink - 0.5) * gain))
        return ((curve - low) / (high - low)).astype(np.float32)

    def original(self, state: DigitFit) -> Picture:
        """The input as :meth:`restore` writes a result: same size and mode family, composited
        over white (for side-by-side pictures)."""
        picture = state.picture
        values = np.clip(picture.over(WHITE), 0.0, 1.0)
        opaque = None if picture.alpha is None else np.full_like(picture.alpha, picture.scale)
        return Picture(picture.pixels, opaque, picture.label, profile=picture.profile).with_unit(
            values
        )


def _bbox(mask: np.ndarray, w: int, h: int) -> tuple[int, int, int, int]:
    """The ink mask's bounding box (left, top, right, bottom; exclusive) in input pixels."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    sx, sy = w / mask.shape[1], h / mask.shape[0]
    return (
        math.floor(cols[0] * sx),
        math.floor(rows[0] * sy),
        min(w, math.ceil((cols[-1] + 1) * sx)),
        min(h, math.ceil((rows[-1] + 1) * sy)),
    )


def _square(bbox: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    left, top, right, bottom = bbox
    w, h = right - left, bottom - top
    side = max(w, h, 1)
    left -= (side - w) // 2
    top -= (side - h) // 2
    return left, top, left + side, top + side


def _crop_padded(gray: np.ndarray, box: tuple[int, int, int, int], fill: float) -> np.ndarray:
    left, top, right, bottom = box
    h, w = gray.shape
    out = np.full((bottom - top, right - left), fill, dtype=np.float32)
    x0, y0, x1, y1 = max(left, 0), max(top, 0), min(right, w), min(bottom, h)
    if x1 > x0 and y1 > y0:
        out[y0 - top : y1 - top, x0 - left : x1 - left] = gray[y0:y1, x0:x1]
    return out


__all__ = ["DigitFit", "DigitParams", "MnistDigit"]
