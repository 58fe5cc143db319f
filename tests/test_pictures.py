"""Tests for reading and writing files: pictures (aeinfer.pictures), signals (aeinfer.signals)
and atomic writes (aeinfer.atomic)."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import sys
import wave
import zlib
from pathlib import Path

import numpy as np
import pytest
from helpers import HEIGHT, WIDTH, dark_on_light, icc_profile, ink_mask, photo_rgb, u8
from PIL import Image

from aeinfer import atomic
from aeinfer.atomic import npy_bytes, write_bytes_atomic
from aeinfer.errors import InputError, OutputError
from aeinfer.pictures import (
    IMAGE_SUFFIXES,
    OUTPUT_FORMATS,
    Picture,
    is_heif,
    luma,
    picture_bytes,
    profile_space,
    read_picture,
    resize_plane,
)
from aeinfer.signals import SIGNAL_SUFFIXES, Signal, read_signal, signal_bytes

WHITE = (1.0, 1.0, 1.0)


def smooth(channels: int, width: int = 40, height: int = 30) -> np.ndarray:
    """A smooth uint8 (H, W, C) picture: gradients, so lossy formats stay close."""
    ys, xs = np.mgrid[0:height, 0:width]
    planes = [40 + 150 * xs / width, 30 + 180 * ys / height, 200 - 100 * xs / width]
    return np.stack(planes[:channels], axis=-1).round().astype(np.uint8)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def leftovers(folder: Path) -> list[str]:
    """Temporary files an atomic write may have left behind (they start with a dot)."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def ink_contrast(picture: Picture) -> float:
    """Mean paper level minus mean ink level, as the picture looks over white (grey, [0, 1])."""
    grey = luma(picture.over(WHITE))[..., 0]
    mask = ink_mask()
    return float(grey[~mask].mean() - grey[mask].mean())


# --------------------------------------------------------------------- files of every Pillow mode


def make_rgb(tmp: Path) -> Path:
    path = tmp / "photo.png"
    Image.fromarray(photo_rgb()).save(path)
    return path


def make_l(tmp: Path) -> Path:
    path = tmp / "gray.png"
    Image.fromarray(u8(dark_on_light())).save(path)
    return path


def make_1(tmp: Path) -> Path:
    path = tmp / "bilevel.png"
    Image.fromarray(~ink_mask()).convert("1").save(path)
    return path


def make_rgba(tmp: Path) -> Path:
    # Black ink on fully transparent *black*: only compositing over white shows the ink.
    path = tmp / "rgba.png"
    rgba = np.zeros((HEIGHT, WIDTH, 4), np.uint8)
    rgba[ink_mask()] = (20, 20, 20, 255)
    Image.fromarray(rgba).save(path)
    return path


def make_la(tmp: Path) -> Path:
    path = tmp / "la.png"
    la = np.zeros((HEIGHT, WIDTH, 2), np.uint8)
    la[ink_mask()] = (10, 255)
    Image.fromarray(la, "LA").save(path)
    return path


def make_p(tmp: Path) -> Path:
    path = tmp / "palette.png"
    Image.fromarray(photo_rgb()).quantize(16).save(path)
    return path


def make_p_grey(tmp: Path) -> Path:
    path = tmp / "palette_grey.png"
    Image.fromarray(u8(dark_on_light())).convert("P").save(path)
    return path


def make_p_transparent(tmp: Path) -> Path:
    # Index 0 is black and transparent (the background), index 1 is opaque dark-red ink.
    path = tmp / "palette_alpha.png"
    image = Image.fromarray(ink_mask().astype(np.uint8)).convert("P")
    image.putpalette([0, 0, 0, 90, 10, 10] + [0, 0, 0] * 254)
    image.save(path, transparency=0)
    return path


def make_i16(tmp: Path) -> Path:
    path = tmp / "sixteen.png"
    values = np.full((HEIGHT, WIDTH), 60000, np.uint16)
    values[ink_mask()] = 3000
    Image.fromarray(values).save(path)
    return path


def make_i(tmp: Path) -> Path:
    path = tmp / "int32.tif"
    values = np.full((HEIGHT, WIDTH), 50000, np.int32)
    values[ink_mask()] = 2000
    Image.fromarray(values).save(path)
    return path


def make_i_wide(tmp: Path) -> Path:
    # Values beyond 16 bits (and negative): scaled by their range into float.
    path = tmp / "int32_wide.tif"
    values = np.full((HEIGHT, WIDTH), 300000, np.int32)
    values[ink_mask()] = -1000
    Image.fromarray(values).save(path)
    return path


def make_f(tmp: Path) -> Path:
    path = tmp / "float.tif"
    Image.fromarray(dark_on_light().astype(np.float32)).save(path)
    return path


def make_cmyk(tmp: Path) -> Path:
    path = tmp / "cmyk.jpg"
    Image.fromarray(photo_rgb()).convert("CMYK").save(path, quality=95)
    return path


# kind: (maker, mode the file opens in, channels, dtype, has alpha)
MAKERS = {
    "RGB": (make_rgb, "RGB", 3, np.uint8, False),
    "L": (make_l, "L", 1, np.uint8, False),
    "1": (make_1, "1", 1, np.uint8, False),
    "RGBA": (make_rgba, "RGBA", 3, np.uint8, True),
    "LA": (make_la, "LA", 1, np.uint8, True),
    "P": (make_p, "P", 3, np.uint8, False),
    "P-grey": (make_p_grey, "P", 1, np.uint8, False),
    "P-transparency": (make_p_transparent, "P", 3, np.uint8, True),
    "I;16": (make_i16, "I;16", 1, np.uint16, False),
    "I": (make_i, "I", 1, np.uint16, False),
    "I-wide": (make_i_wide, "I", 1, np.float32, False),
    "F": (make_f, "F", 1, np.float32, False),
    "CMYK": (make_cmyk, "CMYK", 3, np.uint8, False),
}


@pytest.mark.parametrize("kind", sorted(MAKERS))
def test_every_mode_loads_with_its_channels_depth_and_alpha(tmp_path: Path, kind: str) -> None:
    make, mode, channels, dtype, has_alpha = MAKERS[kind]
    path = make(tmp_path)
    with Image.open(path) as opened:
        assert opened.mode == mode
    before = sha(path)
    picture = read_picture(path)
    assert sha(path) == before, "reading must not modify the input"
    assert picture.label == str(path)
    assert picture.size == (WIDTH, HEIGHT)
    assert picture.pixels.shape == (HEIGHT, WIDTH, channels)
    assert picture.channels == channels
    assert picture.pixels.dtype == dtype
    assert (picture.alpha is not None) == has_alpha
    if has_alpha:
        assert picture.alpha.shape == (HEIGHT, WIDTH) and picture.alpha.dtype == dtype
        np.testing.assert_array_equal(picture.alpha > 0, ink_mask())
    assert picture.notes == ()
    unit = picture.unit()
    assert unit.dtype == np.float32 and unit.min() >= 0.0 and unit.max() <= 1.0
    # Whatever the mode, the 7 reads as dark ink on light paper over white.
    assert ink_contrast(picture) > 0.5


def test_modes_keep_their_values(tmp_path: Path) -> None:
    """Nothing is rescaled or quantised on reading beyond what the mode implies."""
    mask = ink_mask()
    grey = read_picture(make_l(tmp_path))
    np.testing.assert_array_equal(grey.pixels[..., 0], u8(dark_on_light()))
    bilevel = read_picture(make_1(tmp_path))
    assert set(np.unique(bilevel.pixels)) == {0, 255}
    np.testing.assert_array_equal(bilevel.pixels[..., 0] == 0, mask)
    int32 = read_picture(make_i(tmp_path))
    assert int32.pixels[mask].max() == 2000 and int32.pixels[~mask].min() == 50000
    wide = read_picture(make_i_wide(tmp_path))  # by range: -1000 → 0, 300000 → 1
    assert wide.pixels[mask].max() == 0.0 and wide.pixels[~mask].min() == 1.0
    floats = read_picture(make_f(tmp_path))
    np.testing.assert_allclose(floats.pixels[..., 0], dark_on_light().astype(np.float32))
    rgba = read_picture(make_rgba(tmp_path))
    assert rgba.pixels[mask].tolist()[0] == [20, 20, 20]
    assert rgba.alpha[mask].min() == 255 and rgba.alpha[~mask].max() == 0
    palette = read_picture(make_p_transparent(tmp_path))
    assert palette.pixels[mask].tolist()[0] == [90, 10, 10]
    assert palette.alpha[~mask].max() == 0 and palette.alpha[mask].min() == 255


def test_eight_bit_float_image_is_scaled_by_255() -> None:
    values = np.full((10, 12), 200.0, np.float32)
    values[2:5, 3:6] = 10.0
    picture = read_picture(Image.fromarray(values, "F"))
    assert picture.pixels.dtype == np.float32
    assert picture.pixels.max() == pytest.approx(200 / 255)
    assert picture.pixels.min() == pytest.approx(10 / 255)


@pytest.mark.parametrize("mode", ["YCbCr", "HSV"])
def test_other_colour_modes_are_read_as_rgb(mode: str) -> None:
    source = Image.fromarray(smooth(3))
    picture = read_picture(source.convert(mode))
    assert picture.pixels.shape == (30, 40, 3) and picture.alpha is None
    reference = np.asarray(source.convert(mode).convert("RGB")).astype(int)
    np.testing.assert_array_equal(picture.pixels, reference)


def test_opaque_alpha_is_dropped() -> None:
    rgba = np.dstack([smooth(3), np.full((30, 40), 255, np.uint8)])
    picture = read_picture(Image.fromarray(rgba, "RGBA"))
    assert picture.alpha is None and picture.channels == 3


def test_str_path_bytes_and_pil_inputs(tmp_path: Path) -> None:
    path = make_l(tmp_path)
    from_path = read_picture(path)
    from_str = read_picture(str(path))
    from_bytes = read_picture(path.read_bytes())
    named = read_picture(path.read_bytes(), label="upload #3")
    with Image.open(path) as image:
        from_pil = read_picture(image)
    assert from_str.label == str(path) == from_path.label
    assert from_bytes.label == "<stdin>"
    assert named.label == "upload #3"
    assert from_pil.label == "<image>"
    for other in (from_str, from_bytes, from_pil):
        np.testing.assert_array_equal(other.pixels, from_path.pixels)


def test_bytes_input_never_touches_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    buffer = io.BytesIO()
    Image.fromarray(u8(dark_on_light())).save(buffer, format="PNG")
    monkeypatch.chdir(tmp_path)
    picture = read_picture(buffer.getvalue())
    assert picture.size == (WIDTH, HEIGHT)
    assert list(tmp_path.iterdir()) == []


def test_exif_orientation_applied(tmp_path: Path) -> None:
    upright = Image.fromarray(u8(dark_on_light()))
    upright_path = tmp_path / "upright.jpg"
    upright.save(upright_path, quality=95)
    # Orientation 6 means "rotate 90° clockwise to display", so store it 90° counter-clockwise.
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    exif = stored.getexif()
    exif[0x0112] = 6
    rotated_path = tmp_path / "rotated.jpg"
    stored.save(rotated_path, quality=95, exif=exif)
    before = sha(rotated_path)
    rotated = read_picture(rotated_path)
    assert sha(rotated_path) == before
    assert rotated.size == (WIDTH, HEIGHT)
    assert rotated.notes == ("EXIF orientation applied (tag 6)",)
    expected = read_picture(upright_path)
    assert expected.notes == ()
    difference = np.abs(rotated.unit() - expected.unit())
    assert difference.mean() < 0.02


def test_animated_gif_uses_first_frame_with_a_note(tmp_path: Path) -> None:
    first = Image.fromarray(u8(dark_on_light())).convert("P")
    second = Image.new("P", (WIDTH, HEIGHT), 0)
    path = tmp_path / "anim.gif"
    first.save(path, save_all=True, append_images=[second], duration=100, loop=0)
    picture = read_picture(path)
    assert picture.notes == ("animated image (2 frames): first frame used",)
    assert ink_contrast(picture) > 0.5
    assert read_picture(path.read_bytes()).notes == picture.notes


def test_sixteen_bit_kept_not_clipped(tmp_path: Path) -> None:
    path = make_i16(tmp_path)
    picture = read_picture(path)
    mask = ink_mask()
    assert picture.pixels.dtype == np.uint16 and picture.scale == 65535 and picture.notes == ()
    assert picture.pixels[~mask].min() == 60000 and picture.pixels[mask].max() == 3000
    assert picture.unit()[0, 0, 0] == pytest.approx(60000 / 65535)
    # Written back as 16-bit PNG and TIFF: every value survives.
    for suffix in (".png", ".tif", ".pgm"):
        back = read_picture(picture_bytes(picture, suffix))
        assert back.pixels.dtype == np.uint16, suffix
        np.testing.assert_array_equal(back.pixels, picture.pixels)
    # A format without 16 bits gets the values scaled to 8 bits, not clipped at 255.
    jpeg = read_picture(picture_bytes(picture, ".jpg"))
    assert jpeg.pixels.dtype == np.uint8
    assert abs(int(np.median(jpeg.pixels[~mask])) - round(60000 / 65535 * 255)) <= 2
    assert int(np.median(jpeg.pixels[mask])) <= 15
    # with_unit keeps the depth.
    darker = picture.with_unit(picture.unit() * 0.5)
    assert darker.pixels.dtype == np.uint16
    assert abs(int(darker.pixels[0, 0, 0]) - 30000) <= 1


def png_48_bit(values: np.ndarray) -> bytes:
    """A 16-bit-per-channel RGB PNG of (H, W, 3) uint16 ``values`` (Pillow writes none)."""
    height, width = values.shape[:2]
    big_endian = values.astype(">u2")
    rows = b"".join(b"\x00" + big_endian[y].tobytes() for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([16, 2, 0, 0, 0])
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def test_sixteen_bit_colour_is_read_as_eight_bits_and_says_so() -> None:
    values = (np.random.default_rng(2).random((12, 16, 3)) * 65535).astype(np.uint16)
    picture = read_picture(png_48_bit(values), "deep.png")
    assert picture.notes == ("16-bit colour read as 8 bits per channel (Pillow decodes no deeper)",)
    assert picture.pixels.dtype == np.uint8
    np.testing.assert_array_equal(picture.pixels, (values >> 8).astype(np.uint8))
    # 8-bit colour and 16-bit grey files carry no such note.
    assert read_picture(picture_bytes(picture, ".png")).notes == ()


def heic_bytes(pixels: np.ndarray) -> bytes:
    """``pixels`` saved as HEIC by pillow-heif (the ``heif`` extra)."""
    pillow_heif = pytest.importorskip("pillow_heif", reason="the heif extra is not installed")
    buffer = io.BytesIO()
    pillow_heif.from_pillow(Image.fromarray(pixels)).save(buffer, quality=95)
    return buffer.getvalue()


def test_heic_is_read_with_the_heif_extra(tmp_path: Path) -> None:
    data = heic_bytes(smooth(3, 64, 48))
    assert is_heif(data) and not is_heif(picture_bytes(Picture(smooth(3), None, "x"), ".png"))
    picture = read_picture(data, "phone.heic")
    assert picture.size == (64, 48) and picture.channels == 3 and picture.pixels.dtype == np.uint8
    assert np.abs(picture.unit() - smooth(3, 64, 48) / 255).mean() < 3 / 255
    (tmp_path / "phone.heic").write_bytes(data)
    assert read_picture(tmp_path / "phone.heic").size == (64, 48)


def test_a_corrupt_heic_is_one_line(tmp_path: Path) -> None:
    heic_bytes(smooth(3))  # skips without the heif extra
    data = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64)
    with pytest.raises(InputError) as error:
        read_picture(data, "IMG_0002.HEIC")
    assert str(error.value).startswith("IMG_0002.HEIC: ") and "\n" not in str(error.value)
    truncated = heic_bytes(smooth(3, 64, 48))[:200]
    with pytest.raises(InputError, match=r"^cut\.heic: "):
        read_picture(truncated, "cut.heic")


def test_heic_without_the_heif_extra_is_one_line_saying_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64)
    assert is_heif(data)
    # As if pillow-heif were not installed: not importable, and no opener of its registered.
    monkeypatch.setitem(sys.modules, "pillow_heif", None)
    monkeypatch.setattr(Image, "ID", [name for name in Image.ID if "HEI" not in name.upper()])
    with pytest.raises(InputError) as error:
        read_picture(data, "IMG_0001.HEIC")
    assert str(error.value) == (
        "IMG_0001.HEIC: a HEIC/HEIF image; pip install 'aeinfer[heif]' to read it"
    )
    with pytest.raises(InputError, match="not an image file"):
        read_picture(b"\x00\x00\x00\x18ftypisom" + bytes(64), "clip.mp4")
    # An AVIF file where Pillow has no AVIF plugin (before 11.3): what to upgrade.
    monkeypatch.setattr(Image, "ID", [name for name in Image.ID if name.upper() != "AVIF"])
    with pytest.raises(InputError, match=r"^x\.avif: an AVIF image this Pillow .* Pillow 11\.3"):
        read_picture(b"\x00\x00\x00\x1cftypavif" + bytes(64), "x.avif")


def test_palette_transparency_is_alpha(tmp_path: Path) -> None:
    picture = read_picture(make_p_transparent(tmp_path))
    assert picture.alpha is not None
    mask = ink_mask()
    over_white = picture.over(WHITE)
    np.testing.assert_allclose(over_white[~mask], 1.0)
    np.testing.assert_allclose(over_white[mask][0], np.array([90, 10, 10]) / 255, atol=1e-6)
    over_black = picture.over((0.0,))
    np.testing.assert_allclose(over_black[~mask], 0.0)


def test_array_inputs() -> None:
    mask = ink_mask()
    grey = u8(mask.astype(np.float64))
    as_u8 = read_picture(grey)
    assert as_u8.label == "<array>" and as_u8.pixels.shape == (HEIGHT, WIDTH, 1)
    as_bool = read_picture(mask)
    np.testing.assert_array_equal(as_bool.pixels, as_u8.pixels)
    as_float = read_picture(mask.astype(np.float64))
    assert as_float.pixels.dtype == np.float32 and as_float.scale == 1.0
    np.testing.assert_allclose(as_float.unit(), as_u8.unit())
    sixteen = read_picture(grey.astype(np.uint16) * 257)
    assert sixteen.pixels.dtype == np.uint16
    np.testing.assert_allclose(sixteen.unit(), as_u8.unit(), atol=1e-6)
    rgb = read_picture(smooth(3), label="frame")
    assert rgb.label == "frame" and rgb.channels == 3 and rgb.alpha is None
    rgba = read_picture(np.dstack([smooth(3), np.full((30, 40), 7, np.uint8)]))
    assert rgba.channels == 3 and rgba.alpha is not None and int(rgba.alpha.max()) == 7
    np.testing.assert_array_equal(rgba.pixels, smooth(3))


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.full((10, 10), 2.0), r"^<array>: float pixels must be finite and lie in \[0, 1\]$"),
        (np.full((10, 10), -0.5), r"float pixels must be finite and lie in \[0, 1\]"),
        (np.full((10, 10), np.nan), r"float pixels must be finite"),
        (np.zeros((10, 10, 2), np.uint8), r"expected an \(H, W\), \(H, W, 3\) or \(H, W, 4\)"),
        (np.zeros((2, 10, 10, 3), np.uint8), r"got shape \(2, 10, 10, 3\)"),
        (np.zeros((10, 10), np.int64), r"unsupported dtype int64"),
        (np.zeros((1, 10), np.uint8), r"image too small \(10×1\)"),
    ],
)
def test_array_errors(array: np.ndarray, message: str) -> None:
    with pytest.raises(InputError, match=message):
        read_picture(array)


def test_picture_to_pil_modes() -> None:
    grey = read_picture(smooth(1)[..., 0])
    assert grey.to_pil().mode == "L"
    assert read_picture(smooth(3)).to_pil().mode == "RGB"
    la = Picture(smooth(1), np.full((30, 40), 9, np.uint8), "la")
    assert la.to_pil().mode == "LA"
    assert np.asarray(la.to_pil())[0, 0, 1] == 9
    assert Picture(smooth(3), np.zeros((30, 40), np.uint8), "x").to_pil().mode == "RGBA"
    wide = Picture(smooth(1).astype(np.uint16) * 257, None, "16")
    assert wide.to_pil().mode == "I;16"
    colour16 = Picture(smooth(3).astype(np.uint16) * 257, None, "16c").to_pil()
    assert colour16.mode == "RGB"
    np.testing.assert_array_equal(np.asarray(colour16), smooth(3))
    floats = Picture(np.full((4, 4, 1), 0.5, np.float32), None, "f").to_pil()
    assert floats.mode == "L" and np.asarray(floats)[0, 0] == 128


def test_resize_and_luma_helpers() -> None:
    plane = np.arange(12, dtype=np.float32).reshape(3, 4)
    same = resize_plane(plane, (4, 3))
    np.testing.assert_array_equal(same, plane)
    assert same is not plane
    np.testing.assert_allclose(resize_plane(np.ones((10, 10), np.float32), (5, 20)), 1.0)
    halved = resize_plane(np.kron(np.eye(2), np.ones((2, 2))).astype(np.float32), (2, 2), "box")
    np.testing.assert_allclose(halved, np.eye(2))
    assert resize_plane(plane, (8, 6), "bilinear").shape == (6, 8)
    values = np.random.default_rng(0).random((6, 8, 3)).astype(np.float32)
    grey = luma(values)
    assert grey.shape == (6, 8, 1)
    np.testing.assert_allclose(grey[..., 0], values @ np.array([0.299, 0.587, 0.114]), rtol=1e-5)
    assert luma(grey) is grey


# ---------------------------------------------------------------------------------- input errors


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nope\.png: no such file$"):
        read_picture(tmp_path / "nope.png")


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r": is a directory, expected a file$"):
        read_picture(tmp_path)


def test_zero_byte_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.png"
    path.touch()
    with pytest.raises(InputError, match=r"empty\.png: empty file$"):
        read_picture(path)
    with pytest.raises(InputError, match=r"^<stdin>: empty file$"):
        read_picture(b"")


def test_truncated_png(tmp_path: Path) -> None:
    full = tmp_path / "full.png"
    Image.fromarray(u8(dark_on_light())).save(full)
    data = full.read_bytes()
    cut = tmp_path / "cut.png"
    cut.write_bytes(data[: len(data) // 2])
    before = sha(cut)
    with pytest.raises(InputError, match=r"cut\.png: truncated or corrupt image \(") as info:
        read_picture(cut)
    assert "\n" not in str(info.value)
    assert str(info.value).startswith(str(cut))
    assert sha(cut) == before
    with pytest.raises(InputError, match=r"^<stdin>: truncated or corrupt image"):
        read_picture(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"^scan: truncated or corrupt image"):
        read_picture(data[: len(data) // 2], label="scan")


def test_text_file_named_png(tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("hello, not an image\n")
    with pytest.raises(InputError, match=r"notes\.png: not an image file \(cannot identify"):
        read_picture(path)


@pytest.mark.parametrize("limit", [1000, 6000])
def test_decompression_bomb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: int) -> None:
    # 1000: 10000 pixels is over twice the limit (error); 6000: over the limit only (warning).
    path = tmp_path / "big.png"
    Image.new("L", (100, 100), 255).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", limit)
    with pytest.raises(
        InputError, match=r"big\.png: image too large \(decompression bomb guard, 10000 pixels\)$"
    ):
        read_picture(path)
    monkeypatch.undo()
    assert read_picture(path).size == (100, 100)


def test_too_small(tmp_path: Path) -> None:
    path = tmp_path / "dot.png"
    Image.new("L", (1, 1), 0).save(path)
    with pytest.raises(InputError, match=r"dot\.png: image too small \(1×1\)$"):
        read_picture(path)
    with pytest.raises(InputError, match=r"^<image>: image too small \(5×1\)$"):
        read_picture(Image.new("RGB", (5, 1)))


def test_nan_in_float_image(tmp_path: Path) -> None:
    values = dark_on_light().astype(np.float32)
    values[ink_mask()] = np.nan
    path = tmp_path / "nan.tif"
    Image.fromarray(values).save(path)
    with pytest.raises(InputError, match=r"nan\.tif: image contains NaN or infinite values$"):
        read_picture(path)


def test_unsupported_source_type() -> None:
    with pytest.raises(InputError, match=r"^42: unsupported input type int$"):
        read_picture(42)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------- writing pictures

# Lossless formats give every value back; JPEG is close; GIF is a palette (≤ 256 colours).
LOSSY = {".jpg", ".jpeg"}
ALPHA_FORMATS = {".png", ".tif", ".tiff", ".webp"}
COLOUR_ONLY = {".webp"}  # WebP has no grey: grey comes back as three equal channels


@pytest.mark.parametrize("suffix", sorted(OUTPUT_FORMATS))
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_picture_bytes_round_trip_per_format(tmp_path: Path, suffix: str, channels: int) -> None:
    pixels = smooth(3) if channels != 1 else smooth(1)
    alpha = None
    if channels == 4:  # a soft alpha, never fully transparent, so colours are always kept
        alpha = np.linspace(40, 255, 40 * 30).reshape(30, 40).round().astype(np.uint8)
    picture = Picture(pixels, alpha, "made")
    path = tmp_path / f"out{suffix}"
    write_bytes_atomic(picture_bytes(picture, suffix), path)
    with Image.open(path) as image:
        assert image.format == OUTPUT_FORMATS[suffix]
    back = read_picture(path)
    assert back.size == picture.size
    assert back.pixels.dtype == np.uint8
    if suffix == ".gif" and channels == 4:
        # GIF holds one transparent palette entry, no soft alpha: covered by the test below.
        return
    assert back.channels == (3 if suffix in COLOUR_ONLY else min(channels, 3))
    keeps_alpha = channels == 4 and suffix in ALPHA_FORMATS
    assert (back.alpha is not None) == keeps_alpha
    if keeps_alpha:
        np.testing.assert_array_equal(back.alpha, alpha)
        seen, expected = back.unit(), picture.unit()
    else:  # alpha, where the format cannot hold it, is composited over white
        seen, expected = back.over(WHITE), picture.over(WHITE)
    if back.channels != picture.channels:
        seen, expected = luma(seen), luma(expected)
    error = np.abs(seen - expected)
    if suffix in LOSSY:
        assert error.mean() < 2 / 255, suffix
    elif suffix == ".gif" and channels != 1:
        assert error.mean() < 8 / 255, suffix
    else:
        assert error.max() <= 1.01 / 255, suffix
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("suffix", sorted(OUTPUT_FORMATS))
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_colour_profile_written_back_where_the_format_holds_it(
    tmp_path: Path, suffix: str, channels: int
) -> None:
    """A phone's Display P3 photo keeps its profile, or its colours shift on every screen."""
    space = b"GRAY" if channels == 1 else b"RGB "
    profile = icc_profile(space)
    source = tmp_path / "in.png"
    image = Picture(smooth(min(channels, 3)), None, "made").to_pil()
    if channels == 4:
        image.putalpha(200)
    image.save(source, icc_profile=profile)
    picture = read_picture(source)
    assert picture.profile == profile
    path = tmp_path / f"out{suffix}"
    path.write_bytes(picture_bytes(picture.with_unit(picture.unit() * 0.9), suffix))
    with Image.open(path) as back:
        written = back.info.get("icc_profile")
    holds = OUTPUT_FORMATS[suffix] in {"PNG", "JPEG", "TIFF", "WEBP"}
    grey_in_webp = suffix == ".webp" and channels == 1  # WebP stores grey as RGB
    assert written == (profile if holds and not grey_in_webp else None)


def test_a_profile_that_does_not_describe_the_pixels_is_not_written(tmp_path: Path) -> None:
    """A CMYK JPEG is read as RGB: its CMYK profile would misdescribe them."""
    profile = icc_profile(b"CMYK")
    source = tmp_path / "in.jpg"
    Image.fromarray(smooth(3)).convert("CMYK").save(source, quality=95, icc_profile=profile)
    picture = read_picture(source)
    assert picture.profile == profile and picture.channels == 3
    assert profile_space(profile) == b"CMYK" and profile_space(b"short") == b""
    for suffix in (".png", ".jpg", ".tif"):
        with Image.open(io.BytesIO(picture_bytes(picture, suffix))) as back:
            assert "icc_profile" not in back.info or not back.info["icc_profile"], suffix
    # A Pillow image given directly keeps its own profile; the caller's image is not altered.
    rgb = Image.fromarray(smooth(3))
    rgb.info["icc_profile"] = icc_profile(b"RGB ")
    with Image.open(io.BytesIO(picture_bytes(rgb, ".png"))) as back:
        assert back.info["icc_profile"] == icc_profile(b"RGB ")
    assert rgb.info["icc_profile"] == icc_profile(b"RGB ")


def test_exif_rotation_keeps_the_profile(tmp_path: Path) -> None:
    stored = Image.fromarray(smooth(3))
    exif = stored.getexif()
    exif[0x0112] = 6
    path = tmp_path / "rotated.jpg"
    stored.save(path, quality=95, exif=exif, icc_profile=icc_profile(b"RGB "))
    picture = read_picture(path)
    assert picture.size == (30, 40) and picture.profile == icc_profile(b"RGB ")


def test_transparent_background_written_where_alpha_cannot_be_kept() -> None:
    """Black ink on transparent black must stay visible in every format: formats without
    alpha get the picture composited over white."""
    rgba = np.zeros((20, 30, 4), np.uint8)
    rgba[5:15, 10:20] = (20, 20, 20, 255)
    picture = read_picture(rgba)
    for suffix in OUTPUT_FORMATS:
        back = read_picture(picture_bytes(picture, suffix))
        assert (back.alpha is not None) == (suffix in ALPHA_FORMATS | {".gif"}), suffix
        seen = back.over(WHITE)
        assert seen[0, 0].min() > 0.95, suffix
        assert seen[10, 15].max() < 0.15, suffix


def test_picture_bytes_accepts_pil_and_converts_only_where_needed() -> None:
    sixteen = Image.fromarray(np.full((4, 4), 65535, np.uint16))
    back = Image.open(io.BytesIO(picture_bytes(sixteen, ".jpg")))
    assert back.mode == "L" and np.asarray(back).min() > 250
    clear = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    back = Image.open(io.BytesIO(picture_bytes(clear, ".jpg")))
    assert back.mode == "RGB" and np.asarray(back).min() > 250  # composited over white
    cmyk = Image.new("CMYK", (4, 4), (0, 0, 0, 0))
    assert Image.open(io.BytesIO(picture_bytes(cmyk, ".jpg"))).mode == "CMYK"
    assert Image.open(io.BytesIO(picture_bytes(cmyk, ".png"))).mode == "RGB"
    # No suffix: PNG.
    assert Image.open(io.BytesIO(picture_bytes(Image.new("L", (4, 4)), ""))).format == "PNG"


def test_unknown_suffix(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match=r"unsupported image suffix '\.xyz' \(valid: .*\.png"):
        picture_bytes(Image.new("L", (4, 4)), ".xyz")
    with pytest.raises(OutputError, match=r"^result: unsupported image suffix"):
        picture_bytes(Image.new("L", (4, 4)), ".xyz", label="result")
    assert list(tmp_path.iterdir()) == []


def test_suffix_tables() -> None:
    assert {".png", ".jpg", ".jpeg", ".pgm", ".webp", ".tif", ".bmp"} <= IMAGE_SUFFIXES
    assert all(s == s.lower() and s.startswith(".") for s in IMAGE_SUFFIXES)
    assert set(OUTPUT_FORMATS) <= IMAGE_SUFFIXES
    assert sorted(SIGNAL_SUFFIXES) == [".csv", ".npy", ".wav"]
    assert not SIGNAL_SUFFIXES & IMAGE_SUFFIXES


# --------------------------------------------------------------------------------- atomic writes


def test_write_bytes_atomic_writes_and_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "a.bin"
    write_bytes_atomic(b"hello", path)
    assert path.read_bytes() == b"hello"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
    path.chmod(0o640)
    write_bytes_atomic(b"again", path, overwrite=True)
    assert path.read_bytes() == b"again"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640  # the old file's permissions are kept
    assert leftovers(tmp_path) == []


def test_write_refuses_input_as_output(tmp_path: Path) -> None:
    path = make_l(tmp_path)
    before = sha(path)
    data = picture_bytes(Image.new("L", (4, 4)), ".png")
    with pytest.raises(
        OutputError, match=r"gray\.png: output path is the same as an input; refusing"
    ):
        write_bytes_atomic(data, path, inputs=[path])
    # Also through another spelling of the same path, a link, and with overwrite on.
    with pytest.raises(OutputError, match="same as an input"):
        write_bytes_atomic(data, tmp_path / "." / path.name, inputs=[path], overwrite=True)
    link = tmp_path / "link.png"
    link.symlink_to(path)
    with pytest.raises(OutputError, match="same as an input"):
        write_bytes_atomic(data, link, inputs=[path], overwrite=True)
    assert sha(path) == before
    assert leftovers(tmp_path) == []


def test_write_refuses_existing_without_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "out.png"
    path.write_bytes(b"old")
    with pytest.raises(OutputError, match=r"out\.png: exists \(pass --overwrite\)$"):
        write_bytes_atomic(b"new", path)
    assert path.read_bytes() == b"old"
    write_bytes_atomic(b"new", path, overwrite=True)
    assert path.read_bytes() == b"new"
    assert leftovers(tmp_path) == []


def test_write_refuses_a_directory(tmp_path: Path) -> None:
    folder = tmp_path / "out.png"
    folder.mkdir()
    with pytest.raises(OutputError, match=r"out\.png: is a directory, expected a file name$"):
        write_bytes_atomic(b"x", folder, overwrite=True)
    assert list(folder.iterdir()) == []


def test_write_failure_leaves_no_temp_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "out.png"
    path.write_bytes(b"old")

    def full_disk(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(atomic.os, "fsync", full_disk)
    with pytest.raises(OutputError, match=r"out\.png: cannot write \(disk full\)$"):
        write_bytes_atomic(b"new", path, overwrite=True)
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]


def test_interrupted_write_leaves_no_temp_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(src: object, dst: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(atomic.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_bytes_atomic(b"new", tmp_path / "out.png")
    assert list(tmp_path.iterdir()) == []


def test_write_to_missing_folder(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "out.png"
    with pytest.raises(OutputError, match=r"out\.png: cannot write \(folder .*missing does not"):
        write_bytes_atomic(b"x", path)
    assert not (tmp_path / "missing").exists()


def test_write_to_unwritable_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Root ignores permission bits, so the check's own question is answered "no" here.
    real_access = os.access
    monkeypatch.setattr(
        atomic.os, "access", lambda p, mode: False if Path(p) == tmp_path else real_access(p, mode)
    )
    with pytest.raises(OutputError, match=r"cannot write \(permission denied on "):
        write_bytes_atomic(b"x", tmp_path / "out.png")
    assert list(tmp_path.iterdir()) == []


def test_npy_bytes(tmp_path: Path) -> None:
    array = np.arange(12, dtype=np.float32).reshape(3, 4)
    write_bytes_atomic(npy_bytes(array), tmp_path / "z.npy")
    back = np.load(tmp_path / "z.npy", allow_pickle=False)
    assert back.dtype == np.float32
    np.testing.assert_array_equal(back, array)
    with pytest.raises(OutputError, match="exists"):
        write_bytes_atomic(npy_bytes(array), tmp_path / "z.npy")
    with pytest.raises(ValueError, match="pickle"):
        npy_bytes(np.array([{"a": 1}], dtype=object))
    assert leftovers(tmp_path) == []


# ------------------------------------------------------------------------------------ signals


def write_wav(path: Path, ints: np.ndarray, width: int, rate: int) -> bytes:
    """A PCM WAV from integer samples (T, C) of ``width`` bytes, written with ``wave``."""
    if width == 1:
        frames = (ints + 128).astype(np.uint8).tobytes()
    else:
        little = ints.astype("<i4").view(np.uint8).reshape(-1, 4)[:, :width]
        frames = np.ascontiguousarray(little).tobytes()
    with wave.open(str(path), "wb") as writer:
        writer.setnchannels(ints.shape[1])
        writer.setsampwidth(width)
        writer.setframerate(rate)
        writer.writeframes(frames)
    return frames


def wav_frames(data: bytes) -> tuple[int, int, int, bytes]:
    with wave.open(io.BytesIO(data)) as reader:
        return (
            reader.getnchannels(),
            reader.getsampwidth(),
            reader.getframerate(),
            reader.readframes(reader.getnframes()),
        )


@pytest.mark.parametrize("shape", [(50,), (3, 50), (4, 2, 50)])
def test_npy_signal_shapes(tmp_path: Path, shape: tuple[int, ...]) -> None:
    values = np.random.default_rng(0).normal(size=shape)
    path = tmp_path / "x.npy"
    np.save(path, values)
    signal = read_signal(path)
    assert signal.format == "npy" and signal.label == str(path)
    assert signal.values.dtype == np.float32 and signal.values.shape == shape
    np.testing.assert_allclose(signal.values, values.astype(np.float32))
    batch = signal.batch()
    assert batch.ndim == 3 and batch.shape[-1] == 50
    assert batch.shape == {1: (1, 1, 50), 2: (1, 3, 50), 3: (4, 2, 50)}[len(shape)]
    result = signal.like(batch * 2)
    assert result.values.shape == shape and result.format == "npy"
    back = read_signal(signal_bytes(result))
    np.testing.assert_allclose(back.values, 2 * values.astype(np.float32), rtol=1e-6)


def test_npy_integer_and_bool_dtypes_become_float32() -> None:
    for values in (np.arange(10, dtype=np.int16), np.array([True, False, True])):
        signal = read_signal(npy_bytes(values))
        assert signal.values.dtype == np.float32
        np.testing.assert_array_equal(signal.values, values.astype(np.float32))
    signal = read_signal(np.arange(6.0).reshape(2, 3))
    assert signal.label == "<array>" and signal.values.shape == (2, 3)


def test_csv_with_header(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("left, right\n0.5,-1\n0.25,2\n\n1e-3,3\n", encoding="utf-8")
    signal = read_signal(path)
    assert signal.format == "csv"
    assert signal.header == ("left", "right")
    np.testing.assert_allclose(signal.values, [[0.5, 0.25, 1e-3], [-1, 2, 3]])
    result = signal.like(signal.batch() * 2)
    text = signal_bytes(result).decode()
    assert text.splitlines()[0] == "left,right"
    back = read_signal(text.encode())
    assert back.header == ("left", "right")
    np.testing.assert_allclose(back.values, 2 * signal.values, rtol=1e-7)


def test_csv_without_header(tmp_path: Path) -> None:
    path = tmp_path / "mono.csv"
    path.write_bytes("\ufeff1\n2.5\n-3\n".encode())  # a byte-order mark is allowed
    signal = read_signal(path)
    assert signal.header is None
    assert signal.values.shape == (1, 3)
    np.testing.assert_allclose(signal.values, [[1, 2.5, -3]])
    text = signal_bytes(signal).decode()
    assert text == "1\n2.5\n-3\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1,2\n3\n4,5\n", r"CSV rows have different numbers of columns$"),
        ("a,b,c\n1,2\n", r"CSV header names 3 columns, rows hold 2$"),
        ("1,2\nx,3\n", r"CSV holds a value that is not a number"),
        ("a,b\n", r"CSV has a header but no values$"),
        ("\n , \n", r"empty CSV$"),
        ("1,nan\n2,3\n", r"values contain NaN or infinity$"),
        ("1,inf\n2,3\n", r"values contain NaN or infinity$"),
    ],
)
def test_csv_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=r"^" + str(path).replace(".", r"\.") + ": " + message):
        read_signal(path)


@pytest.mark.parametrize("width", [1, 2, 3, 4])
@pytest.mark.parametrize("channels", [1, 2])
def test_wav_round_trip_at_the_files_rate_and_width(
    tmp_path: Path, width: int, channels: int
) -> None:
    rng = np.random.default_rng(width)
    top = 1 << (8 * width - 1)
    ints = rng.integers(-top, top, size=(64, channels))
    ints[0] = -top  # full scale both ways
    ints[1] = top - 1
    rate = 11025 if width != 2 else 44100
    path = tmp_path / "sound.wav"
    frames = write_wav(path, ints, width, rate)
    signal = read_signal(path)
    assert signal.format == "wav"
    assert signal.rate == rate and signal.sample_width == width
    assert signal.values.shape == (channels, 64)
    assert signal.values.min() == -1.0 and signal.values.max() <= 1.0
    np.testing.assert_allclose(signal.values, ints.T / top, atol=1e-7 if width < 4 else 1e-6)
    data = signal_bytes(signal)
    assert wav_frames(data)[:3] == (channels, width, rate)
    if width < 4:  # float32 holds up to 24 bits exactly: the very same samples come back
        assert wav_frames(data)[3] == frames
    else:
        back = read_signal(data)
        np.testing.assert_allclose(back.values, signal.values, atol=1e-6)
    # A result out of range is clipped to full scale, never wrapped around.
    loud = signal.like(signal.batch() * 4)
    back = read_signal(signal_bytes(loud))
    assert back.values.min() == -1.0 and back.values.max() == pytest.approx(1 - 1 / top)
    assert np.array_equal(np.sign(back.values), np.sign(loud.values))


def test_format_told_by_content_not_name(tmp_path: Path) -> None:
    npy_named_csv = tmp_path / "really_npy.csv"
    npy_named_csv.write_bytes(npy_bytes(np.arange(5.0)))
    assert read_signal(npy_named_csv).format == "npy"
    wav_named_npy = tmp_path / "really_wav.npy"
    write_wav(wav_named_npy, np.zeros((10, 1), int), 2, 8000)
    wav = read_signal(wav_named_npy)
    assert wav.format == "wav" and wav.rate == 8000
    csv_named_wav = tmp_path / "really_csv.wav"
    csv_named_wav.write_text("1\n2\n")
    assert read_signal(csv_named_wav).format == "csv"
    assert read_signal(csv_named_wav.read_bytes()).label == "<stdin>"


def test_signal_errors(tmp_path: Path) -> None:
    npz = tmp_path / "several.npz"
    np.savez(npz, a=np.zeros(3), b=np.ones(3))
    with pytest.raises(InputError, match=r"several\.npz: holds several arrays \(\.npz\)"):
        read_signal(npz)
    pickled = tmp_path / "pickled.npy"
    np.save(pickled, np.array([{"x": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(InputError, match=r"pickled\.npy: not a readable \.npy array"):
        read_signal(pickled)
    empty = tmp_path / "empty.npy"
    empty.touch()
    with pytest.raises(InputError, match=r"empty\.npy: empty file$"):
        read_signal(empty)
    with pytest.raises(InputError, match=r"^<stdin>: empty file$"):
        read_signal(b"")
    nan = tmp_path / "nan.npy"
    np.save(nan, np.array([0.0, np.nan, 1.0]))
    with pytest.raises(InputError, match=r"nan\.npy: values contain NaN or infinity$"):
        read_signal(nan)
    with pytest.raises(InputError, match=r"has shape \(0,\); a signal is"):
        read_signal(npy_bytes(np.zeros(0)))
    with pytest.raises(InputError, match=r"has shape \(1, 2, 3, 4\); a signal is"):
        read_signal(npy_bytes(np.zeros((1, 2, 3, 4))))
    with pytest.raises(InputError, match=r"has shape \(\); a signal is"):
        read_signal(npy_bytes(np.float32(3)))
    with pytest.raises(InputError, match=r"values must be real numbers, got dtype complex128"):
        read_signal(npy_bytes(np.zeros(3, complex)))
    with pytest.raises(InputError, match=r"missing\.wav: no such file$"):
        read_signal(tmp_path / "missing.wav")
    with pytest.raises(InputError, match=r"not a signal file \(not \.npy, \.wav or UTF-8 CSV"):
        read_signal(b"\xff\xfe\x00binary")
    silent = tmp_path / "silent.wav"
    write_wav(silent, np.zeros((0, 1), int), 2, 8000)
    with pytest.raises(InputError, match=r"silent\.wav: WAV holds no samples$"):
        read_signal(silent)
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF\x24\x00\x00\x00WAVEjunk")
    with pytest.raises(InputError, match=r"broken\.wav: unreadable WAV"):
        read_signal(broken)
    with pytest.raises(InputError, match=r"unsupported input type int"):
        read_signal(3)  # type: ignore[arg-type]


def test_signal_like_keeps_format_and_drops_notes() -> None:
    signal = Signal(
        np.zeros((2, 8), np.float32), "x.wav", "wav", rate=8000, sample_width=2, notes=("n",)
    )
    result = signal.like(np.ones((1, 2, 8)))
    assert (result.format, result.rate, result.sample_width, result.label) == (
        "wav",
        8000,
        2,
        "x.wav",
    )
    assert result.notes == () and result.values.dtype == np.float32
    assert result.values.shape == (2, 8)
