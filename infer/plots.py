"""Plots of a latent plane, drawn with Pillow (no matplotlib): the manifold and the scatter.

- :func:`manifold`: the Keras VAE example's 2-D latent grid, made for any model with a 2-D
  latent and a prior: z[0] from −range to +range left to right, z[1] from +range (top) to
  −range (bottom), each cell a decoded item at the model's own size and channels (a small line
  plot for a signal), with tick labels and axis names;
- :func:`scatter_plot`: 2-D codes as points coloured by label, with axes, tick labels and a
  legend built from the labels present (digits, folder names, anything).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from aeinfer.card import Card
from aeinfer.errors import CapabilityError, InputError
from aeinfer.render import PALETTE, draw_text, grid, text_size, tiles

WHITE = (255, 255, 255)
BLACK = (0, 0, 0)
AXIS_MARGIN_LEFT = 64
AXIS_MARGIN_BOTTOM = 44
AXIS_MARGIN_TOP = 12
AXIS_MARGIN_RIGHT = 16
TICK_LENGTH = 4
TEXT_GAP = 3
AXIS_NAMES = ("z[0]", "z[1]")
PLANE = (2,)
"""The latent shape the manifold and the scatter plot draw."""

MANIFOLD_TICKS = (5, 3, 2)
"""Tick labels per manifold axis: ends, middle and quarter points; fewer where it is short."""
MIN_TICK_SPACING = 32
MIN_MANIFOLD_SIZE = 2
TICK_DIGITS = 3

PLOT_SIZE = 480
TITLE_BAND = 28
LEGEND_SWATCH = 10
LEGEND_ROW = 18
LEGEND_INSET = 14
LEGEND_MIN_WIDTH = 88
LEGEND_MAX_ROWS = 24
POINT_RADIUS = 2
TICK_TARGET = 5
NICE_STEPS = (1.0, 2.0, 5.0, 10.0)
DRAW_ORDER_SEED = 0
"""Points are drawn in a fixed shuffled order so no class always lands on top."""


@dataclass(frozen=True)
class _Frame:
    left: int
    top: int
    width: int
    height: int


def _paste_rotated_text(
    canvas: Image.Image, text: str, centre: tuple[int, int], fill: tuple[int, int, int]
) -> None:
    """Draw ``text`` turned 90° counter-clockwise (reading bottom to top), centred on ``centre``."""
    width, height = text_size(text)
    label = Image.new("L", (width + 2 * TEXT_GAP, height + 2 * TEXT_GAP), 0)
    draw_text(ImageDraw.Draw(label), (label.width / 2, label.height / 2), text, 255)
    mask = label.rotate(90, expand=True)
    ink = Image.new(canvas.mode, mask.size, fill)
    canvas.paste(ink, (centre[0] - mask.width // 2, centre[1] - mask.height // 2), mask)


def _draw_axes(
    canvas: Image.Image,
    frame: _Frame,
    x_ticks: Sequence[tuple[float, str]],
    y_ticks: Sequence[tuple[float, str]],
) -> None:
    """Frame the plot area, draw tick marks (x from the left edge, y from the top edge) with
    their labels, and the axis names z[0] and z[1]."""
    draw = ImageDraw.Draw(canvas)
    right, bottom = frame.left + frame.width, frame.top + frame.height
    draw.rectangle((frame.left - 1, frame.top - 1, right, bottom), outline=BLACK)
    for offset, label in x_ticks:
        x = frame.left + offset
        draw.line((x, bottom, x, bottom + TICK_LENGTH), fill=BLACK)
        draw_text(draw, (x, bottom + TICK_LENGTH + TEXT_GAP), label, BLACK, ("centre", "top"))
    for offset, label in y_ticks:
        y = frame.top + offset
        draw.line((frame.left - 1 - TICK_LENGTH, y, frame.left - 1, y), fill=BLACK)
        anchor = (frame.left - 1 - TICK_LENGTH - TEXT_GAP, y)
        draw_text(draw, anchor, label, BLACK, ("right", "centre"))
    _, label_height = text_size("0")
    name_y = bottom + TICK_LENGTH + 3 * TEXT_GAP + label_height
    draw_text(draw, (frame.left + frame.width / 2, name_y), AXIS_NAMES[0], BLACK, ("centre", "top"))
    _, name_height = text_size(AXIS_NAMES[1])
    _paste_rotated_text(
        canvas, AXIS_NAMES[1], (TEXT_GAP + name_height, frame.top + frame.height // 2), BLACK
    )


def _plain(value: float, text: str) -> str:
    """A tick label without a minus sign on zero."""
    return text.replace("-", "", 1) if value == 0 else text


# --- the manifold ---------------------------------------------------------------------------------


def require_plane(card: Card, what: str, *, prior: bool) -> None:
    """Raise CapabilityError unless the model has a 2-D latent (and a prior, if asked)."""
    if card.latent.shape == PLANE and (card.latent.prior is not None or not prior):
        return
    kind = "a variational model with a 2-D latent" if prior else "a 2-D latent"
    shape = "×".join(str(s) for s in card.latent.shape)
    raise CapabilityError(
        f"{what} needs {kind}; model {card.name!r} ({card.family}) has a "
        f"{card.latent.kind} latent of shape {shape}"
    )


def manifold_latents(size: int, extent: float) -> np.ndarray:
    """(size·size, 2) codes of the manifold cells, row by row from the top left."""
    if size < MIN_MANIFOLD_SIZE:
        raise InputError(f"manifold size must be at least {MIN_MANIFOLD_SIZE}, got {size}")
    if not math.isfinite(extent) or extent <= 0:
        raise InputError(f"manifold range must be a positive number, got {extent}")
    xs = np.linspace(-extent, extent, size, dtype=np.float32)
    z0, z1 = np.meshgrid(xs, xs[::-1])
    return np.stack([z0, z1], axis=-1).reshape(-1, 2)


def manifold(
    card: Card, decode: Callable[[np.ndarray], np.ndarray], size: int, extent: float
) -> Image.Image:
    """The decoded 2-D latent grid (``decode`` maps codes to items), with labelled axes."""
    require_plane(card, "the manifold", prior=True)
    items = decode(manifold_latents(size, extent))
    cells = grid(tiles(items, card.data), columns=size, pad=0)
    cell_w, cell_h = cells.width // size, cells.height // size
    canvas = Image.new("RGB", (
        AXIS_MARGIN_LEFT + cells.width + AXIS_MARGIN_RIGHT,
        AXIS_MARGIN_TOP + cells.height + AXIS_MARGIN_BOTTOM,
    ), WHITE)  # fmt: skip
    canvas.paste(cells, (AXIS_MARGIN_LEFT, AXIS_MARGIN_TOP))
    span = min(cells.width - cell_w, cells.height - cell_h)
    fitting = [n for n in MANIFOLD_TICKS if span >= (n - 1) * MIN_TICK_SPACING]
    values = np.linspace(-extent, extent, fitting[0] if fitting else MANIFOLD_TICKS[-1])
    labels = [_plain(v, f"{v:.{TICK_DIGITS}g}") for v in values]
    pairs = list(zip(values, labels, strict=True))
    # Cell centres carry the codes; values between them map linearly.
    x_ticks = [
        (cell_w / 2 + (v + extent) / (2 * extent) * (cells.width - cell_w), s) for v, s in pairs
    ]
    y_ticks = [
        (cell_h / 2 + (extent - v) / (2 * extent) * (cells.height - cell_h), s) for v, s in pairs
    ]
    _draw_axes(
        canvas,
        _Frame(AXIS_MARGIN_LEFT, AXIS_MARGIN_TOP, cells.width, cells.height),
        x_ticks,
        y_ticks,
    )
    return canvas


# --- the scatter plot -----------------------------------------------------------------------------


def nice_ticks(low: float, high: float, target: int = TICK_TARGET) -> np.ndarray:
    """Round tick values (steps of 1, 2 or 5 × 10^k) covering [low, high], about ``target``
    intervals; the first and last ticks are the axis limits."""
    if not (math.isfinite(low) and math.isfinite(high)):
        raise InputError(f"cannot draw axes over [{low}, {high}]")
    if high <= low:
        low, high = low - 1.0, high + 1.0
    raw = (high - low) / target
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in NICE_STEPS if m * magnitude >= raw)
    start, stop = math.floor(low / step) * step, math.ceil(high / step) * step
    return start + step * np.arange(round((stop - start) / step) + 1)


def _tick_labels(ticks: np.ndarray) -> list[str]:
    step = float(ticks[1] - ticks[0])
    decimals = max(0, -math.floor(math.log10(step)))
    return [_plain(round(v, decimals), f"{v:.{decimals}f}") for v in ticks]


def _sorted_labels(labels: Sequence[object]) -> list[str]:
    """The distinct labels, numerically ordered when they are all numbers."""
    names = sorted({str(label) for label in labels})
    try:
        return sorted(names, key=float)
    except ValueError:
        return names


def scatter_plot(
    points: np.ndarray, labels: Sequence[object], title: str, legend_title: str = "label"
) -> Image.Image:
    """Codes (N, 2) as points coloured by label, with axes, tick labels, axis names, a legend
    of the labels present (label → colour; colours repeat after 20) and ``title``, on white."""
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1:] != PLANE or len(points) == 0:
        raise InputError(f"need a non-empty (N, 2) array of codes, got shape {points.shape}")
    if len(labels) != len(points):
        raise InputError(f"need one label per point: {len(labels)} labels for {len(points)} points")
    if not np.isfinite(points).all():
        raise InputError("codes contain NaN or infinite values")
    classes = _sorted_labels(labels)
    colour = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(classes)}
    shown = classes[:LEGEND_MAX_ROWS]
    legend_width = max(
        LEGEND_MIN_WIDTH,
        LEGEND_INSET
        + LEGEND_SWATCH
        + 3 * TEXT_GAP
        + max(text_size(n)[0] for n in (*shown, legend_title))
        + TEXT_GAP,
    )
    height = TITLE_BAND + max(PLOT_SIZE, (len(shown) + 2) * LEGEND_ROW) + AXIS_MARGIN_BOTTOM
    canvas = Image.new("RGB", (AXIS_MARGIN_LEFT + PLOT_SIZE + legend_width, height), WHITE)
    draw = ImageDraw.Draw(canvas)
    frame = _Frame(AXIS_MARGIN_LEFT, TITLE_BAND, PLOT_SIZE, PLOT_SIZE)
    x_ticks = nice_ticks(float(points[:, 0].min()), float(points[:, 0].max()))
    y_ticks = nice_ticks(float(points[:, 1].min()), float(points[:, 1].max()))
    (x0, x1), (y0, y1) = (x_ticks[0], x_ticks[-1]), (y_ticks[0], y_ticks[-1])
    xs = frame.left + (points[:, 0] - x0) / (x1 - x0) * (PLOT_SIZE - 1)
    ys = frame.top + (y1 - points[:, 1]) / (y1 - y0) * (PLOT_SIZE - 1)
    names = [str(label) for label in labels]
    for index in np.random.default_rng(DRAW_ORDER_SEED).permutation(len(points)):
        x, y = float(xs[index]), float(ys[index])
        box = (x - POINT_RADIUS, y - POINT_RADIUS, x + POINT_RADIUS, y + POINT_RADIUS)
        draw.ellipse(box, fill=colour[names[index]])
    _draw_axes(
        canvas,
        frame,
        [
            ((v - x0) / (x1 - x0) * (PLOT_SIZE - 1), s)
            for v, s in zip(x_ticks, _tick_labels(x_ticks), strict=True)
        ],
        [
            ((y1 - v) / (y1 - y0) * (PLOT_SIZE - 1), s)
            for v, s in zip(y_ticks, _tick_labels(y_ticks), strict=True)
        ],
    )
    draw_text(draw, (frame.left + PLOT_SIZE / 2, TITLE_BAND / 2), title, BLACK)
    legend_x = frame.left + PLOT_SIZE + LEGEND_INSET
    draw_text(draw, (legend_x, frame.top), legend_title, BLACK, ("left", "top"))
    for row, name in enumerate(shown, start=1):
        y = frame.top + row * LEGEND_ROW
        draw.rectangle(
            (legend_x, y, legend_x + LEGEND_SWATCH - 1, y + LEGEND_SWATCH - 1), colour[name]
        )
        draw_text(
            draw,
            (legend_x + LEGEND_SWATCH + 2 * TEXT_GAP, y + LEGEND_SWATCH / 2),
            name,
            BLACK,
            ("left", "centre"),
        )
    if len(classes) > len(shown):
        y = frame.top + (len(shown) + 1) * LEGEND_ROW
        draw_text(draw, (legend_x, y), f"+{len(classes) - len(shown)} more", BLACK, ("left", "top"))
    return canvas


__all__ = ["manifold", "manifold_latents", "nice_ticks", "require_plane", "scatter_plot"]
