"""The generative and analysis commands: reconstruct, score, sample, manifold, interpolate,
scatter; stdin and stdout; and the score distribution the exporter writes into the card.

Models are smoke-trained (a few steps), so nothing here depends on how good a model is, only on
geometry computed from :mod:`aeinfer.generate`'s constants, on agreement with the Python API
(``aeinfer.load``) to 8-bit precision, and on behaviour: files written or not, one-line errors.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner, Result

import aeinfer
from aeinfer import generate
from aeinfer.cli import app
from aeinfer.imageio import DIGIT_SIZE
from aeinfer.quality import SCORE_METRIC, SCORE_QUANTILE_STEPS, percentile_of, score_per_image
from aeinfer.train.registry import FAMILIES

ERROR_PREFIX = "aeinfer: error:"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_END = b"IEND\xaeB`\x82"
EIGHT_BIT = 1.0 / 255.0 + 1e-6
N_DIGITS = 6
SCATTER_LIMIT = 200
# The conftest's smoke exports score this many test images (SMOKE_SCORE_IMAGES).
SMOKE_SCORED = 1000

runner = CliRunner()


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def invoke(*args: object, stdin: bytes | None = None) -> Result:
    """Run the CLI in-process; no exception may escape, no traceback may be printed."""
    result = runner.invoke(app, [str(arg) for arg in args], input=stdin)
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"uncaught {result.exception!r}\n{result.output}"
    )
    assert "Traceback" not in result.output
    return result


def ok(*args: object, stdin: bytes | None = None) -> Result:
    result = invoke(*args, stdin=stdin)
    assert result.exit_code == 0, result.output
    return result


def assert_one_error(result: Result, *names: str) -> str:
    """Exit code 1, exactly one error line naming each of ``names``, nothing on stdout."""
    assert result.exit_code == 1, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith(ERROR_PREFIX)]
    assert len(errors) == 1, result.stderr
    for name in names:
        assert name in errors[0], errors[0]
    assert result.stdout_bytes == b""
    return errors[0]


def snapshot(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): "<dir>"
        if path.is_dir()
        else hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
    }


def gray(source: Path | bytes) -> np.ndarray:
    """An image file (or its bytes) as float grey levels in [0, 1]."""
    data = source if isinstance(source, bytes) else source.read_bytes()
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("L"), dtype=np.float32) / 255.0


def shrink(tile: np.ndarray, scale: int = generate.DIGIT_SCALE) -> np.ndarray:
    """Undo a nearest-neighbour enlargement by ``scale``."""
    return tile[::scale, ::scale]


def assert_only_png(data: bytes) -> Image.Image:
    """``data`` is one whole PNG file and nothing else (no text before or after it)."""
    assert data.startswith(PNG_SIGNATURE), data[:40]
    assert data.endswith(PNG_END), data[-40:]
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


# --------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def test_split(mnist_dir: Path):
    from aeinfer.train.data import load_split

    return load_split("test", mnist_dir)


@pytest.fixture
def digit_files(tmp_path: Path, test_split) -> list[Path]:
    """The first N_DIGITS MNIST test digits as 28×28 PNG files."""
    folder = tmp_path / "digits"
    folder.mkdir()
    files = []
    for index in range(N_DIGITS):
        path = folder / f"d{index}.png"
        Image.fromarray(test_split.images[index]).save(path)
        files.append(path)
    return files


@pytest.fixture
def vae_dir(smoke) -> Path:
    return smoke("vae").model_dir


@pytest.fixture
def conv_dir(smoke) -> Path:
    return smoke("conv").model_dir


# --------------------------------------------------------------------------------------------
# reconstruct
# --------------------------------------------------------------------------------------------


def test_reconstruct_sheet_geometry_and_tiles(
    tmp_path: Path, digit_files: list[Path], conv_dir: Path
) -> None:
    out = tmp_path / "sheet.png"
    result = ok("reconstruct", *digit_files, "-o", out, "--model", conv_dir, "--device", "cpu")
    assert str(N_DIGITS) in result.stderr

    columns = min(N_DIGITS, generate.SHEET_PAIRS_PER_ROW)
    rows = math.ceil(N_DIGITS / columns)
    tile, pad = DIGIT_SIZE * generate.DIGIT_SCALE, generate.TILE_PAD
    width = 2 * pad + columns * (2 * tile + pad) + (columns - 1) * generate.PAIR_GAP
    height = generate.LABEL_BAND + pad + rows * (tile + pad)
    sheet = gray(out)
    assert sheet.shape == (height, width)

    model = aeinfer.load(conv_dir, device="cpu")
    originals = model.as_images([str(f) for f in digit_files])
    recons = model.reconstruct(originals)
    for index in range(N_DIGITS):
        row, column = divmod(index, generate.SHEET_PAIRS_PER_ROW)
        x = pad + column * (2 * tile + pad + generate.PAIR_GAP)
        y = generate.LABEL_BAND + pad + row * (tile + pad)
        left = shrink(sheet[y : y + tile, x : x + tile])
        right = shrink(sheet[y : y + tile, x + tile + pad : x + 2 * tile + pad])
        assert np.abs(left - originals[index]).max() <= EIGHT_BIT
        assert np.abs(right - recons[index]).max() <= EIGHT_BIT
    # The column labels are drawn in the header band.
    assert sheet[: generate.LABEL_BAND].min() < 0.5


def test_reconstruct_per_file_is_side_by_side_at_the_input_size(
    tmp_path: Path, test_split, conv_dir: Path
) -> None:
    # Dark ink on light paper, not 28×28: the picture keeps the input's size and polarity.
    source = tmp_path / "scan.png"
    Image.fromarray(255 - test_split.images[3]).resize((60, 45)).save(source)
    ok("reconstruct", source, "--per-file", "--model", conv_dir, "--device", "cpu")
    target = tmp_path / "scan.reconstructed.png"
    with Image.open(target) as image:
        assert image.size == (120, 45)
        assert image.mode == "L"
    both = gray(target)
    assert np.abs(both[:, :60] - gray(source)).max() <= EIGHT_BIT  # the original, unchanged
    # The right half is what denoise-style mapping writes for the same model and input.
    alone = tmp_path / "alone.png"
    ok("denoise", source, "-o", alone, "--model", conv_dir, "--device", "cpu")
    np.testing.assert_array_equal(both[:, 60:], gray(alone))

    # Into a folder, layout kept; the input folder untouched.
    nested = tmp_path / "in" / "sub"
    nested.mkdir(parents=True)
    shutil.copy(source, nested / "a.png")
    before = snapshot(tmp_path / "in")
    out = tmp_path / "out"
    ok("reconstruct", tmp_path / "in", "--per-file", "-o", out, "--model", conv_dir)
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*.png")) == ["sub/a.png"]
    assert snapshot(tmp_path / "in") == before


def test_reconstruct_sheet_needs_an_output(
    tmp_path: Path, digit_files: list[Path], conv_dir: Path
) -> None:
    before = snapshot(tmp_path)
    result = invoke("reconstruct", *digit_files, "--model", conv_dir)
    assert_one_error(result, "-o", "--per-file")
    assert snapshot(tmp_path) == before


# --------------------------------------------------------------------------------------------
# sample
# --------------------------------------------------------------------------------------------


def test_sample_is_reproducible_and_its_latents_decode_to_the_same_grid(
    tmp_path: Path, vae_dir: Path
) -> None:
    count = 6
    args = ("--model", vae_dir, "--device", "cpu", "-n", count)
    ok("sample", *args, "--seed", 7, "-o", tmp_path / "a.png")
    ok("sample", *args, "--seed", 7, "-o", tmp_path / "b.png")
    ok("sample", *args, "--seed", 8, "-o", tmp_path / "c.png")
    a, b, c = (gray(tmp_path / name) for name in ("a.png", "b.png", "c.png"))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)

    columns = math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    assert a.shape == (rows * (DIGIT_SIZE + 2) + 2, columns * (DIGIT_SIZE + 2) + 2)

    # The same draws as the API's sample(), to 8 bits, in grid order.
    expected = aeinfer.load(vae_dir, device="cpu").sample(count, seed=7)
    first = a[2 : 2 + DIGIT_SIZE, 2 : 2 + DIGIT_SIZE]
    assert np.abs(first - expected[0]).max() <= EIGHT_BIT

    # --format npy: the images; --latents: the codes, which decode redraws as the same grid.
    ok("sample", *args, "--seed", 7, "--format", "npy", "-o", tmp_path / "x.npy")
    images = np.load(tmp_path / "x.npy")
    assert images.shape == (count, DIGIT_SIZE, DIGIT_SIZE) and images.dtype == np.float32
    np.testing.assert_allclose(images, expected, atol=1e-6)
    ok("sample", *args, "--seed", 7, "--format", "npy", "--latents", "-o", tmp_path / "z.npy")
    assert np.load(tmp_path / "z.npy").shape == (count, 2)
    ok("decode", tmp_path / "z.npy", "-o", tmp_path / "d.png", "--model", vae_dir)
    assert (tmp_path / "d.png").read_bytes() == (tmp_path / "a.png").read_bytes()


def test_sample_without_a_seed_reports_the_seed_it_drew(tmp_path: Path, vae_dir: Path) -> None:
    result = ok("sample", "--model", vae_dir, "-n", 3, "-o", tmp_path / "a.png")
    seed = int(result.stderr.split("seed ")[1].split()[0].rstrip(","))
    ok("sample", "--model", vae_dir, "-n", 3, "--seed", seed, "-o", tmp_path / "b.png")
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()


# --------------------------------------------------------------------------------------------
# manifold
# --------------------------------------------------------------------------------------------


def test_manifold_geometry_orientation_and_labels(tmp_path: Path, vae_dir: Path) -> None:
    size, extent = 5, 3.0
    out = tmp_path / "manifold.png"
    ok("manifold", "--size", size, "--range", extent, "-o", out, "--model", vae_dir)
    picture = gray(out)
    side = size * DIGIT_SIZE
    assert picture.shape == (
        generate.AXIS_MARGIN_TOP + side + generate.AXIS_MARGIN_BOTTOM,
        generate.AXIS_MARGIN_LEFT + side + generate.AXIS_MARGIN_RIGHT,
    )
    top, left = generate.AXIS_MARGIN_TOP, generate.AXIS_MARGIN_LEFT
    cells = picture[top : top + side, left : left + side]
    tiles = cells.reshape(size, DIGIT_SIZE, size, DIGIT_SIZE).transpose(0, 2, 1, 3)

    # Cell (row, column) is decode([z0, z1]) with z0 rising to the right, z1 falling downwards.
    model = aeinfer.load(vae_dir, device="cpu")
    values = np.linspace(-extent, extent, size)
    for row, column in [(0, 0), (0, size - 1), (size - 1, 0), (size // 2, size // 2)]:
        z = np.array([[values[column], values[::-1][row]]], dtype=np.float32)
        assert np.abs(tiles[row, column] - model.decode(z)[0]).max() <= EIGHT_BIT
    flat = tiles.reshape(size * size, -1)
    assert len({cell.tobytes() for cell in flat}) > size * size // 2  # cells really differ
    assert not np.array_equal(tiles[0, 0], tiles[-1, -1])

    # Tick labels and axis names are drawn in the (white) margins.
    assert picture[top + side + generate.TICK_LENGTH :, left : left + side].min() < 0.5
    assert picture[top : top + side, : left - generate.TICK_LENGTH].min() < 0.5


# --------------------------------------------------------------------------------------------
# interpolate
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("family", list(FAMILIES))
def test_interpolation_strip_ends_are_the_reconstructions(
    tmp_path: Path, digit_files: list[Path], smoke, family: str
) -> None:
    model_dir = smoke(family).model_dir
    steps = 5
    first, last = digit_files[0], digit_files[1]
    out = tmp_path / "strip.png"
    ok("interpolate", first, last, "--steps", steps, "-o", out, "--model", model_dir)
    strip = gray(out)
    tile, pad = DIGIT_SIZE * generate.DIGIT_SCALE, generate.TILE_PAD
    assert strip.shape == (tile + 2 * pad, steps * (tile + pad) + pad)

    model = aeinfer.load(model_dir, device="cpu")
    ends = model.reconstruct([str(first), str(last)])
    for step, expected in ((0, ends[0]), (steps - 1, ends[1])):
        x = pad + step * (tile + pad)
        assert np.abs(shrink(strip[pad : pad + tile, x : x + tile]) - expected).max() <= EIGHT_BIT

    npy = tmp_path / "strip.npy"
    ok("interpolate", first, last, "--steps", steps, "--format", "npy", "-o", npy, "-m", model_dir)
    array = np.load(npy)
    assert array.shape == (steps, DIGIT_SIZE, DIGIT_SIZE) and array.dtype == np.float32
    np.testing.assert_allclose(array[[0, -1]], ends, atol=1e-5)


# --------------------------------------------------------------------------------------------
# scatter
# --------------------------------------------------------------------------------------------


def test_scatter_draws_every_digit_colour_with_axes(
    tmp_path: Path, vae_dir: Path, mnist_dir: Path
) -> None:
    out = tmp_path / "scatter.png"
    result = ok(
        "scatter", "--data", mnist_dir, "--limit", SCATTER_LIMIT, "-o", out, "--model", vae_dir
    )
    assert str(SCATTER_LIMIT) in result.stderr
    with Image.open(out) as image:
        assert image.mode == "RGB"
        assert image.size == (
            generate.AXIS_MARGIN_LEFT + generate.PLOT_SIZE + generate.LEGEND_WIDTH,
            generate.TITLE_BAND + generate.PLOT_SIZE + generate.AXIS_MARGIN_BOTTOM,
        )
        pixels = np.asarray(image)
    colours = {tuple(int(v) for v in p) for p in np.unique(pixels.reshape(-1, 3), axis=0)}
    assert len(generate.LABEL_COLOURS) == 10
    assert set(generate.LABEL_COLOURS) <= colours
    # Points: far more coloured pixels inside the plot than the legend's swatches alone hold.
    plot = pixels[
        generate.TITLE_BAND : generate.TITLE_BAND + generate.PLOT_SIZE,
        generate.AXIS_MARGIN_LEFT : generate.AXIS_MARGIN_LEFT + generate.PLOT_SIZE,
    ]
    coloured = (plot.max(axis=-1) - plot.min(axis=-1)) > 0
    assert coloured.sum() > SCATTER_LIMIT
    assert (pixels.sum(axis=-1) == 0).any()  # black axes and labels


# --------------------------------------------------------------------------------------------
# score, and the distribution in the card
# --------------------------------------------------------------------------------------------


def test_card_carries_the_score_distribution_the_runtime_reproduces(
    conv_dir: Path, test_split
) -> None:
    model = aeinfer.load(conv_dir, device="cpu")
    dist = model.info["score"]
    assert dist["metric"] == SCORE_METRIC and dist["count"] == SMOKE_SCORED
    assert set(dist["percentiles"]) == {"50", "90", "95", "99", "99.9"}
    quantiles = np.asarray(dist["quantiles"])
    assert quantiles.shape == (SCORE_QUANTILE_STEPS + 1,)
    assert np.all(np.diff(quantiles) >= 0)
    images = test_split.images[:SMOKE_SCORED].astype(np.float32) / 255.0
    scores = score_per_image(model.reconstruct(images), images)
    assert dist["mean"] == pytest.approx(scores.mean(), rel=1e-3)
    for key, value in dist["percentiles"].items():
        assert value == pytest.approx(np.percentile(scores, float(key)), rel=1e-3)


def test_score_is_the_reconstruction_mse_with_a_monotone_percentile(
    tmp_path: Path, digit_files: list[Path], conv_dir: Path
) -> None:
    blank = tmp_path / "blank.png"
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(blank)
    noise = tmp_path / "noise.png"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (28, 28), dtype=np.uint8)).save(noise)
    files = [*digit_files, blank, noise]

    result = ok("score", *files, "--model", conv_dir, "--device", "cpu", "--json")
    report = json.loads(result.stdout)
    assert [row["path"] for row in report["scores"]] == [str(f) for f in files]
    model = aeinfer.load(conv_dir, device="cpu")
    images = model.as_images([str(f) for f in files])
    expected = score_per_image(model.reconstruct(images), images)
    got = np.array([row["score"] for row in report["scores"]])
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-9)
    percentiles = np.array([row["percentile"] for row in report["scores"]])
    assert np.all(percentiles[np.argsort(got)][1:] >= percentiles[np.argsort(got)][:-1])
    assert ((percentiles >= 0) & (percentiles <= 100)).all()
    dist = report["distribution"]
    assert dist == model.info["score"]
    for score, percentile in zip(got, percentiles, strict=True):
        assert percentile == pytest.approx(percentile_of(score, dist))

    # The text form: "path  score  percentile" per line on stdout, the distribution on stderr.
    text = ok("score", *files, "--model", conv_dir)
    lines = text.stdout.splitlines()
    assert len(lines) == len(files)
    for line, row in zip(lines, report["scores"], strict=True):
        path, score, percentile = line.split()
        assert path == row["path"]
        assert float(score) == pytest.approx(row["score"], abs=1e-6)
        assert float(percentile) == pytest.approx(row["percentile"], abs=0.051)
    assert "p99" in text.stderr


def test_score_without_a_distribution_in_the_card_still_scores(
    tmp_path: Path, digit_files: list[Path], conv_dir: Path
) -> None:
    old = tmp_path / "old-export"
    shutil.copytree(conv_dir, old)
    card = json.loads((old / "card.json").read_text())
    del card["score"]
    (old / "card.json").write_text(json.dumps(card))
    result = ok("score", digit_files[0], "--model", old)
    path, score, percentile = result.stdout.split()
    assert path == str(digit_files[0]) and float(score) >= 0 and percentile == "-"
    assert "unavailable" in result.stderr
    report = json.loads(ok("score", digit_files[0], "--model", old, "--json").stdout)
    assert report["distribution"] is None and report["scores"][0]["percentile"] is None


def test_score_reports_a_bad_file_and_scores_the_rest(
    tmp_path: Path, digit_files: list[Path], conv_dir: Path
) -> None:
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    result = invoke("score", digit_files[0], bad, "--model", conv_dir)
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith(ERROR_PREFIX)]
    assert len(errors) == 1 and "bad.png" in errors[0]
    assert len(result.stdout.splitlines()) == 1


# --------------------------------------------------------------------------------------------
# stdin and stdout
# --------------------------------------------------------------------------------------------


def test_denoise_from_stdin_to_stdout_gives_only_png_bytes(digit_files: list[Path]) -> None:
    result = ok("denoise", "-", "-o", "-", "--device", "cpu", stdin=digit_files[0].read_bytes())
    image = assert_only_png(result.stdout_bytes)
    assert image.size == (28, 28)
    expected = aeinfer.load("denoise", device="cpu").reconstruct(str(digit_files[0]))[0]
    assert np.abs(gray(result.stdout_bytes) - expected).max() <= EIGHT_BIT
    assert "denoised 1" in result.stderr


def test_reconstruct_per_file_from_stdin_to_stdout(digit_files: list[Path], conv_dir: Path) -> None:
    data = digit_files[2].read_bytes()
    result = ok("reconstruct", "-", "-o", "-", "--per-file", "--model", conv_dir, stdin=data)
    assert assert_only_png(result.stdout_bytes).size == (2 * DIGIT_SIZE, DIGIT_SIZE)
    sheet = ok("reconstruct", "-", "-o", "-", "--model", conv_dir, stdin=data)
    assert assert_only_png(sheet.stdout_bytes).size == generate.sheet_size(1)
    scored = ok("score", "-", "--model", conv_dir, stdin=data)
    assert scored.stdout.split()[0] == "-"


def test_picture_commands_write_png_to_stdout(
    digit_files: list[Path], vae_dir: Path, mnist_dir: Path
) -> None:
    model = ("--model", vae_dir)
    commands = [
        ("sample", "-n", 4, "--seed", 1, "-o", "-", *model),
        ("manifold", "--size", 3, "-o", "-", *model),
        ("interpolate", "-", digit_files[1], "--steps", 3, "-o", "-", *model),
        ("scatter", "--data", mnist_dir, "--limit", 50, "-o", "-", *model),
    ]
    for args in commands:
        result = ok(*args, stdin=digit_files[0].read_bytes())
        assert_only_png(result.stdout_bytes)
        assert "aeinfer:" in result.stderr


def test_stdin_to_stdout_in_a_real_process(tmp_path: Path, digit_files: list[Path]) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "aeinfer.cli", "denoise", "-", "-o", "-", "--device", "cpu"],
        input=digit_files[0].read_bytes(),
        capture_output=True,
        cwd=cwd,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert_only_png(done.stdout)
    assert b"denoised 1" in done.stderr
    assert list(cwd.iterdir()) == []


# --------------------------------------------------------------------------------------------
# Errors: one line, nothing written
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["manifold", "-o", "{d}/m.png", "-m", "{conv}"], ["manifold", "variational", "conv"]),
        (["sample", "-o", "{d}/s.png", "-m", "{conv}"], ["not variational", "conv"]),
        (["scatter", "--limit", "10", "-o", "{d}/s.png", "-m", "{conv}"], ["2-D", "conv"]),
        (["sample", "-o", "{d}/s.png", "-m", "{vae}", "--latents"], ["--format npy"]),
        (["interpolate", "-", "-", "-o", "{d}/i.png", "-m", "{vae}"], ["stdin"]),
        (["reconstruct", "-", "--per-file", "-m", "{conv}"], ["stdin", "-o"]),
        (["denoise", "{d}/digits", "-o", "-"], ["stdout", f"{N_DIGITS} inputs"]),
    ],
)
def test_error_is_one_line_and_writes_nothing(
    tmp_path: Path,
    digit_files: list[Path],
    conv_dir: Path,
    vae_dir: Path,
    args: list[str],
    names: list[str],
) -> None:
    argv = [arg.format(d=tmp_path, conv=conv_dir, vae=vae_dir) for arg in args]
    before = snapshot(tmp_path)
    result = invoke(*argv, stdin=digit_files[0].read_bytes())
    assert_one_error(result, *names)
    assert snapshot(tmp_path) == before


def test_generation_modules_import_without_torch() -> None:
    code = (
        "import sys, aeinfer.generate, aeinfer.jobs, aeinfer.train.data\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'onnx', 'matplotlib'}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


NEW_COMMANDS = ("reconstruct", "score", "sample", "manifold", "interpolate", "scatter")


def test_new_commands_are_documented_in_help() -> None:
    listing = ok("--help").stdout
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    for command in NEW_COMMANDS:
        assert command in listing, command
        assert f"aeinfer {command} " in readme, command
        help_text = ok(command, "--help").stdout
        assert "--model" in help_text and "--device" in help_text, command
