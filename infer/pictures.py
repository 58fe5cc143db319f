"""Image files in and out: any Pillow input as a :class:`Picture`, and a Picture as file bytes.

:func:`read_picture` accepts a path, the bytes of an image file (e.g. stdin or an HTTP body), a
Pillow image, or an (H, W), (H, W, 3) or (H, W, 4) array, in any Pillow mode (1, L, P with
transparency, LA, RGB, RGBA, CMYK, YCbCr, I;16, I, F, …). It applies EXIF orientation, uses the
first frame of an animation (and says so), refuses decompression bombs, truncated files and
images under 2×2 pixels, and keeps what the file holds: grey or colour, 8 or 16 bits (16-bit
colour only as the 8 bits Pillow decodes, with a note), with or without alpha, and its colour
profile. Nothing is fitted here; that is the adapters' work
(:mod:`aeinfer.adapters`).

:func:`picture_bytes` writes a Picture (or a Pillow image) in the format a suffix names,
converting the mode only where the format cannot store it, with the input's colour profile where
the format holds one and the profile fits the mode written. Errors are :class:`InputError` and
:class:`OutputError` lines that start with the offending input's label.
"""

from __future__ import annotations

import io
import os
import re
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import PIL
from PIL import Image, ImageOps, UnidentifiedImageError, features

from aeinfer.errors import InputError, OutputError

IMAGE_SUFFIXES: frozenset[str] = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm", ".pnm"}
    | {".avif", ".heic", ".heif"}
)
"""Lowercase suffixes treated as images when walking folders (AVIF: Pillow reads it; HEIC,
a phone's default: with the ``heif`` extra, else each such file fails with one line)."""
HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"})
"""ISO BMFF major brands of HEIF stills and sequences (ISO/IEC 23008-12), read by pillow-heif."""
HEIF_HINT = "pip install 'aeinfer[heif]' to read it"
AVIF_BRANDS = frozenset({b"avif", b"avis"})
"""ISO BMFF major brands of AVIF stills and sequences: Pillow's own wheels read them from 11.3."""

MIN_SIDE = 2
STDIN_LABEL = "<stdin>"
PIL_LABEL = "<image>"
ARRAY_LABEL = "<array>"

LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
"""ITU-R 601-2 luma, the weights Pillow's own "L" conversion uses."""

EIGHT_BIT = 255
SIXTEEN_BIT = 65535
_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})

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
    # No RGBA: a 32-bit BMP's fourth byte is read as padding (by Pillow too), so transparent
    # pixels would show whatever colour they hold; it is composited over white instead.
    "BMP": frozenset({"1", "L", "P", "RGB"}),
    "GIF": frozenset({"1", "L", "P", "RGB", "RGBA"}),
    "TIFF": frozenset({"1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "I;16", "I", "F"}),
    "WEBP": frozenset({"L", "LA", "RGB", "RGBA"}),
    "PPM": frozenset({"1", "L", "RGB", "I;16"}),
}
_SAVE_OPTIONS: dict[str, dict[str, object]] = {"JPEG": {"quality": 95}, "WEBP": {"lossless": True}}
_PROFILE_FORMATS = frozenset({"PNG", "JPEG", "TIFF", "WEBP"})
"""Formats that hold an ICC colour profile (Pillow writes it for these)."""
_PROFILE_SPACES: dict[str, bytes] = {"L": b"GRAY", "LA": b"GRAY", "I;16": b"GRAY", "I": b"GRAY"}
_PROFILE_SPACES |= {"F": b"GRAY", "P": b"RGB ", "RGB": b"RGB ", "RGBA": b"RGB ", "CMYK": b"CMYK"}
"""The ICC data colour space (header bytes 16–19) that describes each mode's pixels."""


def _writable_formats() -> dict[str, str]:
    formats = dict(_SUFFIX_FORMATS)
    if not features.check("webp"):
        del formats[".webp"]
    return formats


OUTPUT_FORMATS: dict[str, str] = _writable_formats()
"""Suffixes an image may be written as, mapped to Pillow format names."""


@dataclass(frozen=True, eq=False)
class Picture:
    """An image as its file holds it: grey or colour, its bit depth, its alpha.

    ``pixels`` is (H, W, 1) or (H, W, 3) in its own dtype — uint8 (0..255), uint16 (0..65535)
    or float32 (0..1) — never composited or inverted; ``alpha`` is (H, W) in the same scale, or
    None when the image is opaque. ``profile`` is the ICC colour profile the file carried (a
    phone's Display P3, say): the pixels are in its colour space, and a result written with it
    looks as the input did.
    """

    pixels: np.ndarray
    alpha: np.ndarray | None
    label: str
    notes: tuple[str, ...] = ()
    profile: bytes | None = None

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)."""
        return self.pixels.shape[1], self.pixels.shape[0]

    @property
    def channels(self) -> int:
        return self.pixels.shape[2]

    @property
    def scale(self) -> float:
        """The value of full intensity in ``pixels``' dtype."""
        kind = self.pixels.dtype
        return float(EIGHT_BIT if kind == np.uint8 else SIXTEEN_BIT if kind == np.uint16 else 1)

    def unit(self) -> np.ndarray:
        """(H, W, C) float32 in [0, 1], alpha not applied."""
        values = self.pixels.astype(np.float32)
        if self.scale != 1.0:
            values /= self.scale
        return values

    def unit_alpha(self) -> np.ndarray | None:
        if self.alpha is None:
            return None
        return self.alpha.astype(np.float32) / self.scale

    def over(self, background: tuple[float, ...]) -> np.ndarray:
        """(H, W, C) float32 in [0, 1]: the picture composited over a plain ``background``
        colour (one value per channel, or one for all), as it looks on that paper."""
        values = self.unit()
        alpha = self.unit_alpha()
        if alpha is None:
            return values
        paper = np.asarray(background, dtype=np.float32)[: self.channels]
        weight = alpha[..., None]
        return values * weight + paper * (1.0 - weight)

    def with_unit(self, values: np.ndarray, *, notes: tuple[str, ...] = ()) -> Picture:
        """A picture like this one (same dtype, alpha, label and profile) holding ``values``,
        (H, W, C) float in [0, 1] with C this picture's channel count."""
        clipped = np.clip(values, 0.0, 1.0)
        if self.scale != 1.0:
            pixels = (clipped * self.scale + 0.5).astype(self.pixels.dtype)
        else:
            pixels = clipped.astype(np.float32)
        return Picture(pixels, self.alpha, self.label, notes, self.profile)

    def to_pil(self) -> Image.Image:
        """A Pillow image: L, LA, RGB, RGBA, or I;16 for 16-bit grey (float pictures become
        8-bit), with the profile in its ``info`` (as Pillow's readers leave it)."""
        image = self._pil()
        if self.profile is not None:
            image.info["icc_profile"] = self.profile
        return image

    def _pil(self) -> Image.Image:
        pixels = self.pixels
        if pixels.dtype == np.float32:
            pixels = (np.clip(pixels, 0.0, 1.0) * EIGHT_BIT + 0.5).astype(np.uint8)
        alpha = self.alpha
        if alpha is not None and alpha.dtype != pixels.dtype:
            alpha = (np.clip(alpha / self.scale, 0, 1) * EIGHT_BIT + 0.5).astype(np.uint8)
        if pixels.dtype == np.uint16:
            if pixels.shape[2] == 1 and alpha is None:
                return Image.fromarray(pixels[..., 0])
            # Pillow holds no 16-bit colour or 16-bit grey with alpha: 8 bits it is.
            pixels = (pixels.astype(np.uint32) * EIGHT_BIT // SIXTEEN_BIT).astype(np.uint8)
            if alpha is not None:
                alpha = (alpha.astype(np.uint32) * EIGHT_BIT // SIXTEEN_BIT).astype(np.uint8)
        grey = pixels.shape[2] == 1
        if alpha is None:
            return Image.fromarray(pixels[..., 0] if grey else pixels)
        return Image.fromarray(np.dstack([pixels, alpha]), "LA" if grey else "RGBA")


# --- reading --------------------------------------------------------------------------------------


def first_line(exc: BaseException) -> str:
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


def _major_brand(data: bytes) -> bytes:
    """The major brand of an ISO BMFF file (its leading ``ftyp`` box), else empty."""
    return data[8:12] if data[4:8] == b"ftyp" else b""


def is_heif(data: bytes) -> bool:
    """Whether ``data`` starts as a HEIF file does (an ``ftyp`` box of a HEIF brand)."""
    return _major_brand(data) in HEIF_BRANDS


def _heif_opener() -> bool:
    """Register pillow-heif's opener with Pillow (the ``heif`` extra); False without it."""
    try:
        import pillow_heif
    except ImportError:
        return False
    pillow_heif.register_heif_opener()
    return True


def _open(data: bytes, label: str) -> Image.Image:
    """Pillow's lazy open of ``data``; a HEIF file once more through pillow-heif, which
    registers its opener only when a HEIF file is first met."""
    try:
        return Image.open(io.BytesIO(data))
    except UnidentifiedImageError as exc:
        if _major_brand(data) in AVIF_BRANDS:
            raise InputError(
                f"{label}: an AVIF image this Pillow ({PIL.__version__}) cannot read; Pillow 11.3 "
                "or later reads it (pip install -U pillow)"
            ) from exc
        if not is_heif(data):
            raise InputError(f"{label}: not an image file (cannot identify format)") from exc
        if not _heif_opener():
            raise InputError(f"{label}: a HEIC/HEIF image; {HEIF_HINT}") from exc
    try:
        return Image.open(io.BytesIO(data))
    except UnidentifiedImageError as exc:
        raise InputError(f"{label}: a HEIF image pillow-heif cannot read") from exc


def open_image_bytes(data: bytes, label: str) -> tuple[Image.Image, list[str]]:
    """Decode ``data`` fully (first frame only), guarding against decompression bombs."""
    if not data:
        raise InputError(f"{label}: empty file")
    notes: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = _open(data, label)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise InputError(_bomb_message(label, exc)) from exc
        except _LOAD_ERRORS as exc:
            raise InputError(f"{label}: truncated or corrupt image ({first_line(exc)})") from exc
        if _deep_colour(image):
            notes.append("16-bit colour read as 8 bits per channel (Pillow decodes no deeper)")
        try:
            frames = int(getattr(image, "n_frames", 1) or 1)
            if frames > 1:
                image.seek(0)
                notes.append(f"animated image ({frames} frames): first frame used")
            image.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise InputError(_bomb_message(label, exc)) from exc
        except _LOAD_ERRORS as exc:
            raise InputError(f"{label}: truncated or corrupt image ({first_line(exc)})") from exc
    return image, notes


def _deep_colour(image: Image.Image) -> bool:
    """A colour file of 16 bits per channel (a 48- or 64-bit PNG or TIFF), before it is
    loaded: Pillow holds no 16-bit colour and decodes it to 8 bits (16-bit grey it keeps)."""
    if image.mode not in ("RGB", "RGBA"):
        return False
    for tile in image.tile:
        args = tile[3]
        rawmode = args if isinstance(args, str) else args[0] if args else ""
        if isinstance(rawmode, str) and ";16" in rawmode:
            return True
    return False


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


def _int_image(values: np.ndarray) -> np.ndarray:
    """A 32-bit integer grey image as uint8 or uint16 when its values fit, else float by range."""
    lo, hi = (int(values.min()), int(values.max())) if values.size else (0, 0)
    if lo >= 0 and hi <= EIGHT_BIT:
        return values.astype(np.uint8)
    if lo >= 0 and hi <= SIXTEEN_BIT:
        return values.astype(np.uint16)
    span = float(hi - lo) or 1.0
    return ((values.astype(np.float64) - lo) / span).astype(np.float32)


def _float_image(values: np.ndarray, label: str) -> np.ndarray:
    if not np.all(np.isfinite(values)):
        raise InputError(f"{label}: image contains NaN or infinite values")
    lo, hi = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
    if lo >= 0.0 and hi <= 1.0:
        return values.astype(np.float32)
    if lo >= 0.0 and hi <= EIGHT_BIT:
        return (values / EIGHT_BIT).astype(np.float32)
    span = (hi - lo) or 1.0
    return ((values.astype(np.float64) - lo) / span).astype(np.float32)


def _palette_is_grey(rgb: np.ndarray) -> bool:
    return not (np.any(rgb[..., 0] != rgb[..., 1]) or np.any(rgb[..., 1] != rgb[..., 2]))


def _from_pil(image: Image.Image, label: str, notes: list[str]) -> Picture:
    image = _apply_exif(image, notes)
    width, height = image.size
    if width < MIN_SIDE or height < MIN_SIDE:
        raise InputError(f"{label}: image too small ({width}×{height})")
    mode = image.mode
    alpha: np.ndarray | None = None
    if mode in _SIXTEEN_BIT_MODES:
        pixels = np.asarray(image).astype(np.uint16)[..., None]
    elif mode == "I":
        pixels = _int_image(np.asarray(image))[..., None]
    elif mode == "F":
        pixels = _float_image(np.asarray(image, dtype=np.float32), label)[..., None]
    elif mode in ("1", "L"):
        pixels = np.asarray(image.convert("L"))[..., None]
    elif mode in ("LA", "La"):
        la = np.asarray(image.convert("LA"))
        pixels, alpha = la[..., :1], la[..., 1]
    elif mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in image.info
        rgba = np.asarray(image.convert("RGBA"))
        visible = rgba[..., 3] > 0 if has_alpha else np.ones(rgba.shape[:2], dtype=bool)
        grey = _palette_is_grey(rgba[..., :3][visible])
        pixels = rgba[..., :1] if grey else rgba[..., :3]
        alpha = rgba[..., 3] if has_alpha else None
    elif mode in ("RGBA", "RGBa"):
        rgba = np.asarray(image.convert("RGBA"))
        pixels, alpha = rgba[..., :3], rgba[..., 3]
    else:
        try:
            # An RGB image is read as it is: convert() would copy it first (18 MB at 6 MP).
            pixels = np.asarray(image if mode == "RGB" else image.convert("RGB"))
        except (ValueError, OSError) as exc:
            raise InputError(f"{label}: unsupported image mode {mode!r}") from exc
    if alpha is not None and int(alpha.min()) == EIGHT_BIT:
        alpha = None  # fully opaque: nothing to keep
    profile = image.info.get("icc_profile") or None
    return Picture(np.ascontiguousarray(pixels), alpha, label, tuple(notes), profile)


def _from_array(array: np.ndarray, label: str) -> Picture:
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4):
        raise InputError(
            f"{label}: expected an (H, W), (H, W, 3) or (H, W, 4) image array, got shape "
            f"{array.shape}"
        )
    height, width = array.shape[:2]
    if width < MIN_SIDE or height < MIN_SIDE:
        raise InputError(f"{label}: image too small ({width}×{height})")
    if array.dtype == np.bool_:
        array = array.astype(np.uint8) * EIGHT_BIT
    if array.dtype not in (np.uint8, np.uint16):
        if array.dtype.kind != "f":
            raise InputError(f"{label}: unsupported dtype {array.dtype} (uint8, uint16 or float)")
        if not np.all(np.isfinite(array)) or array.min() < 0 or array.max() > 1:
            raise InputError(f"{label}: float pixels must be finite and lie in [0, 1]")
        array = array.astype(np.float32)
    pixels, alpha = (array[..., :3], array[..., 3]) if array.shape[2] == 4 else (array, None)
    return Picture(np.ascontiguousarray(pixels), alpha, label)


Source = str | os.PathLike[str] | bytes | bytearray | memoryview | Image.Image | np.ndarray


def read_picture(source: Source, label: str | None = None) -> Picture:
    """Read an image file, image bytes, a Pillow image or an image array as a :class:`Picture`.

    Files are read into memory once and never held open. Raises :class:`InputError` for
    anything that is not a usable image.
    """
    if isinstance(source, np.ndarray):
        return _from_array(source, label or ARRAY_LABEL)
    if isinstance(source, Image.Image):
        name = label or PIL_LABEL
        try:
            source.load()
        except _LOAD_ERRORS as exc:
            raise InputError(f"{name}: truncated or corrupt image ({first_line(exc)})") from exc
        return _from_pil(source, name, [])
    if isinstance(source, (bytes, bytearray, memoryview)):
        name = label or STDIN_LABEL
        image, notes = open_image_bytes(bytes(source), name)
        return _from_pil(image, name, notes)
    if not isinstance(source, (str, os.PathLike)):
        raise InputError(f"{source!r}: unsupported input type {type(source).__name__}")
    path = Path(source)
    name = label or str(path)
    image, notes = open_image_bytes(read_file(path, name), name)
    return _from_pil(image, name, notes)


def read_file(path: Path, label: str | None = None) -> bytes:
    """The bytes of an input file, or one InputError line."""
    name = label or str(path)
    if not path.exists():
        raise InputError(f"{name}: no such file")
    if path.is_dir():
        raise InputError(f"{name}: is a directory, expected a file")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"{name}: cannot read ({exc.strerror or first_line(exc)})") from exc


# --- writing --------------------------------------------------------------------------------------


def image_format(suffix: str, label: str) -> str:
    """The Pillow format a suffix names (PNG for none), or one OutputError line."""
    suffix = suffix.lower()
    if not suffix:
        return "PNG"
    if suffix not in OUTPUT_FORMATS:
        valid = ", ".join(sorted(OUTPUT_FORMATS))
        raise OutputError(f"{label}: unsupported image suffix {suffix!r} (valid: {valid})")
    return OUTPUT_FORMATS[suffix]


def _adapt_mode(image: Image.Image, allowed: frozenset[str]) -> Image.Image:
    """Convert ``image`` to a mode the target format can store, without losing range."""
    mode = image.mode
    if mode in allowed:
        return image
    if mode in _SIXTEEN_BIT_MODES or mode in ("I", "F"):
        values = np.asarray(image).astype(np.float64)
        peak = SIXTEEN_BIT if mode in _SIXTEEN_BIT_MODES or values.max() > EIGHT_BIT else EIGHT_BIT
        if mode == "F":
            peak = 1 if values.max() <= 1 else EIGHT_BIT
        return Image.fromarray((np.clip(values / peak, 0, 1) * EIGHT_BIT + 0.5).astype(np.uint8))
    if mode in _ALPHA_MODES:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        flat = Image.alpha_composite(white, rgba).convert("RGB")
        if mode in ("LA", "La") and "L" in allowed:
            return flat.convert("L")
        return flat if "RGB" in allowed else flat.convert("L")
    return image.convert("RGB") if "RGB" in allowed else image.convert("L")


def profile_space(profile: bytes) -> bytes:
    """The data colour space an ICC profile describes (``b"RGB "``, ``b"GRAY"``, ``b"CMYK"``,
    …): bytes 16–19 of its header (ICC.1:2010, 7.2.6); empty for a profile too short to say."""
    return profile[16:20] if len(profile) >= 128 else b""


def picture_bytes(picture: Picture | Image.Image, suffix: str = ".png", label: str = "") -> bytes:
    """The file bytes of ``picture`` in the format ``suffix`` names; the mode is converted only
    where the format cannot store it (RGBA to JPEG is composited over white, 16-bit grey to JPEG
    scaled to 8 bits). The colour profile (``info["icc_profile"]``) is written where the format
    holds one and it describes the mode written: an RGB profile is not put on grey pixels, nor
    a CMYK one on the RGB pixels a CMYK file was read as."""
    image = picture.to_pil() if isinstance(picture, Picture) else picture
    fmt = image_format(suffix, label or f"image{suffix}")
    written = _adapt_mode(image, _FORMAT_MODES[fmt])
    options = dict(_SAVE_OPTIONS.get(fmt, {}))
    if fmt in _PROFILE_FORMATS:
        profile = image.info.get("icc_profile") or b""
        # WebP stores every picture as RGB(A), grey ones too.
        space = b"RGB " if fmt == "WEBP" else _PROFILE_SPACES.get(written.mode)
        fits = profile_space(profile) == space
        # Given always: None keeps Pillow from copying a profile that does not fit from info.
        options["icc_profile"] = profile if fits else None
    buffer = io.BytesIO()
    written.save(buffer, format=fmt, **options)
    return buffer.getvalue()


# --- resampling ----------------------------------------------------------------------------------


def resize_plane(values: np.ndarray, size: tuple[int, int], resample: str = "auto") -> np.ndarray:
    """Resize one float plane (H, W) to (width, height) with Pillow: ``box`` (area average),
    ``bilinear`` or ``bicubic`` (a = −0.5; both antialiased when shrinking), or ``auto``: box
    when shrinking both ways, else bicubic."""
    h, w = values.shape
    if (w, h) == tuple(size):
        return values.astype(np.float32, copy=True)
    if resample == "auto":
        resample = "box" if size[0] <= w and size[1] <= h else "bicubic"
    filters: dict[str, Any] = {
        "box": Image.Resampling.BOX,
        "bilinear": Image.Resampling.BILINEAR,
        "bicubic": Image.Resampling.BICUBIC,
    }
    plane = Image.fromarray(np.ascontiguousarray(values, dtype=np.float32), "F")
    return np.asarray(plane.resize(tuple(size), filters[resample]), dtype=np.float32).copy()


def luma(values: np.ndarray) -> np.ndarray:
    """(H, W, 3) → (H, W, 1) ITU-R 601 luma; (H, W, 1) unchanged."""
    if values.shape[-1] == 1:
        return values
    return (values[..., :3] @ LUMA)[..., None].astype(np.float32)


__all__ = [
    "IMAGE_SUFFIXES",
    "OUTPUT_FORMATS",
    "Picture",
    "image_format",
    "is_heif",
    "luma",
    "picture_bytes",
    "profile_space",
    "read_file",
    "read_picture",
    "resize_plane",
]
