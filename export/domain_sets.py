"""Pictures for a digit model's domain check: single digits as users photograph them, and the
non-digits users also bring (photos, pages of several digits, blank and textured pages, text).

Everything is drawn from a seed, so a set is the same on every machine: MNIST digits (CC BY-SA
3.0, LeCun, Cortes & Burges) become pen strokes on paper — tinted, shaded by uneven light, with
paper grain, sensor noise, a little blur and rotation, JPEG-compressed like a phone's picture;
non-digits are built the same way from several digits, from no digit, from ruled or squared
paper, from printed words (Pillow's own font), and from natural photographs when a folder of
them is given (:mod:`aeinfer.train.photos`). The export calibrates the check on one seed's sets
(:mod:`aeinfer.export.domain`); ``scripts/domain.py`` measures it on others.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

INKS = ((20, 20, 25), (25, 35, 110), (15, 40, 80), (120, 20, 25), (40, 40, 40), (10, 60, 30))
PAPERS = ((245, 243, 236), (250, 250, 250), (238, 230, 205), (232, 236, 240), (252, 246, 220))
WORDS = (
    "the quick brown fox jumps over the lazy dog", "invoice total due", "meeting at noon",
    "aeinfer serves autoencoders", "page 12 of 40", "Dear Sir or Madam,", "ACME Corp. Ltd",
    "chapter three", "no parking", "fragile handle with care", "Hello world",
)  # fmt: skip
NON_DIGIT_KINDS = ("photo", "digits", "blank", "ruled", "text")


@dataclass(frozen=True)
class Sample:
    """One picture of a set: the encoded file, what it is, and (for digits) its MNIST label."""

    name: str
    kind: str
    data: bytes
    label: int | None = None


def _encode(image: Image.Image, rng: np.random.Generator) -> bytes:
    buffer = io.BytesIO()
    if rng.random() < 0.7:
        image.convert("RGB").save(buffer, "JPEG", quality=int(rng.integers(75, 95)))
    else:
        image.save(buffer, "PNG")
    return buffer.getvalue()


def paper(size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """(H, W, 3) float paper in [0, 1]: a tint, light falling off across it (a linear slope and
    a vignette), coarse grain, sensor noise."""
    width, height = size
    base = np.asarray(PAPERS[rng.integers(len(PAPERS))], np.float32) / 255.0
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    slope = (
        np.cos(angle) * (xs / width - 0.5) + np.sin(angle) * (ys / height - 0.5)
    ) * rng.uniform(0.0, 0.35)
    radius = ((xs / width - 0.5) ** 2 + (ys / height - 0.5) ** 2) * rng.uniform(0.0, 0.6)
    light = np.clip(1.0 - slope - radius, 0.35, 1.1)
    coarse = rng.normal(0, 1, (max(2, height // 16), max(2, width // 16))).astype(np.float32)
    grain = np.asarray(
        Image.fromarray(coarse, "F").resize((width, height), Image.Resampling.BICUBIC)
    )
    values = base * light[..., None] + 0.015 * grain[..., None]
    return values + rng.normal(0, rng.uniform(0.0, 0.03), values.shape).astype(np.float32)


def ink_mask(digit: np.ndarray, side: int, rng: np.random.Generator, thin: bool) -> np.ndarray:
    """An MNIST digit (28×28 uint8) as a pen stroke ``side`` pixels across: upscaled, cut at
    a level (thin pens cut higher), edges softened; float mask in [0, 1]."""
    up = Image.fromarray(digit).resize((side, side), Image.Resampling.BICUBIC)
    values = np.asarray(up, np.float32) / 255.0
    level = rng.uniform(0.55, 0.75) if thin else rng.uniform(0.25, 0.45)
    soft = max(0.02, 1.5 / side * 28 * 0.05)
    return np.clip((values - level) / soft + 0.5, 0.0, 1.0)


def _place(
    canvas: np.ndarray, mask: np.ndarray, ink: np.ndarray, x: int, y: int, strength: float
) -> None:
    h, w = mask.shape
    region = canvas[y : y + h, x : x + w]
    alpha = (mask * strength)[..., None]
    region[:] = region * (1 - alpha) + ink * alpha


def _finish(values: np.ndarray, rng: np.random.Generator, rotate: bool = True) -> Image.Image:
    """The page as a camera sees it: turned a little (the sheet is larger than the frame, so
    no corner is empty), blurred a little."""
    image = Image.fromarray((np.clip(values, 0, 1) * 255 + 0.5).astype(np.uint8))
    if rotate:
        w, h = image.size
        margin = int(0.1 * max(w, h)) + 2
        sheet = Image.fromarray(
            np.pad(np.asarray(image), ((margin, margin), (margin, margin), (0, 0)), mode="reflect")
        )
        turned = sheet.rotate(float(rng.uniform(-8, 8)), Image.Resampling.BICUBIC)
        image = turned.crop((margin, margin, margin + w, margin + h))
    blur = rng.uniform(0.0, 1.2)
    return image.filter(ImageFilter.GaussianBlur(blur)) if blur > 0.3 else image


def _ink(rng: np.random.Generator) -> np.ndarray:
    return np.asarray(INKS[rng.integers(len(INKS))], np.float32) / 255.0


def digit_photo(digit: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """One handwritten digit on a sheet of paper, photographed."""
    width = int(rng.integers(160, 900))
    height = int(width * rng.uniform(0.75, 1.35))
    side = int(min(width, height) * rng.uniform(0.35, 0.75))
    canvas = paper((width, height), rng)
    mask = ink_mask(digit, side, rng, thin=rng.random() < 0.3)
    x = int(rng.integers(0, width - side + 1))
    y = int(rng.integers(0, height - side + 1))
    _place(canvas, mask, _ink(rng), x, y, rng.uniform(0.8, 1.0))
    return _finish(canvas, rng)


def digits_page(digits: list[np.ndarray], rng: np.random.Generator) -> Image.Image:
    """Several digits written in a row (a year, a number), photographed."""
    side = int(rng.integers(40, 160))
    gap = int(side * rng.uniform(0.0, 0.3))
    width = len(digits) * (side + gap) + int(side * rng.uniform(0.2, 1.5))
    height = int(side * rng.uniform(1.3, 2.5))
    canvas = paper((width, height), rng)
    ink = _ink(rng)
    y = int(rng.integers(0, height - side + 1))
    x = int(rng.integers(0, width - len(digits) * (side + gap) + gap + 1))
    for digit in digits:
        _place(canvas, ink_mask(digit, side, rng, thin=False), ink, x, y, 0.95)
        x += side + gap
    return _finish(canvas, rng)


def blank_page(rng: np.random.Generator) -> Image.Image:
    """Paper with nothing on it (or a plain grey or coloured field)."""
    width = int(rng.integers(64, 800))
    height = int(width * rng.uniform(0.6, 1.5))
    if rng.random() < 0.3:
        colour = rng.uniform(0.1, 0.95, 3).astype(np.float32)
        values = np.broadcast_to(colour, (height, width, 3)).copy()
        values += rng.normal(0, rng.uniform(0, 0.05), values.shape).astype(np.float32)
        return _finish(values, rng, rotate=False)
    return _finish(paper((width, height), rng), rng)


def ruled_page(rng: np.random.Generator) -> Image.Image:
    """Ruled or squared paper, empty."""
    width = int(rng.integers(150, 800))
    height = int(width * rng.uniform(0.7, 1.4))
    canvas = paper((width, height), rng)
    image = Image.fromarray((np.clip(canvas, 0, 1) * 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    step = int(rng.integers(12, 40))
    line = tuple(int(v) for v in rng.integers(100, 200, 3))
    for y in range(step, height, step):
        draw.line((0, y, width, y), fill=line, width=1)
    if rng.random() < 0.5:
        for x in range(step, width, step):
            draw.line((x, 0, x, height), fill=line, width=1)
    return _finish(np.asarray(image, np.float32) / 255.0, rng)


def text_page(rng: np.random.Generator) -> Image.Image:
    """Printed words, one or several lines."""
    size = int(rng.integers(12, 48))
    font = ImageFont.load_default(size=size)
    lines = [WORDS[i] for i in rng.integers(len(WORDS), size=int(rng.integers(1, 6)))]
    width = int(max(font.getlength(t) for t in lines) + rng.integers(20, 120))
    height = int(len(lines) * size * 1.4 + rng.integers(20, 120))
    canvas = paper((width, height), rng)
    image = Image.fromarray((np.clip(canvas, 0, 1) * 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    ink = tuple(int(v * 255) for v in _ink(rng))
    for row, text in enumerate(lines):
        draw.text((10, 10 + row * size * 1.4), text, fill=ink, font=font)
    return _finish(np.asarray(image, np.float32) / 255.0, rng)


def photo_crop(photo: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """A natural photograph, cropped and scaled as users send them."""
    h, w = photo.shape[:2]
    ch = int(rng.integers(min(h, 64), h + 1))
    cw = int(rng.integers(min(w, 64), w + 1))
    y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    image = Image.fromarray((photo[y : y + ch, x : x + cw] * 255 + 0.5).astype(np.uint8))
    if rng.random() < 0.3:
        image = image.convert("L")
    scale = rng.uniform(0.3, 1.0)
    return image.resize((max(16, int(cw * scale)), max(16, int(ch * scale))), Image.Resampling.BOX)


def digit_photos(digits: np.ndarray, labels: np.ndarray, count: int, seed: int) -> Iterator[Sample]:
    rng = np.random.default_rng([seed, 1])
    for i, index in enumerate(rng.choice(len(digits), size=count, replace=False)):
        image = digit_photo(digits[index], rng)
        yield Sample(f"digit-photo-{i:03d}", "digit photo", _encode(image, rng), int(labels[index]))


def non_digits(
    digits: np.ndarray, photos: list[np.ndarray], count: int, seed: int
) -> Iterator[Sample]:
    """``count`` non-digits, the kinds in turn (photos only if some are given)."""
    rng = np.random.default_rng([seed, 2])
    kinds = [k for k in NON_DIGIT_KINDS if photos or k != "photo"]
    for i in range(count):
        kind = kinds[i % len(kinds)]
        if kind == "photo":
            image = photo_crop(photos[int(rng.integers(len(photos)))], rng)
        elif kind == "digits":
            picks = rng.choice(len(digits), size=int(rng.integers(2, 7)), replace=False)
            image = digits_page([digits[p] for p in picks], rng)
        elif kind == "blank":
            image = blank_page(rng)
        elif kind == "ruled":
            image = ruled_page(rng)
        else:
            image = text_page(rng)
        yield Sample(f"{kind}-{i:03d}", kind, _encode(image, rng))


__all__ = ["NON_DIGIT_KINDS", "Sample", "digit_photo", "digit_photos", "non_digits", "paper"]
