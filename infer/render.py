"""Items as pictures: one tile per item, and grids, strips and sheets of tiles (Pillow only).

A tile is sized by the model, not by MNIST: an image item (C, H, W) becomes a grey or RGB
picture of its own size — enlarged by a whole factor for strips and sheets when it is small (a
28×28 digit ×4), shrunk to a thumbnail when it is large (free-size models); a signal item
(C, T) becomes a small line plot, one colour per channel. Values are mapped from the card's
range. Writing files is :mod:`aeinfer.jobs`'s business.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from aeinfer.card import IMAGE, DataSpec
from aeinfer.errors import InputError

TILE_TARGET = 112
"""Strips and sheets enlarge small image items by a whole factor to about this many pixels."""
THUMBNAIL = 256
"""Image items larger than this a side are shrunk to fit it in strips, sheets and grids."""
SIGNAL_TILE = (192, 96)
"""(width, height) of a signal's line plot."""
PLOT_INSET = 4
PAD = 2
"""Pixels between neighbouring tiles and around a grid."""
SHEET_PAIRS_PER_ROW = 4
PAIR_GAP = 10
LABEL_BAND = 20
SHEET_LABELS = ("original", "reconstructed")
FONT_SIZE = 12
BLACK = (0, 0, 0)
WHITE = (255, 255, 255)
GRID_BACKGROUND = BLACK
PALETTE: tuple[tuple[int, int, int], ...] = (
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
    (174, 199, 232), (255, 187, 120), (152, 223, 138), (255, 152, 150), (197, 176, 213),
    (196, 156, 148), (247, 182, 210), (199, 199, 199), (219, 219, 141), (158, 218, 229),
)  # fmt: skip
"""The tab10 colours, then their light tab20 partners."""
ZERO_LINE = (210, 210, 210)


@functools.lru_cache(maxsize=1)
def font() -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """Pillow's built-in font at FONT_SIZE (FreeType when Pillow has it, else its bitmap)."""
    try:
        return ImageFont.load_default(size=FONT_SIZE)
    except (ImportError, OSError):  # pragma: no cover - Pillow built without FreeType
        return ImageFont.load_default()


def text_size(text: str) -> tuple[int, int]:
    left, top, right, bottom = ImageDraw.Draw(Image.new("L", (1, 1))).textbbox(
        (0, 0), text, font=font()
    )
    return right - left, bottom - top


def draw_text(
    draw: ImageDraw.ImageDraw,
    xy: tuple[float, float],
    text: str,
    fill: int | tuple[int, int, int],
    align: tuple[str, str] = ("centre", "centre"),
) -> None:
    """Draw ``text`` placed by its ink box: left/centre/right of x, top/centre of y."""
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font())
    width, height = right - left, bottom - top
    x, y = xy
    x -= {"left": 0.0, "centre": width / 2, "right": float(width)}[align[0]]
    y -= {"top": 0.0, "centre": height / 2}[align[1]]
    draw.text((round(x - left), round(y - top)), text, fill=fill, font=font())


# --- tiles ----------------------------------------------------------------------------------------


def _unit(item: np.ndarray, data: DataSpec) -> np.ndarray:
    low, high = data.range or (float(item.min()), float(item.max()))
    span = (high - low) or 1.0
    return np.clip((np.nan_to_num(item.astype(np.float32)) - low) / span, 0.0, 1.0)


def enlargement(data: DataSpec) -> int:
    """The whole factor strips and sheets enlarge a fixed-size image item by (1 if free)."""
    if data.modality != IMAGE or data.free_axes:
        return 1
    side = max(int(s or 1) for s in data.shape[1:])
    return max(1, round(TILE_TARGET / side))


def image_tile(item: np.ndarray, data: DataSpec, scale: int = 1, fit: bool = True) -> Image.Image:
    """An image item (C, H, W) as a grey ("L") or RGB picture, enlarged ``scale`` times
    (nearest neighbour) and, with ``fit``, shrunk to fit :data:`THUMBNAIL` if larger."""
    pixels = (_unit(item, data).transpose(1, 2, 0) * 255.0 + 0.5).astype(np.uint8)
    picture = Image.fromarray(pixels[..., 0] if pixels.shape[2] == 1 else pixels)
    if scale > 1:
        picture = picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
    if fit and max(picture.size) > THUMBNAIL:
        picture.thumbnail((THUMBNAIL, THUMBNAIL), Image.Resampling.LANCZOS)
    return picture


def signal_tile(
    item: np.ndarray, data: DataSpec, size: tuple[int, int] = SIGNAL_TILE
) -> Image.Image:
    """A signal item (C, T) as a line plot on white: one colour per channel, the data's range
    (or the item's own, for unbounded data) from bottom to top, and a faint line at zero."""
    width, height = size
    canvas = Image.new("RGB", size, WHITE)
    draw = ImageDraw.Draw(canvas)
    values = np.nan_to_num(np.asarray(item, dtype=np.float64))
    low, high = data.range or (float(values.min()), float(values.max()))
    if high <= low:
        low, high = low - 1.0, high + 1.0
    inner_w, inner_h = width - 2 * PLOT_INSET, height - 2 * PLOT_INSET

    def y_of(v: np.ndarray | float) -> np.ndarray | float:
        return PLOT_INSET + (high - np.clip(v, low, high)) / (high - low) * inner_h

    if low < 0 < high:
        zero = float(y_of(0.0))
        draw.line((PLOT_INSET, zero, width - PLOT_INSET, zero), fill=ZERO_LINE)
    steps = values.shape[1]
    xs = PLOT_INSET + np.arange(steps) * (inner_w / max(steps - 1, 1))
    for channel, row in enumerate(values):
        points = list(zip(xs.tolist(), np.asarray(y_of(row)).tolist(), strict=True))
        draw.line(points, fill=PALETTE[channel % len(PALETTE)], width=1)
    draw.rectangle((0, 0, width - 1, height - 1), outline=ZERO_LINE)
    return canvas


def tiles(items: np.ndarray, data: DataSpec, scale: int = 1, fit: bool = True) -> list[Image.Image]:
    """One tile per item of a batch (N, *item); ``fit``: large images shrunk to thumbnails."""
    if data.modality == IMAGE:
        return [image_tile(item, data, scale, fit) for item in items]
    return [signal_tile(item, data) for item in items]


# --- grids, strips, sheets ------------------------------------------------------------------------


def grid(
    pictures: Sequence[Image.Image],
    columns: int | None = None,
    pad: int = PAD,
    background: tuple[int, int, int] = GRID_BACKGROUND,
) -> Image.Image:
    """Tiles in rows of ``columns`` (default ceil(sqrt(N))), ``pad`` pixels apart and around; a
    single tile without padding is itself."""
    if not pictures:
        raise InputError("nothing to draw: no items")
    if len(pictures) == 1 and columns in (None, 1) and pad == PAD:
        return pictures[0]
    cols = min(columns or math.ceil(math.sqrt(len(pictures))), len(pictures))
    rows = math.ceil(len(pictures) / cols)
    cell_w = max(p.width for p in pictures)
    cell_h = max(p.height for p in pictures)
    mode = "L" if all(p.mode == "L" for p in pictures) else "RGB"
    size = (cols * (cell_w + pad) + pad, rows * (cell_h + pad) + pad)
    canvas = Image.new(mode, size, background[0] if mode == "L" else background)
    for index, picture in enumerate(pictures):
        r, c = divmod(index, cols)
        canvas.paste(picture.convert(mode), (pad + c * (cell_w + pad), pad + r * (cell_h + pad)))
    return canvas


def strip(pictures: Sequence[Image.Image]) -> Image.Image:
    """Tiles in one row."""
    return grid(pictures, columns=len(pictures))


def pair_sheet(
    originals: Sequence[Image.Image],
    results: Sequence[Image.Image],
    labels: Sequence[str] = SHEET_LABELS,
) -> Image.Image:
    """Original | result pairs, :data:`SHEET_PAIRS_PER_ROW` pairs a row, with ``labels`` over
    the two columns of every pair."""
    if len(originals) != len(results) or not originals:
        raise InputError(
            f"need two equal non-empty lists of tiles, got {len(originals)} and {len(results)}"
        )
    tile_w = max(p.width for p in (*originals, *results))
    tile_h = max(p.height for p in (*originals, *results))
    count = len(originals)
    columns = min(count, SHEET_PAIRS_PER_ROW)
    rows = math.ceil(count / columns)
    pair_step = 2 * tile_w + PAD + PAIR_GAP
    width = 2 * PAD + columns * pair_step - PAIR_GAP
    height = LABEL_BAND + PAD + rows * (tile_h + PAD)
    sheet = Image.new("RGB", (width, height), WHITE)
    draw = ImageDraw.Draw(sheet)
    for column in range(columns):
        for side, label in enumerate(labels):
            x = PAD + column * pair_step + side * (tile_w + PAD) + tile_w / 2
            draw_text(draw, (x, LABEL_BAND / 2), label, BLACK)
    for index, (original, result) in enumerate(zip(originals, results, strict=True)):
        row, column = divmod(index, SHEET_PAIRS_PER_ROW)
        x = PAD + column * pair_step
        y = LABEL_BAND + PAD + row * (tile_h + PAD)
        sheet.paste(original, (x, y))
        sheet.paste(result, (x + tile_w + PAD, y))
    return sheet


__all__ = [
    "PALETTE",
    "draw_text",
    "enlargement",
    "font",
    "grid",
    "image_tile",
    "pair_sheet",
    "signal_tile",
    "strip",
    "text_size",
    "tiles",
]
