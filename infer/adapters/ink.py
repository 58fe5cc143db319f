"""Reading ink on paper: uneven light, where the ink is, how many separate marks it makes.

Used by the ``mnist_digit`` adapter to fit a digit and to say how digit-like a picture is. All
of it works on a copy of the picture shrunk by area averaging to at most ``grid`` pixels a side
(averaging suppresses pixel noise, which would otherwise be taken for ink), in the model's
polarity: ink bright, paper dark.

- **Light**: a photographed page is lit unevenly. A grey-level opening (a minimum filter, then
  a maximum filter, of a size larger than a pen stroke) removes the ink and keeps the paper's
  light, which is then subtracted, leaving flat paper (morphological background estimation,
  as in Sternberg's "rolling ball", 1983).
- **Ink**: pixels that stand out from the paper's level by an absolute and a relative margin,
  isolated specks removed by a 3×3 median.
- **Marks**: the ink's 8-connected regions, one-pixel gaps closed, regions touching the picture's
  edge left out when there are others; a single handwritten digit is one mark (sometimes one
  large and a few small), a number or a line of text several of similar size.

:func:`diagnose` turns these into the named figures the domain check of a digit model uses
(:data:`FEATURES`); they are computed the same way for every input, MNIST's own 28×28 digits
included.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

from aeinfer.pictures import resize_plane

MARK_MIN_SHARE = 0.1
"""A region counts as a mark when it has at least this share of the largest region's pixels."""
PAPER_BAND = 0.25
"""A pixel is plain paper when it lies within this share of the ink's contrast from the paper."""
CONTRAST_PERCENTILE = 99.5
"""The ink's contrast: this percentile of how far pixels stand out (robust to a stray speck)."""
MIN_PERCENTILE_PIXELS = 200
MAX_MARKS = 8
"""Marks are counted up to this many (a page of text has hundreds; 8 already says enough)."""

FEATURES = (
    "contrast",
    "spread",
    "marks",
    "share",
    "paper",
    "ink",
    "unevenness",
    "fill",
    "aspect",
    "mid_grey",
    "reconstruction",
    "off_colour",
)
"""The domain check's figures: how far the ink stands out from the paper (contrast); how much
the border varies against that contrast (spread); the number of separate marks (marks) and the
largest one's share of the ink (share); the share of plain paper (paper) and of ink (ink); how
uneven the light was (unevenness); how much of its bounding box the ink fills (fill) and the
box's log aspect ratio (aspect); the share of mid-grey among the fitted frame's lit pixels
(mid_grey); log10 of the model's reconstruction error on the frame (reconstruction, added by
the task that runs the model); and the share of pixels whose colour, once the paper's uneven
light is taken out, lies off the line from the paper's colour to the ink's (off_colour: a page
is two colours, a photograph many)."""
OFF_COLOUR = 0.25
"""A pixel is off the paper–ink line when farther from it than this share of the ink's
colour contrast (and at least :data:`OFF_COLOUR_FLOOR`)."""
OFF_COLOUR_FLOOR = 0.08


def box_blur(values: np.ndarray, radius: int) -> np.ndarray:
    """Mean over a (2r+1)² window, edges repeated (summed-area table)."""
    if radius < 1:
        return values.astype(np.float32, copy=True)
    padded = np.pad(values.astype(np.float64), radius, mode="edge")
    table = np.pad(padded.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    k = 2 * radius + 1
    total = table[k:, k:] - table[:-k, k:] - table[k:, :-k] + table[:-k, :-k]
    return (total / (k * k)).astype(np.float32)


def shrink(gray: np.ndarray, grid: int) -> np.ndarray:
    """``gray`` area-averaged to at most ``grid`` pixels a side (itself if already small)."""
    h, w = gray.shape
    factor = max(1.0, max(h, w) / grid)
    if factor == 1.0:
        return gray
    return resize_plane(gray, (max(1, round(w / factor)), max(1, round(h / factor))), "box")


def light(small: np.ndarray, size_fraction: float) -> np.ndarray | None:
    """The paper's light on the shrunk copy (grey opening, then smoothed), or None when the
    copy is too small for an opening larger than a stroke."""
    k = max(3, round(size_fraction * max(small.shape))) | 1
    if min(small.shape) <= k:
        return None
    plane = Image.fromarray(np.ascontiguousarray(small, dtype=np.float32), "F")
    opened = plane.filter(ImageFilter.MinFilter(k)).filter(ImageFilter.MaxFilter(k))
    return box_blur(np.asarray(opened, dtype=np.float32), k // 2)


def ink_mask(excess: np.ndarray, threshold: float, fraction: float, peak: float) -> np.ndarray:
    """Pixels that stand out by ``threshold`` and by ``fraction`` of ``peak``, specks removed
    by a 3×3 median (thin strokes it would erase entirely are kept by using the raw mask)."""
    mask = excess > max(threshold, fraction * peak)
    if min(mask.shape) >= 3:
        cleaned = (
            np.asarray(
                Image.fromarray(mask.astype(np.uint8) * 255).filter(ImageFilter.MedianFilter(3))
            )
            > 127
        )
        if cleaned.any():
            mask = cleaned
    return mask


def regions(mask: np.ndarray, touching: np.ndarray | None = None) -> list[tuple[int, bool]]:
    """(size, touches the edge) of each 8-connected region of ``mask``, largest first; with
    ``touching``, a region touches the edge only where one of ``touching``'s pixels does."""
    touching = mask if touching is None else touching
    h, w = mask.shape
    seen = np.zeros((h, w), dtype=bool)
    found = []
    for y, x in zip(*np.nonzero(mask), strict=True):
        if seen[y, x]:
            continue
        seen[y, x] = True
        stack, count, edge = [(int(y), int(x))], 0, False
        while stack:
            cy, cx = stack.pop()
            count += 1
            edge = edge or (touching[cy, cx] and (cy in (0, h - 1) or cx in (0, w - 1)))
            for yy in range(max(cy - 1, 0), min(cy + 2, h)):
                for xx in range(max(cx - 1, 0), min(cx + 2, w)):
                    if mask[yy, xx] and not seen[yy, xx]:
                        seen[yy, xx] = True
                        stack.append((yy, xx))
        found.append((count, edge))
    return sorted(found, reverse=True)


def closed_regions(mask: np.ndarray) -> list[tuple[int, bool]]:
    """:func:`regions` of the ink after closing one-pixel gaps (a thin stroke the threshold
    broke is one mark); a region touches the edge where the ink itself does, not the closing."""
    closed = (
        np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).filter(ImageFilter.MaxFilter(3)))
        > 127
    )
    return regions(closed, mask)


def marks_of(mask: np.ndarray) -> list[int]:
    """Sizes of the separate marks, largest first: the ink's :func:`closed_regions`, without
    the regions that touch the picture's edge when there are others (the edge of the sheet, a
    desk, a shadow)."""
    found = closed_regions(mask)
    inner = [size for size, edge in found if not edge]
    return inner if inner else [size for size, _ in found]


def edge_share(mask: np.ndarray) -> float:
    """The share of the ink in regions that touch the picture's edge: a digit written on a
    sheet lies inside the picture; a photograph's dark subject runs off it."""
    found = closed_regions(mask)
    total = sum(size for size, _ in found)
    return sum(size for size, edge in found if edge) / total if total else 0.0


@dataclass(frozen=True)
class Diagnosis:
    """What the ink analysis found (see :data:`FEATURES`)."""

    contrast: float
    spread: float
    marks: int
    share: float
    paper: float
    ink: float
    unevenness: float
    fill: float
    aspect: float
    off_colour: float = 0.0
    edge: float = 0.0
    """Not a weighed figure: for the domain check's gates (:mod:`aeinfer.domain`)."""
    framed: bool = False
    """The input was already the model's frame (MNIST's own format): not gated."""

    def figures(self) -> dict[str, float]:
        named = {name: float(getattr(self, name)) for name in FEATURES if hasattr(self, name)}
        return {**named, "edge": self.edge, "framed": float(self.framed)}


def diagnose(
    small: np.ndarray,
    ring: np.ndarray,
    mask: np.ndarray,
    lighting: np.ndarray | None,
    threshold: float,
    colours: np.ndarray | None = None,
    colour_ring: np.ndarray | None = None,
) -> Diagnosis:
    """The figures of a shrunk, flattened picture ``small`` (model polarity), its border
    ``ring`` and its ink ``mask``; ``colours`` (h, w, C) is the same shrunk picture in its own
    colours and ``colour_ring`` (N, C) its border, for ``off_colour`` (0 without them)."""
    level = float(np.median(ring))
    excess = small - level
    if excess.size >= MIN_PERCENTILE_PIXELS:
        contrast = float(np.percentile(excess, CONTRAST_PERCENTILE))
    else:
        contrast = float(excess.max())
    scale = max(contrast, threshold)
    spread = float(np.median(np.abs(ring - level))) / max(contrast, 1e-3)
    sizes = marks_of(mask) if contrast > threshold else []
    total = sum(sizes)
    marks = sum(1 for s in sizes if s >= MARK_MIN_SHARE * sizes[0]) if sizes else 0
    paper = float((np.abs(box_blur(excess, 1)) < PAPER_BAND * scale).mean())
    unevenness = 0.0 if lighting is None else float(np.std(lighting)) / max(contrast, 1e-3)
    if mask.any() and sizes:
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        box = mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        fill = float(box.mean())
        aspect = math.log(box.shape[1] / box.shape[0])
    else:
        fill, aspect = 0.0, 0.0
    off = 0.0
    if colours is not None and colour_ring is not None and mask.any():
        off = _off_colour(colours, colour_ring, mask)
    return Diagnosis(
        contrast=contrast,
        spread=spread,
        marks=min(marks, MAX_MARKS),
        share=sizes[0] / total if total else 0.0,
        paper=paper,
        ink=float(mask.mean()),
        unevenness=unevenness,
        fill=fill,
        aspect=aspect,
        off_colour=off,
        edge=edge_share(mask) if contrast > threshold else 0.0,
    )


def _off_colour(colours: np.ndarray, ring: np.ndarray, mask: np.ndarray) -> float:
    """The share of pixels of ``colours`` off the segment from the paper's colour (median of
    ``ring``) to the ink's (median under ``mask``)."""
    paper = np.median(ring, axis=0)
    ink_rgb = np.median(colours[mask], axis=0)
    axis = ink_rgb - paper
    length = float(np.sqrt((axis * axis).sum()))
    t = np.clip(((colours - paper) * axis).sum(-1) / max(length**2, 1e-6), 0.0, 1.0)
    distance = np.sqrt(((colours - paper - t[..., None] * axis) ** 2).sum(-1))
    return float((distance > max(OFF_COLOUR * length, OFF_COLOUR_FLOOR)).mean())


def mid_grey(frame: np.ndarray) -> float:
    """The share of mid-grey (0.2–0.8) among the frame's lit (> 0.05) pixels: a pen stroke
    has soft edges only; a photograph squeezed into the frame is grey throughout."""
    lit = float((frame > 0.05).mean())
    return float(((frame > 0.2) & (frame < 0.8)).mean()) / max(lit, 1e-3)


__all__ = [
    "FEATURES",
    "Diagnosis",
    "box_blur",
    "diagnose",
    "ink_mask",
    "light",
    "mid_grey",
    "regions",
    "shrink",
]
