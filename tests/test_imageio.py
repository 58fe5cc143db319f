"""Tests for aeinfer.imageio: loading any image into the MNIST frame, mapping back, writing."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from aeinfer import imageio
from aeinfer.errors import InputError, OutputError
from aeinfer.imageio import (
    IMAGE_SUFFIXES,
    LoadedImage,
    expand_inputs,
    grid,
    load_image,
    restore,
    save_npy_atomic,
    to_pil,
    write_bytes_atomic,
    write_image_atomic,
)

WIDTH, HEIGHT = 300, 200
SEVEN = [(105, 45), (195, 45), (135, 165)]


def ink_mask(width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    """A thick "7" as a boolean (H, W) mask, True where the ink is."""
    canvas = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(canvas)
    sx, sy = width / WIDTH, height / HEIGHT
    draw.line([(x * sx, y * sy) for x, y in SEVEN], fill=255, width=max(1, round(18 * sx)))
    return np.asarray(canvas) > 127


def paper(seed: int = 0) -> np.ndarray:
    """Light paper in [0, 1] with a gentle gradient and a little noise, shape (H, W)."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH]
    gradient = 0.86 + 0.1 * xs / WIDTH + 0.03 * ys / HEIGHT
    return np.clip(gradient + rng.normal(0.0, 0.02, (HEIGHT, WIDTH)), 0.0, 1.0)


def dark_on_light() -> np.ndarray:
    """Grey levels in [0, 1]: dark ink on light paper."""
    values = paper()
    values[ink_mask()] = 0.08
    return values


def u8(values: np.ndarray) -> np.ndarray:
    return (np.clip(values, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)


def photo_rgb() -> Image.Image:
    """An RGB "photo": warm-tinted paper with a gradient and noise, blue-black ink."""
    grey = dark_on_light()
    tint = np.stack([grey * 1.0, grey * 0.96, grey * 0.88], axis=-1)
    tint[ink_mask()] = (0.1, 0.1, 0.2)
    return Image.fromarray(u8(tint))


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def reference() -> np.ndarray:
    """The digit loaded from a clean white-on-black 8-bit array: what every mode should give."""
    return load_image(u8(ink_mask().astype(np.float64))).digit


def assert_digit(loaded: LoadedImage, reference: np.ndarray | None = None) -> None:
    digit = loaded.digit
    assert digit.shape == (28, 28)
    assert digit.dtype == np.float32
    assert float(digit.min()) >= 0.0 and float(digit.max()) <= 1.0
    # White on black: frame border dark, ink bright.
    border = np.concatenate([digit[0], digit[-1], digit[:, 0], digit[:, -1]])
    assert border.mean() < 0.1
    assert digit.max() > 0.9
    if reference is not None:
        correlation = np.corrcoef(digit.ravel(), reference.ravel())[0, 1]
        assert correlation > 0.9, correlation


# ------------------------------------------------------------------ building files of each mode


def make_rgb(tmp: Path) -> Path:
    path = tmp / "photo.png"
    photo_rgb().save(path)
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
    # Black ink on fully transparent *black*: only compositing over white gets this right.
    path = tmp / "rgba.png"
    rgba = np.zeros((HEIGHT, WIDTH, 4), np.uint8)
    rgba[ink_mask()] = (20, 20, 20, 255)
    Image.fromarray(rgba).save(path)
    return path


def make_la(tmp: Path) -> Path:
    path = tmp / "la.png"
    la = np.zeros((HEIGHT, WIDTH, 2), np.uint8)
    la[ink_mask()] = (10, 255)
    Image.fromarray(la).save(path)
    return path


def make_p(tmp: Path) -> Path:
    path = tmp / "palette.png"
    photo_rgb().quantize(16).save(path)
    return path


def make_p_transparent(tmp: Path) -> Path:
    # Index 0 is black and transparent (the background), index 1 is opaque dark-red ink.
    path = tmp / "palette_alpha.png"
    indices = ink_mask().astype(np.uint8)
    image = Image.fromarray(indices).convert("P")
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


def make_f(tmp: Path) -> Path:
    path = tmp / "float.tif"
    Image.fromarray(dark_on_light().astype(np.float32)).save(path)
    return path


def make_cmyk(tmp: Path) -> Path:
    path = tmp / "cmyk.jpg"
    photo_rgb().convert("CMYK").save(path, quality=95)
    return path


MAKERS = {
    "RGB": (make_rgb, "RGB", "RGB"),
    "L": (make_l, "L", "L"),
    "1": (make_1, "1", "L"),
    "RGBA": (make_rgba, "RGBA", "RGBA"),
    "LA": (make_la, "LA", "LA"),
    "P": (make_p, "P", "RGB"),
    "P-transparency": (make_p_transparent, "P", "RGBA"),
    "I;16": (make_i16, "I;16", "I;16"),
    "I": (make_i, "I", "I;16"),
    "F": (make_f, "F", "L"),
    "CMYK": (make_cmyk, "CMYK", "RGB"),
}


@pytest.mark.parametrize("kind", sorted(MAKERS))
def test_every_mode_loads_as_mnist_digit(tmp_path: Path, kind: str, reference: np.ndarray) -> None:
    make, mode, family = MAKERS[kind]
    path = make(tmp_path)
    before = sha(path)
    loaded = load_image(path)
    assert sha(path) == before, "loading must not modify the input"
    assert loaded.path == path
    assert loaded.mode == mode
    assert loaded.size == (WIDTH, HEIGHT)
    assert loaded.gray.shape == (HEIGHT, WIDTH) and loaded.gray.dtype == np.float32
    assert loaded.inverted is True
    assert_digit(loaded, reference)
    # restore: same size, same mode family, same polarity (dark on light: bright border).
    out = restore(loaded, loaded.digit)
    assert out.size == (WIDTH, HEIGHT)
    assert out.mode == family
    grey = np.asarray(out.convert("L") if out.mode != "I;16" else out, dtype=np.float64)
    top = 65535 if out.mode == "I;16" else 255
    assert grey[0].mean() > 0.6 * top and grey[:, -1].mean() > 0.6 * top
    mask = ink_mask()
    assert grey[mask].mean() < grey[~mask].mean() - 0.4 * top
    assert sha(path) == before


def test_str_path_and_bytes_and_pil_inputs(tmp_path: Path) -> None:
    path = make_l(tmp_path)
    from_str = load_image(str(path))
    from_bytes = load_image(path.read_bytes())
    with Image.open(path) as image:
        from_pil = load_image(image)
    assert from_bytes.path is None and from_pil.path is None
    np.testing.assert_allclose(from_str.digit, from_bytes.digit)
    np.testing.assert_allclose(from_str.digit, from_pil.digit)


def test_polarity_both_ways(reference: np.ndarray) -> None:
    light = dark_on_light()
    dark = 1.0 - light
    from_light = load_image(u8(light))
    from_dark = load_image(u8(dark))
    assert from_light.inverted is True
    assert from_dark.inverted is False
    assert_digit(from_light, reference)
    assert_digit(from_dark, reference)
    assert np.abs(from_light.digit - from_dark.digit).max() < 0.05
    # gray is kept in MNIST polarity either way.
    assert from_light.gray[0, 0] < 0.3 and from_dark.gray[0, 0] < 0.3


def test_fit_like_mnist_centre_of_mass_and_box() -> None:
    loaded = load_image(photo_rgb())
    digit = loaded.digit
    ys, xs = np.indices(digit.shape)
    total = digit.sum()
    cy, cx = (ys * digit).sum() / total, (xs * digit).sum() / total
    assert abs(cy - 14) <= 1.5 and abs(cx - 14) <= 1.5
    rows = np.flatnonzero((digit > 0.25).any(axis=1))
    cols = np.flatnonzero((digit > 0.25).any(axis=0))
    longest = max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1)
    assert 18 <= longest <= 21
    left, top, right, bottom = loaded.box
    assert right - left == bottom - top
    # The box holds the ink: the 7 spans about 99..201 × 36..174 in the original.
    mask = ink_mask()
    ink_rows = np.flatnonzero(mask.any(axis=1))
    assert top <= ink_rows[0] + 2 and bottom >= ink_rows[-1] - 2


def test_28x28_input_is_not_refitted() -> None:
    rng = np.random.default_rng(1)
    values = np.zeros((28, 28), np.float32)
    values[3:9, 2:7] = rng.random((6, 5)).astype(np.float32)  # deliberately off-centre
    loaded = load_image(values)
    assert loaded.fitted is False and loaded.box == (0, 0, 28, 28)
    np.testing.assert_array_equal(loaded.digit, values)
    inverted = load_image(1.0 - values)
    assert inverted.inverted is True
    np.testing.assert_allclose(inverted.digit, values, atol=1e-6)
    out = restore(inverted, inverted.digit)
    assert out.size == (28, 28) and out.mode == "L"
    np.testing.assert_allclose(np.asarray(out) / 255.0, 1.0 - values, atol=1 / 255)


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
    loaded = load_image(rotated_path)
    assert sha(rotated_path) == before
    assert loaded.size == (WIDTH, HEIGHT)
    assert any("EXIF orientation" in note for note in loaded.notes)
    expected = load_image(upright_path)
    assert not expected.notes
    assert np.abs(loaded.digit - expected.digit).mean() < 0.03


def test_animated_gif_uses_first_frame(tmp_path: Path, reference: np.ndarray) -> None:
    first = Image.fromarray(u8(dark_on_light())).convert("P")
    second = Image.new("P", (WIDTH, HEIGHT), 0)
    path = tmp_path / "anim.gif"
    first.save(path, save_all=True, append_images=[second], duration=100, loop=0)
    loaded = load_image(path)
    assert any("animated" in note and "first frame" in note for note in loaded.notes)
    assert_digit(loaded, reference)


def test_sixteen_bit_is_scaled_not_clipped(tmp_path: Path) -> None:
    path = make_i16(tmp_path)
    loaded = load_image(path)
    paper_level = 1.0 - 60000 / 65535  # MNIST polarity
    assert loaded.background == pytest.approx(paper_level, abs=1e-4)
    assert loaded.gray[ink_mask()].mean() == pytest.approx(1.0 - 3000 / 65535, abs=1e-4)
    out = restore(loaded, loaded.digit)
    assert out.mode == "I;16"
    values = np.asarray(out)
    assert values.dtype == np.uint16
    assert abs(int(values[0, 0]) - 60000) <= 2
    assert values.max() > 255


def test_palette_transparency_composited_over_white(tmp_path: Path) -> None:
    loaded = load_image(make_p_transparent(tmp_path))
    assert loaded.inverted is True
    assert loaded.background == pytest.approx(0.0, abs=1e-6)


def test_array_inputs() -> None:
    mask = ink_mask()
    as_u8 = load_image(u8(mask.astype(np.float64)))
    as_float = load_image(mask.astype(np.float32))
    as_bool = load_image(mask)
    assert as_u8.path is None and as_u8.inverted is False
    np.testing.assert_allclose(as_u8.digit, as_float.digit, atol=1e-5)
    np.testing.assert_allclose(as_u8.digit, as_bool.digit, atol=1e-5)
    with pytest.raises(InputError, match=r"^<array>: array values outside \[0, 1\]"):
        load_image(mask.astype(np.float32) * 2)
    with pytest.raises(InputError, match="NaN"):
        load_image(np.full((10, 10), np.nan))
    with pytest.raises(InputError, match="2-D"):
        load_image(np.zeros((10, 10, 3), np.uint8))
    with pytest.raises(InputError, match="dtype"):
        load_image(np.zeros((10, 10), np.int64))


def test_blank_image_uses_whole_frame() -> None:
    loaded = load_image(np.zeros((40, 30), np.uint8))
    assert loaded.digit.max() == 0.0
    assert any("no ink" in note for note in loaded.notes)
    assert restore(loaded, loaded.digit).size == (30, 40)


# ------------------------------------------------------------------------------- input errors


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.png"
    with pytest.raises(InputError, match=r"nope\.png: no such file$"):
        load_image(path)


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is a directory, expected an image file"):
        load_image(tmp_path)


def test_zero_byte_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.png"
    path.touch()
    with pytest.raises(InputError, match=r"empty\.png: empty file"):
        load_image(path)
    with pytest.raises(InputError, match=r"^<stdin>: empty file"):
        load_image(b"")


def test_truncated_png(tmp_path: Path) -> None:
    full = tmp_path / "full.png"
    Image.fromarray(u8(dark_on_light())).save(full)
    data = full.read_bytes()
    cut = tmp_path / "cut.png"
    cut.write_bytes(data[: len(data) // 2])
    before = sha(cut)
    with pytest.raises(InputError, match=r"cut\.png: truncated or corrupt image \(") as info:
        load_image(cut)
    assert "\n" not in str(info.value)
    assert sha(cut) == before
    with pytest.raises(InputError, match=r"^<stdin>: truncated or corrupt image"):
        load_image(data[: len(data) // 2])


def test_text_file_named_png(tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("hello, not an image\n")
    with pytest.raises(InputError, match=r"notes\.png: not an image file \(cannot identify"):
        load_image(path)


@pytest.mark.parametrize("limit", [1000, 6000])
def test_decompression_bomb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: int) -> None:
    # 1000: 10000 pixels is over twice the limit (error); 6000: over the limit only (warning).
    path = tmp_path / "big.png"
    Image.new("L", (100, 100), 255).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", limit)
    with pytest.raises(InputError, match=r"big\.png: image too large \(decompression bomb guard"):
        load_image(path)
    monkeypatch.undo()
    assert load_image(path).size == (100, 100)


def test_too_small(tmp_path: Path) -> None:
    path = tmp_path / "dot.png"
    Image.new("L", (1, 1), 0).save(path)
    with pytest.raises(InputError, match=r"dot\.png: image too small \(1×1\)"):
        load_image(path)


# --------------------------------------------------------------------------- restore and tiles


def test_restore_maps_digit_back_into_box() -> None:
    source = photo_rgb()
    loaded = load_image(source)
    out = restore(loaded, loaded.digit)
    assert out.mode == "RGB" and out.size == source.size
    restored = np.asarray(out.convert("L"), dtype=np.float64) / 255.0
    original = np.asarray(source.convert("L"), dtype=np.float64) / 255.0
    mask = ink_mask()
    assert restored[mask].mean() < 0.35  # ink comes back dark
    assert restored[~mask].mean() > 0.8  # paper comes back light
    assert np.abs(restored - original).mean() < 0.1
    # Outside the box the background level is used, not the noisy original pixels.
    left = loaded.box[0]
    assert np.ptp(restored[:, : max(left, 1)]) < 0.01
    # A blank result gives a blank page.
    blank = np.asarray(restore(loaded, np.zeros((28, 28), np.float32)).convert("L"))
    assert np.ptp(blank) <= 1
    with pytest.raises(InputError):
        restore(loaded, np.zeros((20, 20)))


def test_to_pil_and_grid() -> None:
    digits = np.random.default_rng(0).random((5, 28, 28)).astype(np.float32)
    single = to_pil(digits[0])
    assert single.mode == "L" and single.size == (28, 28)
    np.testing.assert_array_equal(np.asarray(single), (digits[0] * 255 + 0.5).astype(np.uint8))
    tiles = grid(digits)  # 3 columns, 2 rows
    assert tiles.mode == "L" and tiles.size == (3 * 30 + 2, 2 * 30 + 2)
    arr = np.asarray(tiles)
    assert arr[0].max() == 0 and arr[:, 0].max() == 0  # black padding
    big = grid(digits, columns=5, pad=0, scale=2)
    assert big.size == (5 * 56, 56)
    np.testing.assert_array_equal(np.asarray(big)[:2, :2], np.asarray(single)[0, 0])


# ------------------------------------------------------------------------------ atomic writing


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_write_image_atomic_roundtrip(tmp_path: Path) -> None:
    image = Image.fromarray(u8(dark_on_light()))
    for suffix in (".png", ".jpg", ".bmp", ".tif", ".webp", ".pgm"):
        path = tmp_path / f"out{suffix}"
        write_image_atomic(image, path)
        with Image.open(path) as back:
            assert back.size == image.size
    # Modes a format cannot store are converted, 16-bit scaled rather than clipped.
    sixteen = Image.fromarray(np.full((4, 4), 65535, np.uint16))
    write_image_atomic(sixteen, tmp_path / "sixteen.jpg")
    with Image.open(tmp_path / "sixteen.jpg") as back:
        assert back.mode == "L" and np.asarray(back).min() > 250
    rgba = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    write_image_atomic(rgba, tmp_path / "clear.jpg")
    with Image.open(tmp_path / "clear.jpg") as back:
        assert np.asarray(back).min() > 250  # composited over white
    assert leftovers(tmp_path) == []


def test_write_refuses_input_as_output(tmp_path: Path) -> None:
    path = make_l(tmp_path)
    before = sha(path)
    image = Image.new("L", (4, 4))
    with pytest.raises(OutputError, match="output path is the same as an input; refusing"):
        write_image_atomic(image, path, inputs=[path])
    # Also through a different spelling of the same path.
    with pytest.raises(OutputError, match="same as an input"):
        write_image_atomic(image, tmp_path / "." / path.name, inputs=[path])
    with pytest.raises(OutputError, match="same as an input"):
        write_bytes_atomic(b"x", path, inputs=[Path(str(path))])
    assert sha(path) == before


def test_write_refuses_existing_without_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "out.png"
    path.write_bytes(b"old")
    with pytest.raises(OutputError, match=r"out\.png: exists \(pass --overwrite\)"):
        write_image_atomic(Image.new("L", (4, 4)), path, overwrite=False)
    assert path.read_bytes() == b"old"
    write_image_atomic(Image.new("L", (4, 4)), path, overwrite=True)
    with Image.open(path) as back:
        assert back.size == (4, 4)
    assert leftovers(tmp_path) == []


def test_write_failure_leaves_no_temp_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "out.png"
    path.write_bytes(b"old")

    def broken_save(self: Image.Image, *args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(OutputError, match=r"out\.png: cannot write \(disk full\)"):
        write_image_atomic(Image.new("L", (4, 4)), path)
    assert path.read_bytes() == b"old"
    assert leftovers(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]


def test_write_to_missing_directory(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "out.png"
    with pytest.raises(OutputError, match=r"cannot write \(parent directory missing\)"):
        write_image_atomic(Image.new("L", (4, 4)), path)
    with pytest.raises(OutputError, match="parent directory missing"):
        save_npy_atomic(np.zeros(3), tmp_path / "missing" / "z.npy")
    assert not (tmp_path / "missing").exists()


def test_write_unknown_suffix(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match=r"unsupported image suffix '\.xyz' \(valid: .*\.png"):
        write_image_atomic(Image.new("L", (4, 4)), tmp_path / "out.xyz")
    assert list(tmp_path.iterdir()) == []


def test_write_bytes_and_npy(tmp_path: Path) -> None:
    write_bytes_atomic(b"hello", tmp_path / "a.bin")
    assert (tmp_path / "a.bin").read_bytes() == b"hello"
    array = np.arange(12, dtype=np.float32).reshape(3, 4)
    save_npy_atomic(array, tmp_path / "z.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "z.npy"), array)
    with pytest.raises(OutputError, match="exists"):
        save_npy_atomic(array, tmp_path / "z.npy", overwrite=False)
    with pytest.raises(OutputError, match=r"\.npy"):
        save_npy_atomic(array, tmp_path / "z.txt")
    assert leftovers(tmp_path) == []


# ---------------------------------------------------------------------------- folder expansion


def test_expand_inputs_keeps_layout_and_skips_outputs(tmp_path: Path) -> None:
    root = tmp_path / "scans"
    (root / "b" / "deep").mkdir(parents=True)
    (root / ".hidden").mkdir()
    tiny = Image.new("L", (4, 4))
    for rel in ("a.png", "b/c.JPG", "b/deep/d.bmp", "z.tiff"):
        tiny.save(root / rel, format="PNG")
    for rel in ("a.denoised.png", "b/c.reconstructed.png", ".secret.png", ".hidden/e.png"):
        tiny.save(root / rel, format="PNG")
    (root / "readme.txt").write_text("not an image")
    single = tmp_path / "one.png"
    tiny.save(single)

    pairs = expand_inputs([root, single])
    assert [rel.as_posix() for _, rel in pairs] == [
        "a.png",
        "b/c.JPG",
        "b/deep/d.bmp",
        "z.tiff",
        "one.png",
    ]
    assert pairs[1][0] == root / "b" / "c.JPG"
    assert pairs[-1] == (single, Path("one.png"))
    assert expand_inputs([root]) == pairs[:-1]  # deterministic


def test_expand_inputs_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"ghost: no such file or directory"):
        expand_inputs([tmp_path / "ghost"])
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "old.denoised.png").write_bytes(b"")
    with pytest.raises(InputError, match=r"empty: no image files found"):
        expand_inputs([empty])


def test_image_suffixes() -> None:
    assert {".png", ".jpg", ".jpeg", ".pgm", ".webp"} <= IMAGE_SUFFIXES
    assert all(s == s.lower() and s.startswith(".") for s in IMAGE_SUFFIXES)
    assert set(imageio.OUTPUT_FORMATS) <= IMAGE_SUFFIXES


def test_bytes_input_never_touches_disk() -> None:
    buffer = io.BytesIO()
    Image.fromarray(u8(dark_on_light())).save(buffer, format="PNG")
    loaded = load_image(buffer.getvalue())
    assert loaded.path is None and loaded.inverted is True


@pytest.mark.parametrize("size", [1, 2, 7, 8, 101])
def test_median_is_numpys(size: int) -> None:
    values = np.random.default_rng(size).random(size).astype(np.float32)
    assert imageio._median(values) == float(np.median(values))
