"""Pictures of what a model does and has learned, drawn with Pillow (no matplotlib).

- :func:`pair_sheet`: original | reconstruction pairs, each digit enlarged, with column labels;
- :func:`digits_grid`: a plain grid of decoded digits (what ``aeinfer decode`` and
  ``aeinfer sample`` write);
- :func:`manifold`: the 2-D latent grid of the Keras VAE example, z[0] along x from −range to
  +range, z[1] along y from +range (top) to −range (bottom), with tick labels and axis names;
- :func:`interpolate` and :func:`strip`: decoded codes on the straight line between two images'
  codes, as one horizontal strip;
- :func:`scatter_plot`: 2-D codes as points coloured by digit label, with axes and a legend.

Functions here take arrays or a loaded :class:`~aeinfer.model.Model` and return arrays or Pillow
images; writing files (and stdout) is :mod:`aeinfer.jobs`'s business. Geometry is fixed by the
constants below, so a picture's size follows from its inputs alone.
"""

from __future__ import annotations

import functools
import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from aeinfer.errors import CapabilityError, InputError
from aeinfer.imageio import DIGIT_SIZE, grid
from aeinfer.model import Model

# --- tiles: strips and sheets ---------------------------------------------------------------
DIGIT_SCALE = 4
"""Strips and sheets enlarge each 28×28 digit this many times (nearest neighbour)."""
TILE_PAD = 2
"""Pixels between neighbouring tiles and around a strip or sheet."""
TILE = DIGIT_SIZE * DIGIT_SCALE
"""Side of one enlarged digit."""
SHEET_PAIRS_PER_ROW = 4
"""Original | reconstruction pairs side by side on one row of a sheet."""
PAIR_GAP = 10
"""Extra space between two pairs on a sheet, so pairs read as pairs."""
LABEL_BAND = 20
"""Height of a sheet's header band holding the column labels."""
SHEET_LABELS = ("original", "reconstructed")

# --- text and colours -----------------------------------------------------------------------
FONT_SIZE = 12
WHITE = 255
BLACK = 0
PAPER_RGB = (255, 255, 255)
INK_RGB = (0, 0, 0)

# --- axes (manifold and scatter) ------------------------------------------------------------
AXIS_MARGIN_LEFT = 64
"""Room left of a plot for the rotated y-axis name, the y tick labels and the tick marks."""
AXIS_MARGIN_BOTTOM = 44
"""Room below a plot for the tick marks, the x tick labels and the x-axis name."""
AXIS_MARGIN_TOP = 12
AXIS_MARGIN_RIGHT = 16
TICK_LENGTH = 4
TEXT_GAP = 3
"""Pixels between a tick mark and its label, and between labels and an axis name."""
AXIS_NAMES = ("z[0]", "z[1]")

# --- manifold ---------------------------------------------------------------------------------
MANIFOLD_TICKS = (5, 3, 2)
"""Tick labels per manifold axis: both ends, the middle and the quarter points; fewer (ends
and middle, then the ends alone) where the axis is too short to hold them apart."""
MIN_TICK_SPACING = 32
"""Pixels between neighbouring manifold tick labels, at least (where there is room)."""
MIN_MANIFOLD_SIZE = 2
TICK_DIGITS = 3
"""Significant digits of a manifold tick label."""

# --- sampling -------------------------------------------------------------------------------
SEED_SPACE = 2**32
"""Seeds drawn when none is given lie in [0, SEED_SPACE)."""

# --- interpolation ----------------------------------------------------------------------------
MIN_STEPS = 2

# --- scatter ----------------------------------------------------------------------------------
PLOT_SIZE = 480
"""Side of the square plotting area of a scatter plot."""
TITLE_BAND = 28
"""Height of the band above a scatter plot holding its title."""
LEGEND_WIDTH = 88
"""Room right of a scatter plot for the legend."""
LEGEND_SWATCH = 10
LEGEND_ROW = 18
LEGEND_INSET = 14
"""Distance from the plot's right edge to the legend's swatches."""
POINT_RADIUS = 2
TICK_TARGET = 5
"""About this many tick intervals per scatter axis (1-2-5 steps)."""
NICE_STEPS = (1.0, 2.0, 5.0, 10.0)
DRAW_ORDER_SEED = 0
"""Points are drawn in a fixed shuffled order so no digit class always lands on top."""
LABEL_COLOURS: tuple[tuple[int, int, int], ...] = (
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
)
"""One colour per digit 0-9 (the "tab10" palette)."""
PLANE = (2,)
"""The latent shape the manifold and the scatter plot draw."""


# --------------------------------------------------------------------------------------------
# Text
# --------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def font() -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's default font at :data:`FONT_SIZE` (a bitmap font where FreeType is missing)."""
    return ImageFont.load_default(size=FONT_SIZE)


def _text_size(text: str) -> tuple[int, int]:
    left, top, right, bottom = ImageDraw.Draw(Image.new("L", (1, 1))).textbbox(
        (0, 0), text, font=font()
    )
    return right - left, bottom - top


def _draw_text(
    draw: ImageDraw.ImageDraw,
    xy: tuple[float, float],
    text: str,
    fill: int | tuple[int, int, int],
    align: tuple[str, str] = ("centre", "centre"),
) -> None:
    """Draw ``text`` placed at ``xy`` by its ink box: horizontally left/centre/right of x,
    vertically top/centre of y (bitmap and FreeType fonts alike, so no ``anchor``)."""
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font())
    width, height = right - left, bottom - top
    x, y = xy
    x -= {"left": 0.0, "centre": width / 2, "right": float(width)}[align[0]]
    y -= {"top": 0.0, "centre": height / 2}[align[1]]
    draw.text((round(x - left), round(y - top)), text, fill=fill, font=font())


def _paste_rotated_text(
    canvas: Image.Image, text: str, centre: tuple[int, int], fill: int | tuple[int, int, int]
) -> None:
    """Draw ``text`` turned 90° counter-clockwise (reading bottom to top), centred on ``centre``."""
    width, height = _text_size(text)
    label = Image.new("L", (width + 2 * TEXT_GAP, height + 2 * TEXT_GAP), BLACK)
    _draw_text(ImageDraw.Draw(label), (label.width / 2, label.height / 2), text, WHITE)
    mask = label.rotate(90, expand=True)
    ink = Image.new(canvas.mode, mask.size, fill)
    canvas.paste(ink, (centre[0] - mask.width // 2, centre[1] - mask.height // 2), mask)


# --------------------------------------------------------------------------------------------
# Grids, strips and sheets
# --------------------------------------------------------------------------------------------


def digits_grid(images: np.ndarray) -> Image.Image:
    """Decoded digits (N, 28, 28) in [0, 1] as one grid image; a single digit as itself."""
    if len(images) == 1:
        return grid(images, columns=1, pad=0)
    return grid(images)


def strip(images: np.ndarray) -> Image.Image:
    """Digits (N, 28, 28) in one row, each enlarged :data:`DIGIT_SCALE` times."""
    return grid(images, columns=len(images), pad=TILE_PAD, scale=DIGIT_SCALE)


def _enlarged(digit: np.ndarray) -> Image.Image:
    return grid(digit[None], columns=1, pad=0, scale=DIGIT_SCALE)


def sheet_size(count: int) -> tuple[int, int]:
    """(width, height) of :func:`pair_sheet` for ``count`` pairs."""
    columns = min(count, SHEET_PAIRS_PER_ROW)
    rows = math.ceil(count / columns)
    pair_width = 2 * TILE + TILE_PAD
    width = 2 * TILE_PAD + columns * pair_width + (columns - 1) * PAIR_GAP
    height = LABEL_BAND + TILE_PAD + rows * (TILE + TILE_PAD)
    return width, height


def pair_sheet(
    originals: np.ndarray, results: np.ndarray, labels: Sequence[str] = SHEET_LABELS
) -> Image.Image:
    """Original | result pairs, :data:`SHEET_PAIRS_PER_ROW` pairs a row, each digit enlarged
    :data:`DIGIT_SCALE` times, with ``labels`` over the two columns of every pair."""
    if originals.shape != results.shape or originals.ndim != 3 or len(originals) == 0:
        raise InputError(
            f"need two equal non-empty (N, H, W) stacks, got {originals.shape} and {results.shape}"
        )
    count = len(originals)
    sheet = Image.new("L", sheet_size(count), WHITE)
    draw = ImageDraw.Draw(sheet)
    pair_step = 2 * TILE + TILE_PAD + PAIR_GAP
    for column in range(min(count, SHEET_PAIRS_PER_ROW)):
        for side, label in enumerate(labels):
            x = TILE_PAD + column * pair_step + side * (TILE + TILE_PAD) + TILE / 2
            _draw_text(draw, (x, LABEL_BAND / 2), label, BLACK)
    for index, (original, result) in enumerate(zip(originals, results, strict=True)):
        row, column = divmod(index, SHEET_PAIRS_PER_ROW)
        x = TILE_PAD + column * pair_step
        y = LABEL_BAND + TILE_PAD + row * (TILE + TILE_PAD)
        sheet.paste(_enlarged(original), (x, y))
        sheet.paste(_enlarged(result), (x + TILE + TILE_PAD, y))
    return sheet


# --------------------------------------------------------------------------------------------
# Sampling and interpolation
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Samples:
    """Draws from the prior: the codes z (N, *latent_shape), their decoded images, and the
    seed that reproduces them."""

    latents: np.ndarray
    images: np.ndarray
    seed: int


def sample(model: Model, count: int, seed: int | None = None) -> Samples:
    """Decode ``count`` draws z ~ N(0, I) (variational models only). Without ``seed`` a fresh
    one is drawn and returned, so any result can be reproduced."""
    if count < 1:
        raise InputError(f"sample count must be at least 1, got {count}")
    if seed is None:
        seed = secrets.randbelow(SEED_SPACE)
    latents = model.sample_latents(count, seed)
    return Samples(latents=latents, images=model.decode(latents), seed=seed)


def interpolate(model: Model, first: np.ndarray, last: np.ndarray, steps: int) -> np.ndarray:
    """Decode ``steps`` evenly spaced points on the line from the code of ``first`` to the code
    of ``last`` (both ends included; for a vae, the posterior means). Returns (steps, H, W)."""
    if steps < MIN_STEPS:
        raise InputError(f"interpolation needs at least {MIN_STEPS} steps, got {steps}")
    codes = model.encode(np.stack([first, last]))
    weights = np.linspace(0.0, 1.0, steps, dtype=np.float32).reshape(-1, *[1] * codes[0].ndim)
    return model.decode((1.0 - weights) * codes[0] + weights * codes[1])


# --------------------------------------------------------------------------------------------
# Axes: a plot area in fixed margins, with ticks, tick labels and axis names
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Frame:
    """Where the plot area lies on the canvas: (left, top) corner and its size."""

    left: int
    top: int
    width: int
    height: int


def _draw_axes(
    canvas: Image.Image,
    frame: _Frame,
    x_ticks: Sequence[tuple[float, str]],
    y_ticks: Sequence[tuple[float, str]],
    ink: int | tuple[int, int, int],
) -> None:
    """Frame the plot area, draw tick marks at the given offsets into it (x from the left
    edge, y from the top edge) with their labels, and the axis names z[0] and z[1]."""
    draw = ImageDraw.Draw(canvas)
    right, bottom = frame.left + frame.width, frame.top + frame.height
    draw.rectangle((frame.left - 1, frame.top - 1, right, bottom), outline=ink)
    for offset, label in x_ticks:
        x = frame.left + offset
        draw.line((x, bottom, x, bottom + TICK_LENGTH), fill=ink)
        _draw_text(draw, (x, bottom + TICK_LENGTH + TEXT_GAP), label, ink, ("centre", "top"))
    for offset, label in y_ticks:
        y = frame.top + offset
        draw.line((frame.left - 1 - TICK_LENGTH, y, frame.left - 1, y), fill=ink)
        anchor = (frame.left - 1 - TICK_LENGTH - TEXT_GAP, y)
        _draw_text(draw, anchor, label, ink, ("right", "centre"))
    _, label_height = _text_size("0")
    name_y = bottom + TICK_LENGTH + 3 * TEXT_GAP + label_height
    centre_x = frame.left + frame.width / 2
    _draw_text(draw, (centre_x, name_y), AXIS_NAMES[0], ink, ("centre", "top"))
    _, name_height = _text_size(AXIS_NAMES[1])
    _paste_rotated_text(
        canvas, AXIS_NAMES[1], (TEXT_GAP + name_height, frame.top + frame.height // 2), ink
    )


def _plain(value: float, text: str) -> str:
    """A tick label without a minus sign on zero."""
    return text.replace("-", "", 1) if value == 0 else text


# --------------------------------------------------------------------------------------------
# The latent manifold
# --------------------------------------------------------------------------------------------


def require_plane(model: Model, what: str, *, variational: bool) -> None:
    """Raise CapabilityError unless ``model`` has a 2-D latent (and is variational, if asked)."""
    if model.latent_shape == PLANE and (model.is_variational or not variational):
        return
    kind = "a variational model with a 2-D latent" if variational else "a 2-D latent"
    shape = "×".join(map(str, model.latent_shape))
    raise CapabilityError(
        f"{what} needs {kind}; model {model.name!r} ({model.family}) has "
        f"{'a variational' if model.is_variational else 'a deterministic'} latent of shape "
        f"{shape}"
    )


def manifold_latents(size: int, extent: float) -> np.ndarray:
    """(size·size, 2) codes of the manifold cells, row by row from the top left: z[0] from
    −extent to +extent left to right, z[1] from +extent to −extent top to bottom."""
    if size < MIN_MANIFOLD_SIZE:
        raise InputError(f"manifold size must be at least {MIN_MANIFOLD_SIZE}, got {size}")
    if not math.isfinite(extent) or extent <= 0:
        raise InputError(f"manifold range must be a positive number, got {extent}")
    xs = np.linspace(-extent, extent, size, dtype=np.float32)
    z0, z1 = np.meshgrid(xs, xs[::-1])
    return np.stack([z0, z1], axis=-1).reshape(-1, 2)


def manifold_size(size: int) -> tuple[int, int]:
    """(width, height) of :func:`manifold` for ``size`` × ``size`` cells."""
    side = size * DIGIT_SIZE
    return (
        AXIS_MARGIN_LEFT + side + AXIS_MARGIN_RIGHT,
        AXIS_MARGIN_TOP + side + AXIS_MARGIN_BOTTOM,
    )


def manifold(model: Model, size: int, extent: float) -> Image.Image:
    """The decoded 2-D latent grid of a variational model, with labelled axes, as an "L"
    image (digits white on black, axes black on white)."""
    require_plane(model, "the manifold", variational=True)
    cells = grid(model.decode(manifold_latents(size, extent)), columns=size, pad=0)
    canvas = Image.new("L", manifold_size(size), WHITE)
    canvas.paste(cells, (AXIS_MARGIN_LEFT, AXIS_MARGIN_TOP))
    # Cell centres carry the codes; values between them map linearly.
    first, span = DIGIT_SIZE / 2, (size - 1) * DIGIT_SIZE
    fitting = [n for n in MANIFOLD_TICKS if span >= (n - 1) * MIN_TICK_SPACING]
    values = np.linspace(-extent, extent, fitting[0] if fitting else MANIFOLD_TICKS[-1])
    labels = [_plain(v, f"{v:.{TICK_DIGITS}g}") for v in values]
    pairs = list(zip(values, labels, strict=True))
    x_ticks = [(first + (v + extent) / (2 * extent) * span, s) for v, s in pairs]
    y_ticks = [(first + (extent - v) / (2 * extent) * span, s) for v, s in pairs]
    frame = _Frame(AXIS_MARGIN_LEFT, AXIS_MARGIN_TOP, cells.width, cells.height)
    _draw_axes(canvas, frame, x_ticks, y_ticks, BLACK)
    return canvas


# --------------------------------------------------------------------------------------------
# The latent scatter plot
# --------------------------------------------------------------------------------------------


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


def scatter_size() -> tuple[int, int]:
    """(width, height) of every :func:`scatter_plot`."""
    return (
        AXIS_MARGIN_LEFT + PLOT_SIZE + LEGEND_WIDTH,
        TITLE_BAND + PLOT_SIZE + AXIS_MARGIN_BOTTOM,
    )


def scatter_plot(points: np.ndarray, labels: np.ndarray, title: str) -> Image.Image:
    """Codes (N, 2) as points coloured by their digit ``labels`` (N,) in 0..9, with axes, tick
    labels, axis names, a legend (digit → colour) and ``title``, on white."""
    points = np.asarray(points, dtype=np.float64)
    labels = np.asarray(labels)
    if points.ndim != 2 or points.shape[1:] != PLANE or len(points) == 0:
        raise InputError(f"need a non-empty (N, 2) array of codes, got shape {points.shape}")
    if labels.shape != (len(points),) or labels.min() < 0 or labels.max() >= len(LABEL_COLOURS):
        raise InputError(f"need one label in 0..{len(LABEL_COLOURS) - 1} per point")
    if not np.isfinite(points).all():
        raise InputError("codes contain NaN or infinite values")
    canvas = Image.new("RGB", scatter_size(), PAPER_RGB)
    draw = ImageDraw.Draw(canvas)
    frame = _Frame(AXIS_MARGIN_LEFT, TITLE_BAND, PLOT_SIZE, PLOT_SIZE)
    x_ticks = nice_ticks(float(points[:, 0].min()), float(points[:, 0].max()))
    y_ticks = nice_ticks(float(points[:, 1].min()), float(points[:, 1].max()))
    (x0, x1), (y0, y1) = (x_ticks[0], x_ticks[-1]), (y_ticks[0], y_ticks[-1])

    def to_x(value: np.ndarray | float) -> np.ndarray | float:
        return (value - x0) / (x1 - x0) * (PLOT_SIZE - 1)

    def to_y(value: np.ndarray | float) -> np.ndarray | float:
        return (y1 - value) / (y1 - y0) * (PLOT_SIZE - 1)

    xs = frame.left + to_x(points[:, 0])
    ys = frame.top + to_y(points[:, 1])
    order = np.random.default_rng(DRAW_ORDER_SEED).permutation(len(points))
    for index in order:
        x, y = float(xs[index]), float(ys[index])
        box = (x - POINT_RADIUS, y - POINT_RADIUS, x + POINT_RADIUS, y + POINT_RADIUS)
        draw.ellipse(box, fill=LABEL_COLOURS[int(labels[index])])
    _draw_axes(
        canvas,
        frame,
        [(float(to_x(v)), s) for v, s in zip(x_ticks, _tick_labels(x_ticks), strict=True)],
        [(float(to_y(v)), s) for v, s in zip(y_ticks, _tick_labels(y_ticks), strict=True)],
        INK_RGB,
    )
    _draw_text(draw, (frame.left + PLOT_SIZE / 2, TITLE_BAND / 2), title, INK_RGB)
    legend_x = frame.left + PLOT_SIZE + LEGEND_INSET
    _draw_text(draw, (legend_x, frame.top), "digit", INK_RGB, ("left", "top"))
    for digit, colour in enumerate(LABEL_COLOURS):
        y = frame.top + (digit + 1) * LEGEND_ROW
        draw.rectangle((legend_x, y, legend_x + LEGEND_SWATCH - 1, y + LEGEND_SWATCH - 1), colour)
        centre = (legend_x + LEGEND_SWATCH + 2 * TEXT_GAP, y + LEGEND_SWATCH / 2)
        _draw_text(draw, centre, str(digit), INK_RGB, ("left", "centre"))
    return canvas


__all__ = [
    "DIGIT_SCALE",
    "LABEL_COLOURS",
    "TILE_PAD",
    "Samples",
    "digits_grid",
    "interpolate",
    "manifold",
    "manifold_latents",
    "manifold_size",
    "nice_ticks",
    "pair_sheet",
    "require_plane",
    "sample",
    "scatter_plot",
    "scatter_size",
    "sheet_size",
    "strip",
]
