"""The picture and analysis commands — reconstruct, score, sample, manifold, interpolate,
scatter — with stdin and stdout, the one overwrite rule of every command that writes, and the
score distribution the exporter writes into the card.

Models are smoke-trained (a few steps), so nothing here depends on how good a model is, only on
geometry computed from :mod:`aeinfer.render` and :mod:`aeinfer.plots`'s constants, on agreement
with the tensor-level model (``aeinfer.load(...).model``) to 8-bit precision, and on behaviour:
files written or not, one-line errors.
"""

from __future__ import annotations

import io
import json
import math
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from helpers import assert_one_error, invoke, ok, snapshot
from PIL import Image
from typer.testing import Result

import aeinfer
from aeinfer import plots, render
from aeinfer.mnist import Split
from aeinfer.scores import SCORE_PERCENTILES, SCORE_QUANTILE_STEPS, percentile_of, score_per_item
from aeinfer.train.registry import FAMILIES

ERROR_PREFIX = "aeinfer: error:"
SKIP_TEXT = "(exists; pass --overwrite)"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_END = b"IEND\xaeB`\x82"
NPY_MAGIC = b"\x93NUMPY"
EIGHT_BIT = 1.0 / 255.0 + 1e-6
DIGIT = 28
SCALE = 4
"""Sheets and strips enlarge a 28×28 digit ×4 (render.TILE_TARGET 112 / 28)."""
TILE = DIGIT * SCALE
N_DIGITS = 6
SCATTER_LIMIT = 200
# The conftest's smoke exports score this many test images (SMOKE_SCORE_IMAGES).
SMOKE_SCORED = 1000
WHITE = (255, 255, 255)
BLACK = (0, 0, 0)
SIGNAL_SHAPE = (2, 128)


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def gray(source: Path | bytes) -> np.ndarray:
    """An image file (or its bytes) as float grey levels in [0, 1]."""
    data = source if isinstance(source, bytes) else source.read_bytes()
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("L"), dtype=np.float32) / 255.0


def rgb(source: Path | bytes) -> np.ndarray:
    data = source if isinstance(source, bytes) else source.read_bytes()
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))


def shrink(tile: np.ndarray, scale: int = SCALE) -> np.ndarray:
    """Undo a nearest-neighbour enlargement by ``scale``."""
    return tile[::scale, ::scale]


def assert_only_png(data: bytes) -> Image.Image:
    """``data`` is one whole PNG file and nothing else (no text before or after it)."""
    assert data.startswith(PNG_SIGNATURE), data[:40]
    assert data.endswith(PNG_END), data[-40:]
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def prepared(model_dir: Path | str, files: list[Path]) -> tuple[aeinfer.Model, np.ndarray]:
    """The tensor-level model and what it sees of ``files`` (its adapter's preparation)."""
    loaded = aeinfer.load(model_dir, device="cpu")
    pipe = loaded.pipeline
    items = [pipe.adapter.prepare(pipe.read(str(f)))[0] for f in files]
    return loaded.model, np.concatenate(items)


def sheet_size(count: int, tile: tuple[int, int] = (TILE, TILE)) -> tuple[int, int]:
    """(width, height) of a reconstruct sheet of ``count`` pairs of ``tile``-sized tiles."""
    columns = min(count, render.SHEET_PAIRS_PER_ROW)
    rows = math.ceil(count / columns)
    pad = render.PAD
    width = 2 * pad + columns * (2 * tile[0] + pad) + (columns - 1) * render.PAIR_GAP
    height = render.LABEL_BAND + pad + rows * (tile[1] + pad)
    return width, height


# --------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def test_split(mnist_dir: Path) -> Split:
    from aeinfer.mnist import load_split

    return load_split("test", mnist_dir)


@pytest.fixture
def digit_files(tmp_path: Path, test_split: Split) -> list[Path]:
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


@pytest.fixture(scope="module")
def signal_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny (2, 128) signal model: a torch Linear pair, unbounded values."""
    import torch
    from torch import nn

    from aeinfer.export.onnx_export import export_pair

    torch.manual_seed(0)
    encoder = nn.Sequential(nn.Flatten(), nn.Linear(math.prod(SIGNAL_SHAPE), 4))
    decoder = nn.Sequential(nn.Linear(4, math.prod(SIGNAL_SHAPE)), nn.Unflatten(1, SIGNAL_SHAPE))
    directory = tmp_path_factory.mktemp("signal") / "wave"
    export_pair(encoder, decoder, torch.randn(4, *SIGNAL_SHAPE), directory, value_range=None)
    return directory


# --------------------------------------------------------------------------------------------
# reconstruct
# --------------------------------------------------------------------------------------------


def test_reconstruct_sheet_geometry_and_tiles(
    tmp_path: Path, digit_files: list[Path], conv_dir: Path
) -> None:
    out = tmp_path / "sheet.png"
    result = ok("reconstruct", *digit_files, "-o", out, "--model", conv_dir, "--device", "cpu")
    assert f"reconstructed {N_DIGITS} input(s) → {out}" in result.stderr
    assert render.enlargement(aeinfer.load(conv_dir).card.data) == SCALE

    sheet = gray(out)
    width, height = sheet_size(N_DIGITS)
    assert sheet.shape == (height, width)

    model, originals = prepared(conv_dir, digit_files)
    recons = model.reconstruct(originals)
    pad, step = render.PAD, 2 * TILE + render.PAD + render.PAIR_GAP
    for index in range(N_DIGITS):
        row, column = divmod(index, render.SHEET_PAIRS_PER_ROW)
        x = pad + column * step
        y = render.LABEL_BAND + pad + row * (TILE + pad)
        left = sheet[y : y + TILE, x : x + TILE]
        right = sheet[y : y + TILE, x + TILE + pad : x + 2 * TILE + pad]
        # Whole-factor nearest enlargement: every 4×4 block is one model pixel.
        np.testing.assert_array_equal(left, np.kron(shrink(left), np.ones((SCALE, SCALE))))
        assert np.abs(shrink(left) - originals[index, 0]).max() <= EIGHT_BIT
        assert np.abs(shrink(right) - recons[index, 0]).max() <= EIGHT_BIT
    # The column labels are drawn in the header band.
    assert sheet[: render.LABEL_BAND].min() < 0.5


def test_reconstruct_sheet_of_signals_draws_line_plots(tmp_path: Path, signal_dir: Path) -> None:
    rng = np.random.default_rng(1)
    files = []
    for index in range(2):
        files.append(tmp_path / f"s{index}.npy")
        np.save(files[-1], rng.standard_normal(SIGNAL_SHAPE).astype(np.float32))
    out = tmp_path / "sheet.png"
    ok("reconstruct", *files, "-o", out, "--model", signal_dir)
    pixels = rgb(out)
    tile_w, tile_h = render.SIGNAL_TILE
    width, height = sheet_size(2, render.SIGNAL_TILE)
    assert pixels.shape == (height, width, 3)
    step = 2 * tile_w + render.PAD + render.PAIR_GAP
    tiles = []
    for index in range(2):
        y = render.LABEL_BAND + render.PAD
        for side in range(2):
            x = render.PAD + index * step + side * (tile_w + render.PAD)
            tile = pixels[y : y + tile_h, x : x + tile_w]
            colours = {tuple(int(v) for v in p) for p in tile.reshape(-1, 3)}
            # A line plot on white: one colour per channel.
            assert WHITE in colours
            assert render.PALETTE[0] in colours and render.PALETTE[1] in colours
            tiles.append(tile)
    assert not np.array_equal(tiles[0], tiles[2])  # each input its own plot


def test_reconstruct_per_file_is_side_by_side_at_the_input_size(
    tmp_path: Path, test_split: Split, conv_dir: Path
) -> None:
    # Dark ink on light paper, not 28×28: the picture keeps the input's size and polarity.
    source = tmp_path / "scan.png"
    Image.fromarray(255 - test_split.images[3]).resize((60, 45)).save(source)
    result = ok("reconstruct", source, "--per-file", "--model", conv_dir, "--device", "cpu")
    assert "reconstructed 1 file(s)" in result.stderr
    target = tmp_path / "scan.reconstructed.png"
    with Image.open(target) as image:
        assert image.size == (120, 45)
        assert image.mode == "L"
    both = gray(target)
    assert np.abs(both[:, :60] - gray(source)).max() <= EIGHT_BIT  # the original, unchanged
    # The right half is the result as the API gives it for the same model and input.
    alone = aeinfer.load(conv_dir, device="cpu").reconstruct(str(source))
    assert alone.size == (60, 45)
    np.testing.assert_array_equal(both[:, 60:], np.asarray(alone, np.float32) / 255.0)

    # Into a folder, layout kept; the input folder untouched.
    nested = tmp_path / "in" / "sub"
    nested.mkdir(parents=True)
    shutil.copy(source, nested / "a.png")
    before = snapshot(tmp_path / "in")
    out = tmp_path / "out"
    ok("reconstruct", tmp_path / "in", "--per-file", "-o", out, "--model", conv_dir)
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*.png")) == ["sub/a.png"]
    assert (out / "sub" / "a.png").read_bytes() == target.read_bytes()
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
    result = ok("sample", *args, "--seed", 7, "-o", tmp_path / "a.png")
    assert f"sampled {count} item(s), seed 7 → {tmp_path / 'a.png'}" in result.stderr
    ok("sample", *args, "--seed", 7, "-o", tmp_path / "b.png")
    ok("sample", *args, "--seed", 8, "-o", tmp_path / "c.png")
    a, b, c = (gray(tmp_path / name) for name in ("a.png", "b.png", "c.png"))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)

    # A grid at the model's size: ceil(sqrt(6)) = 3 columns, 2 rows, 2-pixel gaps.
    columns, pad = math.ceil(math.sqrt(count)), render.PAD
    rows = math.ceil(count / columns)
    assert a.shape == (rows * (DIGIT + pad) + pad, columns * (DIGIT + pad) + pad)

    # The same draws as the API's sample(), to 8 bits, in grid order.
    expected = aeinfer.load(vae_dir, device="cpu").sample(count, seed=7)
    assert expected.shape == (count, 1, DIGIT, DIGIT)
    for index in range(count):
        row, column = divmod(index, columns)
        y, x = pad + row * (DIGIT + pad), pad + column * (DIGIT + pad)
        assert np.abs(a[y : y + DIGIT, x : x + DIGIT] - expected[index, 0]).max() <= EIGHT_BIT

    # --format npy: the items; --latents: the codes, which decode redraws as the same grid.
    ok("sample", *args, "--seed", 7, "--format", "npy", "-o", tmp_path / "x.npy")
    items = np.load(tmp_path / "x.npy")
    assert items.shape == (count, 1, DIGIT, DIGIT) and items.dtype == np.float32
    np.testing.assert_allclose(items, expected, atol=1e-6)
    ok("sample", *args, "--seed", 7, "--format", "npy", "--latents", "-o", tmp_path / "z.npy")
    codes = np.load(tmp_path / "z.npy")
    assert codes.shape == (count, 2)
    np.testing.assert_allclose(aeinfer.load(vae_dir).decode(codes), expected, atol=1e-6)
    ok("decode", tmp_path / "z.npy", "-o", tmp_path / "d.png", "--model", vae_dir)
    assert (tmp_path / "d.png").read_bytes() == (tmp_path / "a.png").read_bytes()


def test_sample_without_a_seed_reports_the_seed_it_drew(tmp_path: Path, vae_dir: Path) -> None:
    result = ok("sample", "--model", vae_dir, "-n", 3, "-o", tmp_path / "a.png")
    found = re.search(r"sampled 3 item\(s\), seed (\d+) → ", result.stderr)
    assert found, result.stderr
    ok("sample", "--model", vae_dir, "-n", 3, "--seed", found[1], "-o", tmp_path / "b.png")
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()


# --------------------------------------------------------------------------------------------
# manifold
# --------------------------------------------------------------------------------------------


def test_manifold_geometry_orientation_and_labels(tmp_path: Path, vae_dir: Path) -> None:
    size, extent = 5, 3.0
    out = tmp_path / "manifold.png"
    result = ok("manifold", "--size", size, "--range", extent, "-o", out, "--model", vae_dir)
    assert f"manifold 5×5 over ±3 → {out}" in result.stderr
    picture = gray(out)
    side = size * DIGIT  # cells at the model's own size, no gaps
    top, left = plots.AXIS_MARGIN_TOP, plots.AXIS_MARGIN_LEFT
    assert picture.shape == (
        top + side + plots.AXIS_MARGIN_BOTTOM,
        left + side + plots.AXIS_MARGIN_RIGHT,
    )
    cells = picture[top : top + side, left : left + side]
    tiles = cells.reshape(size, DIGIT, size, DIGIT).transpose(0, 2, 1, 3)

    # Cell (row, column) is decode([z0, z1]) with z0 rising to the right, z1 falling downwards.
    model = aeinfer.load(vae_dir, device="cpu").model
    values = np.linspace(-extent, extent, size)
    for row in range(size):
        for column in range(size):
            z = np.array([[values[column], values[::-1][row]]], dtype=np.float32)
            expected = model.decode(z)[0, 0]
            assert np.abs(tiles[row, column] - expected).max() <= EIGHT_BIT, (row, column)
    flat = tiles.reshape(size * size, -1)
    assert len({cell.tobytes() for cell in flat}) > size * size // 2  # cells really differ
    assert not np.array_equal(tiles[0, 0], tiles[-1, -1])

    # Tick labels and axis names are drawn in the (white) margins; the frame is black.
    assert picture[top + side + plots.TICK_LENGTH :, left : left + side].min() < 0.5
    assert picture[top : top + side, : left - plots.TICK_LENGTH].min() < 0.5
    assert picture[top - 1, left : left + side].max() == 0.0  # the frame's top edge


# --------------------------------------------------------------------------------------------
# interpolate
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "family", [name for name, f in FAMILIES.items() if not getattr(f, "FREE_AXES", ())]
)
def test_interpolation_strip_ends_are_the_reconstructions(
    tmp_path: Path, digit_files: list[Path], smoke, family: str
) -> None:
    model_dir = smoke(family).model_dir
    steps = 5
    first, last = digit_files[0], digit_files[1]
    out = tmp_path / "strip.png"
    result = ok("interpolate", first, last, "--steps", steps, "-o", out, "--model", model_dir)
    assert f"interpolated {steps} step(s) → {out}" in result.stderr
    strip = gray(out)
    pad = render.PAD
    assert strip.shape == (TILE + 2 * pad, steps * (TILE + pad) + pad)

    model, items = prepared(model_dir, [first, last])
    ends = model.reconstruct(items)
    for step, expected in ((0, ends[0, 0]), (steps - 1, ends[1, 0])):
        x = pad + step * (TILE + pad)
        assert np.abs(shrink(strip[pad : pad + TILE, x : x + TILE]) - expected).max() <= EIGHT_BIT

    npy = tmp_path / "strip.npy"
    ok("interpolate", first, last, "--steps", steps, "--format", "npy", "-o", npy, "-m", model_dir)
    array = np.load(npy)
    assert array.shape == (steps, 1, DIGIT, DIGIT) and array.dtype == np.float32
    np.testing.assert_allclose(array[[0, -1]], ends, atol=1e-5)
    # The middle is the decoded midpoint of the two codes.
    codes = model.encode(items)
    middle = model.decode((codes[:1] + codes[1:]) / 2)
    np.testing.assert_allclose(array[steps // 2], middle[0], atol=1e-5)


# --------------------------------------------------------------------------------------------
# scatter
# --------------------------------------------------------------------------------------------


def _colours(pixels: np.ndarray) -> set[tuple[int, ...]]:
    return {tuple(int(v) for v in p) for p in np.unique(pixels.reshape(-1, 3), axis=0)}


def _legend_swatch(pixels: np.ndarray, row: int) -> np.ndarray:
    x = plots.AXIS_MARGIN_LEFT + plots.PLOT_SIZE + plots.LEGEND_INSET
    y = plots.TITLE_BAND + row * plots.LEGEND_ROW
    return pixels[y : y + plots.LEGEND_SWATCH, x : x + plots.LEGEND_SWATCH]


def _assert_scatter(pixels: np.ndarray, classes: list[str], points: int) -> None:
    """Axes, one colour per class (sorted) in the plot and in the legend, and nothing else."""
    height = plots.TITLE_BAND + plots.PLOT_SIZE + plots.AXIS_MARGIN_BOTTOM
    assert pixels.shape[0] == height
    assert pixels.shape[1] >= plots.AXIS_MARGIN_LEFT + plots.PLOT_SIZE + plots.LEGEND_MIN_WIDTH
    top, left = plots.TITLE_BAND, plots.AXIS_MARGIN_LEFT
    plot = pixels[top : top + plots.PLOT_SIZE, left : left + plots.PLOT_SIZE]
    colours = _colours(plot)
    for index, _ in enumerate(classes):
        colour = render.PALETTE[index]
        assert colour in colours, (index, colour)
        swatch = _legend_swatch(pixels, index + 1)
        assert (swatch == colour).all(), index
    for unused in render.PALETTE[len(classes) :]:
        assert unused not in colours
    assert (_legend_swatch(pixels, len(classes) + 1) == WHITE).all()  # no row past the labels
    coloured = (plot.max(axis=-1).astype(int) - plot.min(axis=-1)) > 0
    assert coloured.sum() >= min(points, 50)  # points, not just a few stray pixels
    # The black frame around the plot, and black tick labels below it.
    assert (pixels[top - 1, left : left + plots.PLOT_SIZE] == BLACK).all()
    below = pixels[top + plots.PLOT_SIZE + plots.TICK_LENGTH :, left : left + plots.PLOT_SIZE]
    assert (below == BLACK).all(axis=-1).any()


def test_scatter_draws_every_digit_colour_with_axes_and_legend(
    tmp_path: Path, vae_dir: Path, mnist_dir: Path, test_split: Split
) -> None:
    out = tmp_path / "scatter.png"
    result = ok(
        "scatter", "--data-dir", mnist_dir, "--limit", SCATTER_LIMIT, "-o", out, "--model", vae_dir
    )
    assert f"plotted {SCATTER_LIMIT} code(s) → {out}" in result.stderr
    with Image.open(out) as image:
        assert image.mode == "RGB"
    assert sorted(set(test_split.labels[:SCATTER_LIMIT].tolist())) == list(range(10))
    _assert_scatter(rgb(out), [str(d) for d in range(10)], SCATTER_LIMIT)

    # Only the labels present: the first 5 test digits are 7, 2, 1, 0, 4 (five legend rows).
    few = tmp_path / "few.png"
    ok("scatter", "--data", mnist_dir, "--limit", 5, "-o", few, "--model", vae_dir)
    assert sorted(set(test_split.labels[:5].tolist())) == [0, 1, 2, 4, 7]
    _assert_scatter(rgb(few), ["0", "1", "2", "4", "7"], 5)


def test_scatter_of_a_folder_of_class_subfolders(
    tmp_path: Path, vae_dir: Path, test_split: Split
) -> None:
    data = tmp_path / "animals"
    names = ["zebra", "cat", "dog"]  # drawn in sorted order: cat, dog, zebra
    files: dict[str, list[Path]] = {}
    for offset, name in enumerate(names):
        (data / name).mkdir(parents=True)
        files[name] = []
        for index in range(4):
            path = data / name / f"{index}.png"
            Image.fromarray(test_split.images[offset * 4 + index]).save(path)
            files[name].append(path)
    out = tmp_path / "scatter.png"
    result = ok("scatter", "--data-dir", data, "-o", out, "--model", vae_dir)
    assert "plotted 12 code(s)" in result.stderr
    pixels = rgb(out)
    classes = sorted(names)
    _assert_scatter(pixels, classes, 12)

    # Each point lies where its code says, in its folder's colour (or under a later point).
    loaded = aeinfer.load(vae_dir, device="cpu")
    codes = np.concatenate([loaded.encode([str(f) for f in files[n]]) for n in classes])
    x_ticks = plots.nice_ticks(float(codes[:, 0].min()), float(codes[:, 0].max()))
    y_ticks = plots.nice_ticks(float(codes[:, 1].min()), float(codes[:, 1].max()))
    span = plots.PLOT_SIZE - 1
    xs = plots.AXIS_MARGIN_LEFT + (codes[:, 0] - x_ticks[0]) / (x_ticks[-1] - x_ticks[0]) * span
    ys = plots.TITLE_BAND + (y_ticks[-1] - codes[:, 1]) / (y_ticks[-1] - y_ticks[0]) * span
    label_colours = set(render.PALETTE[:3])
    for x, y in zip(xs, ys, strict=True):
        assert tuple(int(v) for v in pixels[round(y), round(x)]) in label_colours


def test_scatter_without_mnist_names_the_data_dir_option(
    tmp_path: Path, vae_dir: Path, mnist_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "--data-dir" in ok("scatter", "--help").stdout
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("AEINFER_DATA", str(empty))
    before = snapshot(tmp_path)
    result = invoke("scatter", "-o", tmp_path / "s.png", "--model", vae_dir)
    assert_one_error(result, str(empty), "t10k-images", "--data-dir")
    assert snapshot(tmp_path) == before
    # A folder with the test images but not their labels: the same, naming the labels file.
    partial = tmp_path / "partial"
    partial.mkdir()
    shutil.copy(mnist_dir / "t10k-images-idx3-ubyte.gz", partial)
    before = snapshot(tmp_path)
    result = invoke("scatter", "--data-dir", partial, "-o", tmp_path / "s.png", "--model", vae_dir)
    assert_one_error(result, "t10k-labels", "--data-dir")
    assert snapshot(tmp_path) == before


# --------------------------------------------------------------------------------------------
# score, and the distribution in the card
# --------------------------------------------------------------------------------------------


def test_card_carries_the_score_distribution_the_runtime_reproduces(
    conv_dir: Path, test_split: Split
) -> None:
    model = aeinfer.load(conv_dir, device="cpu").model
    dist = model.info["score"]
    assert dist["metric"] == "mse" and dist["count"] == SMOKE_SCORED
    assert set(dist["percentiles"]) == {f"{p:g}" for p in SCORE_PERCENTILES}
    quantiles = np.asarray(dist["quantiles"])
    assert quantiles.shape == (SCORE_QUANTILE_STEPS + 1,)
    assert np.all(np.diff(quantiles) >= 0)
    images = test_split.images[:SMOKE_SCORED]
    items = model.check_items(images)
    assert items.shape == (SMOKE_SCORED, 1, DIGIT, DIGIT)
    scores = score_per_item(model.reconstruct(items), items)
    assert dist["mean"] == pytest.approx(scores.mean(), rel=1e-3)
    assert dist["std"] == pytest.approx(scores.std(), rel=1e-3)
    for key, value in dist["percentiles"].items():
        assert value == pytest.approx(np.percentile(scores, float(key)), rel=1e-3)
    assert quantiles[0] == pytest.approx(scores.min(), rel=1e-3)
    assert quantiles[-1] == pytest.approx(scores.max(), rel=1e-3)


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
    assert report["model"] == "conv" and report["metric"] == "mse" and report["failed"] == []
    assert [row["path"] for row in report["scores"]] == [str(f) for f in files]
    model, items = prepared(conv_dir, files)
    expected = score_per_item(model.reconstruct(items), items)
    got = np.array([row["score"] for row in report["scores"]])
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-9)
    percentiles = np.array([row["percentile"] for row in report["scores"]])
    order = np.argsort(got)
    assert np.all(percentiles[order][1:] >= percentiles[order][:-1])
    assert ((percentiles >= 0) & (percentiles <= 100)).all()
    dist = report["distribution"]
    assert dist == model.info["score"]
    card_score = model.card.score
    for score, percentile in zip(got, percentiles, strict=True):
        assert percentile == pytest.approx(percentile_of(score, card_score))

    # The text form: "path  score  percentile" per line on stdout, the distribution on stderr.
    text = ok("score", *files, "--model", conv_dir)
    lines = text.stdout.splitlines()
    assert len(lines) == len(files)
    for line, row in zip(lines, report["scores"], strict=True):
        path, score, percentile = line.split()
        assert path == row["path"]
        assert float(score) == pytest.approx(row["score"], abs=1e-6)
        assert float(percentile) == pytest.approx(row["percentile"], abs=0.051)
    assert f"({SMOKE_SCORED} items: mean" in text.stderr and "p99 " in text.stderr

    # A trained model (the bundled conv) scores noise above every MNIST test digit it was
    # measured on, and real digits inside the reference distribution.
    trained = json.loads(ok("score", digit_files[0], noise, "--model", "conv", "--json").stdout)
    digit_row, noise_row = trained["scores"]
    assert noise_row["percentile"] == 100.0
    assert noise_row["score"] > trained["distribution"]["quantiles"][-1]
    assert digit_row["percentile"] < 99.0


def test_score_without_a_distribution_in_the_card_still_scores(
    tmp_path: Path, digit_files: list[Path], conv_dir: Path
) -> None:
    old = tmp_path / "no-score"
    shutil.copytree(conv_dir, old)
    card = json.loads((old / "card.json").read_text())
    del card["score"]
    (old / "card.json").write_text(json.dumps(card))
    result = ok("score", digit_files[0], "--model", old)
    path, score, percentile = result.stdout.split()
    assert path == str(digit_files[0]) and float(score) >= 0 and percentile == "-"
    assert "percentiles unavailable" in result.stderr
    report = json.loads(ok("score", digit_files[0], "--model", old, "--json").stdout)
    assert report["distribution"] is None and report["metric"] is None
    assert report["scores"][0]["percentile"] is None
    assert report["scores"][0]["score"] == pytest.approx(float(score), abs=1e-6)


def test_score_reports_a_bad_file_and_scores_the_rest(
    tmp_path: Path, digit_files: list[Path], conv_dir: Path
) -> None:
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    result = invoke("score", digit_files[0], bad, tmp_path / "missing.png", "--model", conv_dir)
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith(ERROR_PREFIX)]
    assert len(errors) == 2, result.stderr
    assert f"{ERROR_PREFIX} {bad}: not an image" in result.stderr
    assert f"{ERROR_PREFIX} {tmp_path / 'missing.png'}: no such file" in result.stderr
    (line,) = result.stdout.splitlines()
    assert line.split()[0] == str(digit_files[0])

    report = json.loads(invoke("score", digit_files[0], bad, "--model", conv_dir, "--json").stdout)
    assert [row["path"] for row in report["scores"]] == [str(digit_files[0])]
    assert [entry["path"] for entry in report["failed"]] == [str(bad)]


# --------------------------------------------------------------------------------------------
# stdin and stdout
# --------------------------------------------------------------------------------------------


def test_denoise_from_stdin_to_stdout_gives_only_png_bytes(
    tmp_path: Path, digit_files: list[Path]
) -> None:
    before = snapshot(tmp_path)
    result = ok("denoise", "-", "-o", "-", "--device", "cpu", stdin=digit_files[0].read_bytes())
    image = assert_only_png(result.stdout_bytes)
    assert image.size == (DIGIT, DIGIT)
    model, items = prepared("denoise", digit_files[:1])
    assert np.abs(gray(result.stdout_bytes) - model.reconstruct(items)[0, 0]).max() <= EIGHT_BIT
    assert "denoised 1 file(s)" in result.stderr
    assert snapshot(tmp_path) == before
    # The same bytes as the file the same input gives.
    ok("denoise", digit_files[0], "-o", tmp_path / "file.png")
    assert (tmp_path / "file.png").read_bytes() == result.stdout_bytes


def test_reconstruct_and_score_from_stdin(
    tmp_path: Path, digit_files: list[Path], conv_dir: Path
) -> None:
    data = digit_files[2].read_bytes()
    before = snapshot(tmp_path)
    result = ok("reconstruct", "-", "-o", "-", "--per-file", "--model", conv_dir, stdin=data)
    pair = gray(result.stdout_bytes)
    assert assert_only_png(result.stdout_bytes).size == (2 * DIGIT, DIGIT)
    model, items = prepared(conv_dir, digit_files[2:3])
    assert np.abs(pair[:, :DIGIT] - items[0, 0]).max() <= EIGHT_BIT
    assert np.abs(pair[:, DIGIT:] - model.reconstruct(items)[0, 0]).max() <= EIGHT_BIT

    sheet = ok("reconstruct", "-", "-o", "-", "--model", conv_dir, stdin=data)
    assert assert_only_png(sheet.stdout_bytes).size == sheet_size(1)
    scored = ok("score", "-", "--model", conv_dir, stdin=data)
    path, score, _ = scored.stdout.split()
    expected = score_per_item(model.reconstruct(items), items)[0]
    assert path == "-" and float(score) == pytest.approx(expected, abs=1e-6)
    assert snapshot(tmp_path) == before


def test_picture_commands_write_png_to_stdout(
    tmp_path: Path, digit_files: list[Path], vae_dir: Path, mnist_dir: Path
) -> None:
    model = ("--model", vae_dir)
    commands = {
        "sample": ("sample", "-n", 4, "--seed", 1, "-o", "-", *model),
        "manifold": ("manifold", "--size", 3, "-o", "-", *model),
        "interpolate": ("interpolate", "-", digit_files[1], "--steps", 3, "-o", "-", *model),
        "scatter": ("scatter", "--data", mnist_dir, "--limit", 50, "-o", "-", *model),
        "decode": ("decode", tmp_path / "z.npy", "-o", "-", *model),
    }
    np.save(tmp_path / "z.npy", np.zeros((3, 2), np.float32))
    before = snapshot(tmp_path)
    for name, args in commands.items():
        result = ok(*args, stdin=digit_files[0].read_bytes())
        if name == "decode":  # .npy bytes of the items
            assert result.stdout_bytes.startswith(NPY_MAGIC)
            assert np.load(io.BytesIO(result.stdout_bytes)).shape == (3, 1, DIGIT, DIGIT)
        else:
            assert_only_png(result.stdout_bytes)
        assert "→ stdout" in result.stderr, name
    assert snapshot(tmp_path) == before
    # What reaches stdout is what a file would hold.
    ok("sample", "-n", 4, "--seed", 1, "-o", tmp_path / "s.png", *model)
    result = ok(*commands["sample"])
    assert (tmp_path / "s.png").read_bytes() == result.stdout_bytes


def test_stdin_to_stdout_in_a_real_process(tmp_path: Path, digit_files: list[Path]) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "aeinfer", "denoise", "-", "-o", "-", "--device", "cpu"],
        input=digit_files[0].read_bytes(),
        capture_output=True,
        cwd=cwd,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert_only_png(done.stdout)
    assert b"denoised 1 file(s)" in done.stderr
    assert list(cwd.iterdir()) == []


# --------------------------------------------------------------------------------------------
# One overwrite rule: an existing output is skipped (and said so) unless --overwrite
# --------------------------------------------------------------------------------------------

OverwriteCase = Callable[[Path, list[Path], Path, Path, Path], tuple[list[object], Path]]


def _sheet(d: Path, f: list[Path], conv: Path, vae: Path, mnist: Path) -> tuple[list, Path]:
    return ["reconstruct", *f[:2], "-o", d / "out.png", "-m", conv], d / "out.png"


def _per_file(d: Path, f: list[Path], conv: Path, vae: Path, mnist: Path) -> tuple[list, Path]:
    return ["reconstruct", f[0], "--per-file", "-m", conv], f[0].with_name("d0.reconstructed.png")


def _denoise(d: Path, f: list[Path], conv: Path, vae: Path, mnist: Path) -> tuple[list, Path]:
    return ["denoise", f[0], "-o", d / "out.png"], d / "out.png"


def _encode(d: Path, f: list[Path], conv: Path, vae: Path, mnist: Path) -> tuple[list, Path]:
    return ["encode", *f[:2], "-o", d / "z.npy", "-m", conv], d / "z.npy"


def _decode(d: Path, f: list[Path], conv: Path, vae: Path, mnist: Path) -> tuple[list, Path]:
    np.save(d / "codes.npy", np.ones((2, 2), np.float32))
    return ["decode", d / "codes.npy", "-o", d / "out.png", "-m", vae], d / "out.png"


def _decode_npy(d: Path, f: list[Path], conv: Path, vae: Path, mnist: Path) -> tuple[list, Path]:
    np.save(d / "codes.npy", np.ones((2, 2), np.float32))
    return ["decode", d / "codes.npy", "-o", d / "items.npy", "-m", vae], d / "items.npy"


def _sample(d: Path, f: list[Path], conv: Path, vae: Path, mnist: Path) -> tuple[list, Path]:
    return ["sample", "-n", 4, "--seed", 3, "-o", d / "out.png", "-m", vae], d / "out.png"


def _manifold(d: Path, f: list[Path], conv: Path, vae: Path, mnist: Path) -> tuple[list, Path]:
    return ["manifold", "--size", 3, "-o", d / "out.png", "-m", vae], d / "out.png"


def _interpolate(d: Path, f: list[Path], conv: Path, vae: Path, mnist: Path) -> tuple[list, Path]:
    return ["interpolate", f[0], f[1], "--steps", 3, "-o", d / "out.png", "-m", vae], d / "out.png"


def _scatter(d: Path, f: list[Path], conv: Path, vae: Path, mnist: Path) -> tuple[list, Path]:
    args = ["scatter", "--data-dir", mnist, "--limit", 20, "-o", d / "out.png", "-m", vae]
    return args, d / "out.png"


OVERWRITE_CASES: dict[str, OverwriteCase] = {
    "reconstruct-sheet": _sheet,
    "reconstruct-per-file": _per_file,
    "denoise": _denoise,
    "encode": _encode,
    "decode-grid": _decode,
    "decode-npy": _decode_npy,
    "sample": _sample,
    "manifold": _manifold,
    "interpolate": _interpolate,
    "scatter": _scatter,
}


@pytest.mark.parametrize("case", list(OVERWRITE_CASES))
def test_an_existing_output_is_skipped_unless_overwrite(
    tmp_path: Path,
    digit_files: list[Path],
    conv_dir: Path,
    vae_dir: Path,
    mnist_dir: Path,
    case: str,
) -> None:
    args, target = OVERWRITE_CASES[case](tmp_path, digit_files, conv_dir, vae_dir, mnist_dir)
    # What the command writes where nothing is in the way.
    ok(*args)
    made = target.read_bytes()
    assert made.startswith(NPY_MAGIC if target.suffix == ".npy" else PNG_SIGNATURE)

    target.write_bytes(b"sentinel")
    before = snapshot(tmp_path)
    result = ok(*args)
    assert f"aeinfer: skipped {target} {SKIP_TEXT}" in result.stderr
    assert error_free(result)
    assert snapshot(tmp_path) == before  # the file untouched, nothing else written

    result = ok(*args, "--overwrite")
    assert "skipped" not in result.stderr
    assert target.read_bytes() == made  # replaced, by the very same result


def error_free(result: Result) -> bool:
    return not any(line.startswith(ERROR_PREFIX) for line in result.stderr.splitlines())


def test_decode_into_a_folder_skips_the_files_that_exist(tmp_path: Path, vae_dir: Path) -> None:
    np.save(tmp_path / "codes.npy", np.ones((3, 2), np.float32))
    out = tmp_path / "out"
    ok("decode", tmp_path / "codes.npy", "-o", out, "-m", vae_dir)
    assert sorted(p.name for p in out.iterdir()) == ["00000.png", "00001.png", "00002.png"]
    made = {p.name: p.read_bytes() for p in out.iterdir()}
    (out / "00000.png").unlink()
    (out / "00001.png").write_bytes(b"sentinel")
    (out / "00002.png").unlink()
    result = ok("decode", tmp_path / "codes.npy", "-o", out, "-m", vae_dir)
    assert f"decoded 3 code(s) → {out} (2 files)" in result.stderr
    assert result.stderr.count("aeinfer: skipped ") == 1
    assert (out / "00000.png").read_bytes() == made["00000.png"]
    assert (out / "00002.png").read_bytes() == made["00002.png"]
    assert f"aeinfer: skipped {out / '00001.png'} {SKIP_TEXT}" in result.stderr
    assert (out / "00001.png").read_bytes() == b"sentinel"
    ok("decode", tmp_path / "codes.npy", "-o", out, "-m", vae_dir, "--overwrite")
    assert (out / "00001.png").read_bytes() == made["00001.png"]


# --------------------------------------------------------------------------------------------
# Errors: one line, nothing written
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["manifold", "-o", "{d}/m.png", "-m", "{conv}"], ["manifold", "variational", "'conv'"]),
        (["sample", "-o", "{d}/s.png", "-m", "{conv}"], ["'conv'", "cannot sample"]),
        (["scatter", "--limit", "10", "-o", "{d}/s.png", "-m", "{conv}"], ["2-D", "'conv'"]),
        (["sample", "-o", "{d}/s.png", "-m", "{vae}", "--latents"], ["--format npy"]),
        (["interpolate", "-", "-", "-o", "{d}/i.png", "-m", "{vae}"], ["stdin"]),
        (
            ["interpolate", "{d}/digits/d0.png", "{d}/nope.png", "-o", "{d}/i.png"],
            ["nope.png", "no such file"],
        ),
        (["reconstruct", "-", "--per-file", "-m", "{conv}"], ["stdin", "-o"]),
        (
            ["reconstruct", "{d}/digits", "{d}/nope.png", "-o", "{d}/s.png"],
            ["nope.png", "no such file"],
        ),
        (
            ["reconstruct", "{d}/digits", "-o", "{d}/s.txt", "-m", "{conv}"],
            ["s.txt", "unsupported image suffix"],
        ),
        (["denoise", "{d}/digits", "-o", "-"], ["stdout", f"{N_DIGITS} inputs"]),
        (["decode", "{d}/digits/d0.png", "-o", "{d}/x.npy", "-m", "{vae}"], ["d0.png", ".npy"]),
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


def test_runtime_modules_import_without_torch() -> None:
    code = (
        "import sys, aeinfer.jobs, aeinfer.tasks, aeinfer.render, aeinfer.plots, aeinfer.api, "
        "aeinfer.cli, aeinfer.train.data\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'onnx', 'matplotlib'}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


COMMANDS = {
    # command: (takes --model and --device, writes files)
    "denoise": (True, True),
    "reconstruct": (True, True),
    "score": (True, False),
    "sample": (True, True),
    "manifold": (True, True),
    "interpolate": (True, True),
    "scatter": (True, True),
    "encode": (True, True),
    "decode": (True, True),
    "models": (False, False),
    "info": (False, False),
    "doctor": (False, False),
    "train": (False, False),
    "export": (False, False),
}


def test_help_documents_every_command() -> None:
    listing = ok("--help").stdout
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    for command, (runs_a_model, writes) in COMMANDS.items():
        assert re.search(rf"^  {command} +\S", listing, re.MULTILINE), command
        assert re.search(rf"aeinfer {command}\b", readme), command
        help_text = ok(command, "--help").stdout
        assert help_text.startswith(f"Usage: aeinfer {command}"), command
        assert ("--model" in help_text and "--device" in help_text) == runs_a_model, command
        assert ("--overwrite" in help_text) == writes, command
        assert "--no-overwrite" not in help_text, command
    for sub in ("download", "verify"):
        assert "--data-dir" in ok("data", sub, "--help").stdout
