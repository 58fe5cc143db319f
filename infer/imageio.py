"""Reading images into MNIST-style digits, mapping results back, and writing files atomically.

:func:`load_image` accepts a path, raw bytes (e.g. from stdin), a Pillow image or a 2-D array, in
any Pillow mode (RGB, RGBA, LA, P with transparency, 1, L, I;16, I, F, CMYK, ...). It turns the
image into a 28×28 float32 digit the way MNIST was made (LeCun et al.): white ink on black, the
ink's bounding box size-normalised to 20×20 keeping its aspect ratio, then centred by centre of
mass in a 28×28 field. Everything needed to undo that fitting is kept in the returned
:class:`LoadedImage`, so :func:`restore` can map a 28×28 result (a denoised digit, a
reconstruction) back onto an image of the original size, polarity and mode family.

Output files are written atomically (temporary file in the same directory, ``fsync``,
``os.replace``) and never over one of the inputs. :func:`expand_inputs` turns files and folders
into a deterministic list of image files with their relative paths.

Only numpy, Pillow and the standard library are used. Errors are :class:`InputError` and
:class:`OutputError` with one-line messages that start with the offending path.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import re
import struct
import tempfile
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
from PIL import Image, ImageFilter, ImageOps, UnidentifiedImageError, features

from aeinfer.errors import InputError, OutputError

__all__ = [
    "IMAGE_SUFFIXES",
    "OUTPUT_FORMATS",
    "LoadedImage",
    "expand_inputs",
    "grid",
    "image_bytes",
    "load_image",
    "original_image",
    "restore",
    "save_npy_atomic",
    "to_pil",
    "write_bytes_atomic",
    "write_image_atomic",
]

IMAGE_SUFFIXES: frozenset[str] = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm", ".pnm"}
)
"""Lowercase suffixes treated as images when walking folders."""

OUTPUT_STEMS_SKIPPED: tuple[str, ...] = (".denoised", ".reconstructed")
"""Stem endings of files this tool wrote earlier; skipped when walking folders."""

DIGIT_SIZE = 28
"""Side of the MNIST frame."""

FIT_SIZE = 20
"""Side of the box the ink's bounding box is size-normalised to (as in MNIST)."""

INK_THRESHOLD = 0.2
"""A pixel is ink when it exceeds the background level by more than this (MNIST polarity)."""

INK_FRACTION = 0.3
"""...and by more than this fraction of the strongest ink's contrast."""

INK_GRID = 64
"""Ink is located on a copy at most this many pixels a side (averaging suppresses noise)."""

SHARPEN_PER_SCALE = 2.0
SHARPEN_MAX_GAIN = 12.0
"""Upscaling a 20×20 result by s blurs its edges over ~s pixels; a sigmoid of gain
min(SHARPEN_PER_SCALE·s, SHARPEN_MAX_GAIN) around mid-grey restores edges ~2 px wide."""

_BYTES_LABEL = "<stdin>"
_PIL_LABEL = "<image>"
_ARRAY_LABEL = "<array>"
_RESULT_LABEL = "<result>"

# ITU-R 601-2 luma, the weights Pillow's own "L" conversion uses.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)

_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})

# Suffix -> Pillow format name for writing.
_SUFFIX_FORMATS: dict[str, str] = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".bmp": "BMP",
    ".gif": "GIF",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".webp": "WEBP",
    ".pgm": "PPM",
    ".ppm": "PPM",
    ".pnm": "PPM",
}

# Modes each format can store as they are; anything else is converted before saving.
_FORMAT_MODES: dict[str, frozenset[str]] = {
    "PNG": frozenset({"1", "L", "LA", "P", "RGB", "RGBA", "I;16"}),
    "JPEG": frozenset({"L", "RGB", "CMYK"}),
    "BMP": frozenset({"1", "L", "P", "RGB", "RGBA"}),
    "GIF": frozenset({"1", "L", "P", "RGB", "RGBA"}),
    "TIFF": frozenset({"1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "I;16", "I", "F"}),
    "WEBP": frozenset({"L", "LA", "RGB", "RGBA"}),
    "PPM": frozenset({"1", "L", "RGB", "I;16"}),
}

_SAVE_OPTIONS: dict[str, dict[str, object]] = {
    "JPEG": {"quality": 95},
    "WEBP": {"lossless": True},
}


def _writable_formats() -> dict[str, str]:
    formats = dict(_SUFFIX_FORMATS)
    if not features.check("webp"):
        del formats[".webp"]
    return formats


OUTPUT_FORMATS: dict[str, str] = _writable_formats()
"""Suffixes :func:`write_image_atomic` accepts, mapped to Pillow format names."""


@dataclass(frozen=True, eq=False)
class LoadedImage:
    """An input image fitted into the MNIST frame, plus what is needed to map results back.

    All grey levels are floats in [0, 1] in MNIST polarity (ink bright, background dark); when
    the original was dark ink on light paper, ``inverted`` is True and ``gray`` is already
    inverted.
    """

    path: Path | None
    """The file the image came from; None for bytes, Pillow images and arrays."""
    digit: np.ndarray
    """(28, 28) float32 in [0, 1], white ink on black, fitted and centred like MNIST."""
    size: tuple[int, int]
    """(width, height) of the original, after EXIF orientation."""
    mode: str
    """The original Pillow mode ("L" for uint8 arrays, "F" for float arrays)."""
    inverted: bool
    """True when the original was dark ink on light paper."""
    box: tuple[int, int, int, int]
    """(left, top, right, bottom) square in original pixels scaled into the 20×20 fit box; may
    extend beyond the image (padded with the background level)."""
    gray: np.ndarray
    """(H, W) float32 in [0, 1]: the original as grey levels, in MNIST polarity."""
    offset: tuple[int, int]
    """(x, y) where the 20×20 fit box was pasted into the 28×28 frame."""
    background: float
    """Background level (median of the border ring of ``gray``), MNIST polarity."""
    levels: tuple[float, float]
    """(black, white): grey levels of ``gray`` that were stretched to 0 and 1 in ``digit``."""
    fitted: bool
    """False for 28×28 originals, which are used as they are (only polarity is handled)."""
    output_mode: str
    """The Pillow mode :func:`restore` returns: "L", "I;16", "LA", "RGB" or "RGBA"."""
    notes: tuple[str, ...] = ()
    """Things worth telling the user, e.g. "animated image: first frame used"."""


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    line = text.splitlines()[0].strip() if text else ""
    return line or type(exc).__name__


def _bomb_message(label: str, exc: BaseException) -> str:
    match = re.search(r"\((\d+) pixels\)", str(exc))
    pixels = f", {match.group(1)} pixels" if match else ""
    return f"{label}: image too large (decompression bomb guard{pixels})"


_LOAD_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    struct.error,
)


def _open_bytes(data: bytes, label: str) -> tuple[Image.Image, list[str]]:
    """Decode ``data`` fully (first frame only), guarding against decompression bombs."""
    if not data:
        raise InputError(f"{label}: empty file")
    notes: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise InputError(_bomb_message(label, exc)) from exc
        except UnidentifiedImageError as exc:
            raise InputError(f"{label}: not an image file (cannot identify format)") from exc
        except _LOAD_ERRORS as exc:
            raise InputError(f"{label}: truncated or corrupt image ({_first_line(exc)})") from exc
        try:
            frames = int(getattr(image, "n_frames", 1) or 1)
            if frames > 1:
                image.seek(0)
                notes.append(f"animated image ({frames} frames): first frame used")
            image.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise InputError(_bomb_message(label, exc)) from exc
        except _LOAD_ERRORS as exc:
            raise InputError(f"{label}: truncated or corrupt image ({_first_line(exc)})") from exc
    return image, notes


def _apply_exif(image: Image.Image, notes: list[str]) -> Image.Image:
    try:
        orientation = int(image.getexif().get(0x0112, 1) or 1)
    except (*_LOAD_ERRORS, TypeError):
        return image
    if orientation == 1:
        return image
    try:
        transposed = ImageOps.exif_transpose(image)
    except (*_LOAD_ERRORS, TypeError, KeyError):
        notes.append("EXIF orientation unreadable: ignored")
        return image
    if transposed is None:  # pragma: no cover - only with in_place=True
        return image
    if 2 <= orientation <= 8:
        notes.append(f"EXIF orientation applied (tag {orientation})")
    return transposed


def _composite_white(gray: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Alpha-composite grey levels (light polarity, as stored) over white paper."""
    return gray * alpha + (1.0 - alpha)


def _rgb_to_gray(rgb: np.ndarray) -> np.ndarray:
    return np.asarray(rgb[..., :3] @ _LUMA, dtype=np.float32)


def _scale_int(values: np.ndarray) -> tuple[np.ndarray, bool]:
    """Scale a 32-bit integer image to [0, 1] by its real range; True when it is 16-bit data."""
    lo, hi = (int(values.min()), int(values.max())) if values.size else (0, 0)
    if lo >= 0 and hi <= 255:
        return values.astype(np.float32) / 255.0, False
    if lo >= 0 and hi <= 65535:
        return values.astype(np.float32) / 65535.0, True
    span = float(hi - lo) or 1.0
    return ((values.astype(np.float64) - lo) / span).astype(np.float32), False


def _scale_float(values: np.ndarray, label: str) -> np.ndarray:
    if not np.all(np.isfinite(values)):
        raise InputError(f"{label}: image contains NaN or infinite values")
    lo, hi = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
    if lo >= 0.0 and hi <= 1.0:
        return values.astype(np.float32)
    if lo >= 0.0 and hi <= 255.0:
        return (values / 255.0).astype(np.float32)
    span = (hi - lo) or 1.0
    return ((values.astype(np.float64) - lo) / span).astype(np.float32)


def _pil_to_gray(image: Image.Image, label: str) -> tuple[np.ndarray, str]:
    """Grey levels in [0, 1] (as stored, not inverted) and the mode :func:`restore` returns."""
    mode = image.mode
    if mode in _SIXTEEN_BIT_MODES:
        return np.asarray(image).astype(np.float32) / 65535.0, "I;16"
    if mode == "I":
        values, sixteen = _scale_int(np.asarray(image))
        return values, "I;16" if sixteen else "L"
    if mode == "F":
        return _scale_float(np.asarray(image, dtype=np.float32), label), "L"
    if mode in ("1", "L"):
        return np.asarray(image.convert("L"), dtype=np.float32) / 255.0, "L"
    if mode in ("LA", "La"):
        la = np.asarray(image.convert("LA"), dtype=np.float32) / 255.0
        return _composite_white(la[..., 0], la[..., 1]), "LA"
    if mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in image.info
        rgba = np.asarray(image.convert("RGBA" if has_alpha else "RGB"), dtype=np.float32)
        rgba /= 255.0
        visible = rgba[..., 3] > 0 if has_alpha else np.ones(rgba.shape[:2], dtype=bool)
        rgb = rgba[..., :3][visible]
        colour = bool(np.any(rgb[:, 0] != rgb[:, 1]) or np.any(rgb[:, 1] != rgb[:, 2]))
        gray = _rgb_to_gray(rgba)
        if has_alpha:
            gray = _composite_white(gray, rgba[..., 3])
        if colour:
            return gray, "RGBA" if has_alpha else "RGB"
        return gray, "LA" if has_alpha else "L"
    if mode in ("RGBA", "RGBa"):
        rgba = np.asarray(image.convert("RGBA"), dtype=np.float32) / 255.0
        return _composite_white(_rgb_to_gray(rgba), rgba[..., 3]), "RGBA"
    try:
        rgb = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    except (ValueError, OSError) as exc:
        raise InputError(f"{label}: unsupported image mode {mode!r}") from exc
    return _rgb_to_gray(rgb), "RGB"


def _median(values: np.ndarray) -> float:
    """``np.median`` of a 1-D array, computed as numpy does it (partition, then the mean of the
    middle two), without np.median's import of ``numpy.ma`` (~15 ms of every command's start)."""
    half = values.size // 2
    if values.size % 2:
        return float(np.partition(values, half)[half])
    return float(np.mean(np.partition(values, (half - 1, half))[half - 1 : half + 1]))


def _border_ring(gray: np.ndarray) -> np.ndarray:
    """The outermost ~1/16 of each side (at least one pixel), flattened."""
    h, w = gray.shape
    bh, bw = max(1, h // 16), max(1, w // 16)
    parts = [gray[:bh, :].ravel(), gray[h - bh :, :].ravel()]
    if h > 2 * bh:
        parts += [gray[bh : h - bh, :bw].ravel(), gray[bh : h - bh, w - bw :].ravel()]
    return np.concatenate(parts)


def _ink_bbox(gray: np.ndarray, background: float) -> tuple[int, int, int, int] | None:
    """Bounding box (left, top, right, bottom; exclusive) of the ink, or None if there is none.

    The ink is located on a copy shrunk (by area averaging) to at most INK_GRID pixels a side:
    averaging suppresses pixel noise that would otherwise be taken for ink all over a large
    noisy photo. A pixel is ink when it stands out from the background by INK_THRESHOLD and by
    INK_FRACTION of the strongest ink, so a faint noise floor does not inflate the box.
    """
    h, w = gray.shape
    factor = max(1.0, max(h, w) / INK_GRID)
    small_size = (max(1, round(w / factor)), max(1, round(h / factor)))
    small = gray if factor == 1.0 else _resize_float(gray, small_size)
    excess = small - background
    peak = float(excess.max())
    if peak <= INK_THRESHOLD:
        return None
    mask = excess > max(INK_THRESHOLD, INK_FRACTION * peak)
    if min(mask.shape) >= 3:
        # A 3×3 median removes isolated noise specks that would inflate the box; thin strokes it
        # would erase entirely are kept by falling back to the raw mask.
        mask_img = Image.fromarray(mask.astype(np.uint8) * 255)
        cleaned = np.asarray(mask_img.filter(ImageFilter.MedianFilter(3))) > 127
        if cleaned.any():
            mask = cleaned
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    sx, sy = w / mask.shape[1], h / mask.shape[0]
    return (
        math.floor(cols[0] * sx),
        math.floor(rows[0] * sy),
        min(w, math.ceil((cols[-1] + 1) * sx)),
        min(h, math.ceil((rows[-1] + 1) * sy)),
    )


def _square_box(bbox: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
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


def _resize_float(values: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a float array to (width, height): area averaging down, bicubic up."""
    h, w = values.shape
    if (w, h) == size:
        return values.astype(np.float32, copy=True)
    shrinking = size[0] <= w and size[1] <= h
    resample = Image.Resampling.BOX if shrinking else Image.Resampling.BICUBIC
    image = Image.fromarray(np.ascontiguousarray(values, dtype=np.float32))
    return np.asarray(image.resize(size, resample), dtype=np.float32).copy()


def _centre_offset(fit: np.ndarray) -> tuple[int, int]:
    """Paste offset putting the centre of mass of ``fit`` at pixel (14, 14) of the frame."""
    margin = DIGIT_SIZE - FIT_SIZE
    total = float(fit.sum())
    if total <= 0.0:
        return margin // 2, margin // 2
    ys, xs = np.indices(fit.shape)
    cy, cx = float((ys * fit).sum()) / total, float((xs * fit).sum()) / total
    ox = min(max(round(DIGIT_SIZE / 2 - cx), 0), margin)
    oy = min(max(round(DIGIT_SIZE / 2 - cy), 0), margin)
    return int(ox), int(oy)


def _fit(
    gray: np.ndarray,
    path: Path | None,
    mode: str,
    output_mode: str,
    notes: list[str],
) -> LoadedImage:
    """Handle polarity and fit ``gray`` (as stored, [0, 1]) into the MNIST frame."""
    gray = np.clip(np.asarray(gray, dtype=np.float32), 0.0, 1.0)
    h, w = gray.shape
    inverted = bool(_border_ring(gray).mean() > 0.5)
    if inverted:
        gray = 1.0 - gray
    background = _median(_border_ring(gray))

    if (w, h) == (DIGIT_SIZE, DIGIT_SIZE):
        return LoadedImage(
            path=path,
            digit=gray.copy(),
            size=(w, h),
            mode=mode,
            inverted=inverted,
            box=(0, 0, DIGIT_SIZE, DIGIT_SIZE),
            gray=gray,
            offset=(0, 0),
            background=background,
            levels=(0.0, 1.0),
            fitted=False,
            output_mode=output_mode,
            notes=tuple(notes),
        )

    bbox = _ink_bbox(gray, background)
    if bbox is None:
        notes.append("no ink found: whole image used")
        bbox = (0, 0, w, h)
    box = _square_box(bbox)
    fit = _resize_float(_crop_padded(gray, box, background), (FIT_SIZE, FIT_SIZE))
    black, white = background, float(fit.max())
    if white - black < INK_THRESHOLD:
        black, white = 0.0, 1.0
    fit = np.clip((fit - black) / (white - black), 0.0, 1.0)
    ox, oy = _centre_offset(fit)
    digit = np.zeros((DIGIT_SIZE, DIGIT_SIZE), dtype=np.float32)
    digit[oy : oy + FIT_SIZE, ox : ox + FIT_SIZE] = fit
    return LoadedImage(
        path=path,
        digit=digit,
        size=(w, h),
        mode=mode,
        inverted=inverted,
        box=box,
        gray=gray,
        offset=(ox, oy),
        background=background,
        levels=(black, white),
        fitted=True,
        output_mode=output_mode,
        notes=tuple(notes),
    )


def _check_size(label: str, width: int, height: int) -> None:
    if width < 2 or height < 2:
        raise InputError(f"{label}: image too small ({width}×{height})")


def _load_pil(image: Image.Image, label: str, path: Path | None, notes: list[str]) -> LoadedImage:
    image = _apply_exif(image, notes)
    _check_size(label, *image.size)
    gray, output_mode = _pil_to_gray(image, label)
    return _fit(gray, path, image.mode, output_mode, notes)


def _load_array(array: np.ndarray) -> LoadedImage:
    label = _ARRAY_LABEL
    if array.ndim != 2:
        raise InputError(f"{label}: expected a 2-D (H, W) array, got shape {array.shape}")
    _check_size(label, array.shape[1], array.shape[0])
    if array.dtype == np.uint8:
        return _fit(array.astype(np.float32) / 255.0, None, "L", "L", [])
    if array.dtype == np.bool_:
        return _fit(array.astype(np.float32), None, "L", "L", [])
    if not np.issubdtype(array.dtype, np.floating):
        raise InputError(f"{label}: unsupported dtype {array.dtype} (expected uint8 or float)")
    if not np.all(np.isfinite(array)):
        raise InputError(f"{label}: array contains NaN or infinite values")
    if float(array.min()) < 0.0 or float(array.max()) > 1.0:
        raise InputError(f"{label}: array values outside [0, 1]")
    return _fit(array.astype(np.float32), None, "F", "L", [])


def load_image(source: Path | str | bytes | Image.Image | np.ndarray) -> LoadedImage:
    """Load an image and fit it into the 28×28 MNIST frame.

    ``source`` is a file path, the bytes of an image file (reported as ``<stdin>``), a Pillow
    image or a 2-D array (uint8 0..255, or float in [0, 1]). Files are read into memory once and
    never held open. Raises :class:`InputError` for anything that is not a usable image.
    """
    if isinstance(source, np.ndarray):
        return _load_array(source)
    if isinstance(source, Image.Image):
        try:
            source.load()
        except _LOAD_ERRORS as exc:
            message = f"{_PIL_LABEL}: truncated or corrupt image ({_first_line(exc)})"
            raise InputError(message) from exc
        return _load_pil(source, _PIL_LABEL, None, [])
    if isinstance(source, (bytes, bytearray, memoryview)):
        image, notes = _open_bytes(bytes(source), _BYTES_LABEL)
        return _load_pil(image, _BYTES_LABEL, None, notes)
    if not isinstance(source, (str, os.PathLike)):
        raise InputError(f"{source!r}: unsupported input type {type(source).__name__}")
    path = Path(source)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, expected an image file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or _first_line(exc)})") from exc
    image, notes = _open_bytes(data, str(path))
    return _load_pil(image, str(path), path, notes)


# --------------------------------------------------------------------------------------------
# Mapping results back
# --------------------------------------------------------------------------------------------


def _check_digit(digit28: np.ndarray) -> np.ndarray:
    values = np.asarray(digit28, dtype=np.float32)
    if values.shape != (DIGIT_SIZE, DIGIT_SIZE):
        raise InputError(f"{_RESULT_LABEL}: expected a (28, 28) array, got shape {values.shape}")
    if not np.all(np.isfinite(values)):
        raise InputError(f"{_RESULT_LABEL}: array contains NaN or infinite values")
    return np.clip(values, 0.0, 1.0)


def _to_uint8(values: np.ndarray) -> np.ndarray:
    return (np.clip(values, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def _gray_to_mode(gray: np.ndarray, mode: str) -> Image.Image:
    """Build an image of ``mode`` from grey levels in [0, 1] (alpha fully opaque)."""
    if mode == "I;16":
        values = (np.clip(gray, 0.0, 1.0) * 65535.0 + 0.5).astype(np.uint16)
        return Image.fromarray(values)
    levels = _to_uint8(gray)
    if mode == "L":
        return Image.fromarray(levels)
    opaque = np.full_like(levels, 255)
    if mode == "LA":
        return Image.fromarray(np.stack([levels, opaque], axis=-1))
    if mode == "RGBA":
        return Image.fromarray(np.stack([levels, levels, levels, opaque], axis=-1))
    return Image.fromarray(np.stack([levels, levels, levels], axis=-1))


def _sharpen(ink: np.ndarray, scale: float) -> np.ndarray:
    """Crisp edges for a result scaled up by ``scale``: normalise the ink to peak at 1 (the
    model's strokes rarely reach full white), then apply a normalised sigmoid contrast curve."""
    peak = float(ink.max())
    if peak > INK_THRESHOLD:
        ink = ink / peak
    gain = min(max(SHARPEN_PER_SCALE * scale, 1.0), SHARPEN_MAX_GAIN)
    low, high = (1.0 / (1.0 + math.exp(-(v - 0.5) * gain)) for v in (0.0, 1.0))
    curve = 1.0 / (1.0 + np.exp(-(ink - 0.5) * gain))
    return ((curve - low) / (high - low)).astype(np.float32)


def restore(loaded: LoadedImage, digit28: np.ndarray) -> Image.Image:
    """Map a 28×28 result (MNIST polarity, [0, 1]) back onto the original's size and polarity.

    The part of the frame that held the fitted box is scaled back up to the box and placed where
    the box was; everything outside the box is the original's background level. The result is
    inverted back when the original was dark on light, and has the mode family of the original
    (``loaded.output_mode``: "L", "I;16", "LA", "RGB" or "RGBA").
    """
    result = _check_digit(digit28)
    if not loaded.fitted:
        gray = result
    else:
        width, height = loaded.size
        left, top, right, _bottom = loaded.box
        ox, oy = loaded.offset
        black, white = loaded.levels
        # The whole 28×28 frame maps back, not only the 20×20 fit box: strokes the model draws
        # in the frame's margin land just outside the box instead of being cut at its edge.
        scale = (right - left) / FIT_SIZE
        left, top = left - round(ox * scale), top - round(oy * scale)
        side = round(DIGIT_SIZE * scale)
        ink = _sharpen(np.clip(_resize_float(result, (side, side)), 0.0, 1.0), scale)
        upscaled = black + ink * (white - black)
        gray = np.full((height, width), loaded.background, dtype=np.float32)
        x0, y0 = max(left, 0), max(top, 0)
        x1, y1 = min(left + side, width), min(top + side, height)
        if x1 > x0 and y1 > y0:
            gray[y0:y1, x0:x1] = upscaled[y0 - top : y1 - top, x0 - left : x1 - left]
    if loaded.inverted:
        gray = 1.0 - gray
    return _gray_to_mode(gray, loaded.output_mode)


def original_image(loaded: LoadedImage) -> Image.Image:
    """The original as :func:`restore` would write it: same size, polarity and mode family
    (alpha composited over white), so it can be shown beside a restored result."""
    gray = 1.0 - loaded.gray if loaded.inverted else loaded.gray
    return _gray_to_mode(gray, loaded.output_mode)


def to_pil(digits: np.ndarray) -> Image.Image:
    """A single 2-D float array in [0, 1] (normally 28×28) as an "L" image."""
    values = np.asarray(digits, dtype=np.float32)
    if values.ndim != 2:
        raise InputError(f"{_ARRAY_LABEL}: expected a 2-D array, got shape {values.shape}")
    return Image.fromarray(_to_uint8(np.nan_to_num(values)))


def grid(
    images: np.ndarray, columns: int | None = None, pad: int = 2, scale: int = 1
) -> Image.Image:
    """Tile (N, H, W) float arrays in [0, 1] into one "L" image with black padding.

    ``columns`` defaults to ceil(sqrt(N)); each tile is enlarged ``scale`` times (nearest
    neighbour); ``pad`` black pixels separate the tiles and surround the grid.
    """
    values = np.asarray(images, dtype=np.float32)
    if values.ndim == 2:
        values = values[None]
    if values.ndim != 3 or values.shape[0] == 0:
        raise InputError(
            f"{_ARRAY_LABEL}: expected a non-empty (N, H, W) array, got shape {values.shape}"
        )
    if columns is not None and columns < 1:
        raise ValueError(f"columns must be at least 1, got {columns}")
    if pad < 0:
        raise ValueError(f"pad must not be negative, got {pad}")
    if scale < 1:
        raise ValueError(f"scale must be at least 1, got {scale}")
    count, h, w = values.shape
    cols = columns if columns is not None else math.ceil(math.sqrt(count))
    cols = min(cols, count)
    rows = math.ceil(count / cols)
    th, tw = h * scale, w * scale
    canvas = np.zeros((rows * (th + pad) + pad, cols * (tw + pad) + pad), dtype=np.uint8)
    tiles = _to_uint8(np.nan_to_num(values))
    if scale > 1:
        tiles = tiles.repeat(scale, axis=1).repeat(scale, axis=2)
    for index, tile in enumerate(tiles):
        r, c = divmod(index, cols)
        y, x = pad + r * (th + pad), pad + c * (tw + pad)
        canvas[y : y + th, x : x + tw] = tile
    return Image.fromarray(canvas)


# --------------------------------------------------------------------------------------------
# Atomic writing
# --------------------------------------------------------------------------------------------


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _check_target(path: Path, inputs: Sequence[Path], overwrite: bool) -> None:
    for source in inputs:
        if _same_file(path, Path(source)):
            raise OutputError(
                f"{path}: output path is the same as an input; refusing to overwrite it"
            )
    if path.is_dir():
        raise OutputError(f"{path}: is a directory, expected a file name")
    if path.exists() and not overwrite:
        raise OutputError(f"{path}: exists (pass --overwrite)")
    parent = path.parent
    if not parent.is_dir():
        raise OutputError(f"{path}: cannot write (parent directory missing)")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{path}: cannot write (permission denied on {parent})")


def _file_mode(path: Path) -> int:
    """Permissions for the new file: the old file's, else 0o666 less the umask."""
    with contextlib.suppress(OSError):
        return path.stat().st_mode & 0o7777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _atomic_write(
    path: Path,
    writer: Callable[[IO[bytes]], None],
    inputs: Sequence[Path],
    overwrite: bool,
) -> None:
    path = Path(path)
    _check_target(path, inputs, overwrite)
    mode = _file_mode(path)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write ({exc.strerror or _first_line(exc)})") from exc
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            writer(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, Exception) and not isinstance(exc, OutputError):
            raise OutputError(f"{path}: cannot write ({_first_line(exc)})") from exc
        raise
    with contextlib.suppress(OSError):
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _unit_from_image(image: Image.Image) -> np.ndarray:
    """Grey levels in [0, 1] of a high-bit-depth image (I;16, I, F)."""
    if image.mode in _SIXTEEN_BIT_MODES:
        return np.asarray(image).astype(np.float32) / 65535.0
    if image.mode == "I":
        return _scale_int(np.asarray(image))[0]
    return np.clip(
        _scale_float(np.nan_to_num(np.asarray(image, dtype=np.float32)), "<image>"), 0, 1
    )


def _adapt_mode(image: Image.Image, allowed: frozenset[str]) -> Image.Image:
    """Convert ``image`` to a mode the target format can store, without losing range."""
    mode = image.mode
    if mode in allowed:
        return image
    if mode == "I" and "I;16" in allowed:
        values, sixteen = _scale_int(np.asarray(image))
        if sixteen:
            return _gray_to_mode(values, "I;16")
    if mode in _SIXTEEN_BIT_MODES or mode in ("I", "F"):
        return _gray_to_mode(_unit_from_image(image), "L")
    if mode in _ALPHA_MODES:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        flat = Image.alpha_composite(white, rgba).convert("RGB")
        if mode in ("LA", "La") and "L" in allowed:
            return flat.convert("L")
        return flat if "RGB" in allowed else flat.convert("L")
    return image.convert("RGB") if "RGB" in allowed else image.convert("L")


def _format_for(path: Path) -> str:
    suffix = path.suffix.lower()
    if not suffix:
        return "PNG"
    if suffix not in OUTPUT_FORMATS:
        valid = ", ".join(sorted(OUTPUT_FORMATS))
        raise OutputError(f"{path}: unsupported image suffix {suffix!r} (valid: {valid})")
    return OUTPUT_FORMATS[suffix]


def write_image_atomic(
    image: Image.Image,
    path: Path,
    *,
    inputs: Sequence[Path] = (),
    overwrite: bool = True,
) -> None:
    """Write ``image`` to ``path`` atomically, in the format its suffix names (PNG if none).

    The mode is converted when the format cannot store it (e.g. RGBA to JPEG is composited over
    white, I;16 to JPEG is scaled to 8 bits). Raises :class:`OutputError` when ``path`` is one of
    ``inputs``, exists while ``overwrite`` is False, or cannot be written; nothing is left behind.
    """
    path = Path(path)
    fmt = _format_for(path)
    prepared = _adapt_mode(image, _FORMAT_MODES[fmt])
    options = _SAVE_OPTIONS.get(fmt, {})

    def writer(handle: IO[bytes]) -> None:
        prepared.save(handle, format=fmt, **options)

    _atomic_write(path, writer, inputs, overwrite)


def image_bytes(image: Image.Image, suffix: str = ".png") -> bytes:
    """The encoded file bytes of ``image`` in the format ``suffix`` names (e.g. for stdout);
    modes are converted as :func:`write_image_atomic` converts them."""
    fmt = _format_for(Path(f"image{suffix}"))
    buffer = io.BytesIO()
    _adapt_mode(image, _FORMAT_MODES[fmt]).save(buffer, format=fmt, **_SAVE_OPTIONS.get(fmt, {}))
    return buffer.getvalue()


def write_bytes_atomic(
    data: bytes,
    path: Path,
    *,
    inputs: Sequence[Path] = (),
    overwrite: bool = True,
) -> None:
    """Write ``data`` to ``path`` atomically; same refusals as :func:`write_image_atomic`."""

    def writer(handle: IO[bytes]) -> None:
        handle.write(data)

    _atomic_write(Path(path), writer, inputs, overwrite)


def save_npy_atomic(
    array: np.ndarray,
    path: Path,
    inputs: Sequence[Path] = (),
    overwrite: bool = True,
) -> None:
    """Save ``array`` as a ``.npy`` file atomically (no pickles); same refusals as above."""
    path = Path(path)
    if path.suffix.lower() != ".npy":
        raise OutputError(f"{path}: expected a file name ending in .npy")
    values = np.asarray(array)

    def writer(handle: IO[bytes]) -> None:
        np.save(handle, values, allow_pickle=False)

    _atomic_write(path, writer, inputs, overwrite)


# --------------------------------------------------------------------------------------------
# Folder expansion
# --------------------------------------------------------------------------------------------


def _is_previous_output(name: str) -> bool:
    stem = Path(name).stem.lower()
    return stem.endswith(OUTPUT_STEMS_SKIPPED)


def _walk_images(root: Path) -> list[tuple[Path, Path]]:
    found: list[tuple[Path, Path]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        here = Path(dirpath)
        for name in filenames:
            if name.startswith(".") or _is_previous_output(name):
                continue
            if Path(name).suffix.lower() not in IMAGE_SUFFIXES:
                continue
            file = here / name
            found.append((file, file.relative_to(root)))
    found.sort(key=lambda pair: pair[1].parts)
    return found


def expand_inputs(inputs: Sequence[Path]) -> list[tuple[Path, Path]]:
    """Expand files and folders into (file, relative path) pairs, in a deterministic order.

    A file gives ``(file, Path(file.name))``. A folder is walked recursively for image files
    (suffix in :data:`IMAGE_SUFFIXES`), skipping hidden files and folders and earlier outputs
    (``*.denoised.*``, ``*.reconstructed.*``); relative paths are relative to that folder.
    """
    pairs: list[tuple[Path, Path]] = []
    for item in inputs:
        path = Path(item)
        if not path.exists():
            raise InputError(f"{path}: no such file or directory")
        if not path.is_dir():
            pairs.append((path, Path(path.name)))
            continue
        found = _walk_images(path)
        if not found:
            raise InputError(f"{path}: no image files found")
        pairs.extend(found)
    return pairs
