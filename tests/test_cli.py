"""The ``aeinfer`` command line, end to end.

Commands run in-process through Typer's ``CliRunner`` (stdout and stderr are captured apart),
and in real subprocesses where the process itself matters: exit codes, import cost, and a
missing optional dependency. Every image is built here from real MNIST test digits; nothing
depends on the exact output values of the bundled (placeholder) model, only on shapes,
files written and behaviour.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner, Result

import aeinfer
from aeinfer.cli import app

ERROR_PREFIX = "aeinfer: error:"
NOISE_SIGMA = 0.5
N_DIGITS = 16
COMMANDS = ("denoise", "encode", "decode", "models", "info", "doctor", "train", "export", "data")

runner = CliRunner()


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def invoke(*args: object) -> Result:
    """Run the CLI in-process; no exception may escape, no traceback may be printed."""
    result = runner.invoke(app, [str(arg) for arg in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"uncaught {result.exception!r}\n{result.output}"
    )
    assert "Traceback" not in result.output
    return result


def run_process(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith(ERROR_PREFIX)]


def assert_one_error(result: Result, *names: str) -> str:
    """Non-zero exit, exactly one error line naming each of ``names``, no traceback."""
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output
    errors = error_lines(result.stderr)
    assert len(errors) == 1, result.stderr
    for name in names:
        assert name in errors[0], errors[0]
    assert result.stdout == ""
    return errors[0]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def snapshot(root: Path) -> dict[str, str]:
    """Every file and folder under ``root``, with file contents hashed."""
    return {
        str(path.relative_to(root)): "<dir>" if path.is_dir() else sha256(path)
        for path in sorted(root.rglob("*"))
    }


def save_png(path: Path, pixels: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path


def read_gray(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("L"), dtype=np.float32) / 255.0


def mse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))


# --------------------------------------------------------------------------------------------
# Fixtures: real MNIST digits, clean and noisy
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clean(mnist_dir: Path) -> np.ndarray:
    """(N_DIGITS, 28, 28) float in [0, 1]: the first MNIST test digits."""
    from aeinfer.train.data import load_split

    return load_split("test", mnist_dir).images[:N_DIGITS].astype(np.float32) / 255.0


@pytest.fixture(scope="module")
def noisy(clean: np.ndarray) -> np.ndarray:
    """(N_DIGITS, 28, 28) uint8: clean + NOISE_SIGMA·N(0, 1), clipped, seeded."""
    rng = np.random.default_rng(1234)
    values = np.clip(clean + NOISE_SIGMA * rng.standard_normal(clean.shape), 0.0, 1.0)
    return (values * 255.0 + 0.5).astype(np.uint8)


@pytest.fixture
def digit_png(tmp_path: Path, noisy: np.ndarray) -> Path:
    return save_png(tmp_path / "digit.png", noisy[0])


@pytest.fixture(scope="module")
def latent_shape() -> tuple[int, ...]:
    """The bundled denoise model's latent shape, as `aeinfer models --json` reports it."""
    rows = json.loads(invoke("models", "--json").stdout)
    (row,) = [row for row in rows if row["name"] == "denoise"]
    return tuple(row["latent_shape"])


# --------------------------------------------------------------------------------------------
# Version and help
# --------------------------------------------------------------------------------------------


def test_version_in_a_real_process_imports_nothing_heavy(tmp_path: Path) -> None:
    shown = run_process(["-m", "aeinfer.cli", "--version"], tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == f"aeinfer {aeinfer.__version__}"
    code = textwrap.dedent(
        """
        import json, sys
        sys.argv = ["aeinfer", "--version"]
        from aeinfer.cli import main
        try:
            main()
        except SystemExit as exc:
            assert exc.code in (0, None), exc.code
        heavy = ["numpy", "onnxruntime", "torch", "onnx", "PIL"]
        print(json.dumps([name for name in heavy if name in sys.modules]))
        """
    )
    probe = run_process(["-c", code], tmp_path)
    assert probe.returncode == 0, probe.stderr
    assert json.loads(probe.stdout.splitlines()[-1]) == []


def test_version_and_help_in_process() -> None:
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"aeinfer {aeinfer.__version__}"
    result = invoke("--help")
    assert result.exit_code == 0
    for command in COMMANDS:
        assert command in result.stdout, command
    assert invoke("data", "--help").exit_code == 0


# --------------------------------------------------------------------------------------------
# denoise
# --------------------------------------------------------------------------------------------


def test_denoise_writes_beside_the_input_and_respects_overwrite(
    tmp_path: Path, noisy: np.ndarray
) -> None:
    # A non-square, non-28×28 image: the output must come back at the input's own size.
    big = Image.fromarray(noisy[1]).resize((60, 45), Image.Resampling.BILINEAR)
    source = tmp_path / "scan.png"
    big.save(source)
    before = sha256(source)

    result = invoke("denoise", source)
    assert result.exit_code == 0, result.output
    target = tmp_path / "scan.denoised.png"
    assert target.is_file()
    with Image.open(target) as image:
        assert image.size == (60, 45)
        assert image.mode == "L"
    assert sha256(source) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scan.denoised.png", "scan.png"]
    first = target.read_bytes()

    # Again without --overwrite: skipped, exit 0, the existing output left alone.
    target.write_bytes(b"sentinel")
    result = invoke("denoise", source)
    assert result.exit_code == 0, result.output
    assert "skipped" in result.stderr and "--overwrite" in result.stderr
    assert target.read_bytes() == b"sentinel"

    # With --overwrite: rewritten (the model is deterministic, so the same bytes again).
    result = invoke("denoise", source, "--overwrite")
    assert result.exit_code == 0, result.output
    assert target.read_bytes() == first
    assert sha256(source) == before


def test_denoise_one_file_to_a_named_output(tmp_path: Path, digit_png: Path) -> None:
    out = tmp_path / "out.png"
    result = invoke("denoise", digit_png, "-o", out)
    assert result.exit_code == 0, result.output
    with Image.open(out) as image:
        assert image.size == (28, 28)
    assert not (tmp_path / "digit.denoised.png").exists()


def test_a_variant_not_made_says_why(tmp_path: Path, digit_png: Path) -> None:
    out = tmp_path / "o.png"
    args = ("denoise", digit_png, "--model", "lstm", "--precision", "fp16", "-o", out)
    message = assert_one_error(invoke(*args), "no fp16 variant", "LSTM")
    assert "fp32, int8" in message
    assert not out.exists()


@pytest.mark.parametrize("precision", ["fp16", "int8"])
def test_denoise_at_a_reduced_precision(tmp_path: Path, digit_png: Path, precision: str) -> None:
    outputs = {}
    for chosen in ("fp32", precision):
        outputs[chosen] = tmp_path / f"{chosen}.png"
        result = invoke("denoise", digit_png, "-o", outputs[chosen], "--precision", chosen)
        assert result.exit_code == 0, result.output
    with Image.open(outputs["fp32"]) as a, Image.open(outputs[precision]) as b:
        diff = np.abs(np.asarray(a, dtype=np.float32) - np.asarray(b, dtype=np.float32))
    assert diff.mean() < 2.0  # of 255: the variants cost little (their cards say how little)


def test_unknown_precision_is_a_usage_error(digit_png: Path) -> None:
    result = invoke("denoise", digit_png, "--precision", "int4")
    assert result.exit_code == 2
    assert "int4" in result.stderr and "Traceback" not in result.output


def test_denoise_folder_keeps_the_relative_layout(tmp_path: Path, noisy: np.ndarray) -> None:
    inputs = tmp_path / "in"
    layout = {"a.png": (28, 28), "sub/b.png": (40, 40), "sub/deeper/c.png": (33, 50)}
    for index, (rel, size) in enumerate(layout.items()):
        save_png(inputs / rel, np.asarray(Image.fromarray(noisy[index]).resize(size)))
    before = snapshot(inputs)

    out = tmp_path / "outdir"
    result = invoke("denoise", inputs, "-o", out)
    assert result.exit_code == 0, result.output
    written = {str(p.relative_to(out)) for p in out.rglob("*.png")}
    assert written == set(layout)
    for rel, size in layout.items():
        with Image.open(out / rel) as image:
            assert image.size == size
    assert snapshot(inputs) == before  # nothing written into the input folder


def test_denoise_folder_carries_on_past_a_bad_file(tmp_path: Path, noisy: np.ndarray) -> None:
    folder = tmp_path / "batch"
    save_png(folder / "one.png", noisy[0])
    save_png(folder / "nested" / "two.png", noisy[1])
    (folder / "broken.png").write_text("this is not a png\n")

    result = invoke("denoise", folder)
    message = assert_one_error(result, "broken.png")
    assert result.exit_code == 1
    assert "not an image" in message
    assert (folder / "one.denoised.png").is_file()
    assert (folder / "nested" / "two.denoised.png").is_file()
    assert not (folder / "broken.denoised.png").exists()
    assert "1 failed" in result.stderr


def test_denoise_in_a_real_process_reports_a_bad_file_and_exit_code(
    tmp_path: Path, digit_png: Path
) -> None:
    bad = tmp_path / "bad.png"
    bad.write_text("hello")
    done = run_process(["-m", "aeinfer.cli", "denoise", str(digit_png), str(bad)], tmp_path)
    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr
    errors = error_lines(done.stderr)
    assert len(errors) == 1 and "bad.png" in errors[0]
    assert (tmp_path / "digit.denoised.png").is_file()
    assert not (tmp_path / "bad.denoised.png").exists()


def test_denoise_brings_noisy_digits_closer_to_the_clean_ones(
    tmp_path: Path, clean: np.ndarray, noisy: np.ndarray
) -> None:
    folder = tmp_path / "noisy"
    for index, pixels in enumerate(noisy):
        save_png(folder / f"{index:02d}.png", pixels)
    out = tmp_path / "clean"
    result = invoke("denoise", folder, "-o", out)
    assert result.exit_code == 0, result.output
    denoised = np.stack([read_gray(out / f"{index:02d}.png") for index in range(len(noisy))])
    assert denoised.shape == clean.shape
    noisy_error = mse(noisy / 255.0, clean)
    denoised_error = mse(denoised, clean)
    assert denoised_error < noisy_error, (denoised_error, noisy_error)


# --------------------------------------------------------------------------------------------
# encode / decode
# --------------------------------------------------------------------------------------------


def test_encode_decode_round_trip(
    tmp_path: Path, noisy: np.ndarray, latent_shape: tuple[int, ...]
) -> None:
    files = [save_png(tmp_path / f"img{index}.png", noisy[index]) for index in range(3)]
    z_path = tmp_path / "z.npy"
    result = invoke("encode", *files, "-o", z_path)
    assert result.exit_code == 0, result.output
    codes = np.load(z_path, allow_pickle=False)
    assert codes.shape == (3, *latent_shape)
    assert codes.dtype == np.float32
    assert np.isfinite(codes).all()

    out = tmp_path / "decoded"
    result = invoke("decode", z_path, "-o", out)
    assert result.exit_code == 0, result.output
    pngs = sorted(out.iterdir())
    assert [p.name for p in pngs] == ["00000.png", "00001.png", "00002.png"]
    decoded = np.stack([read_gray(p) for p in pngs])
    assert decoded.shape == (3, 28, 28)

    # The files hold what the library's reconstruct gives for the same inputs (to 8-bit).
    model = aeinfer.load("denoise")
    expected = model.reconstruct([str(f) for f in files])
    assert np.abs(decoded - expected).max() <= 1.0 / 255.0 + 1e-6

    grid_path = tmp_path / "grid.png"
    result = invoke("decode", z_path, "-o", grid_path)
    assert result.exit_code == 0, result.output
    from aeinfer.imageio import grid

    with Image.open(grid_path) as image:
        assert image.size == grid(expected).size
        assert image.size[0] > 28 and image.size[1] > 28
    assert sorted(p.name for p in tmp_path.glob("*.png")) == [
        "grid.png",
        "img0.png",
        "img1.png",
        "img2.png",
    ]


# --------------------------------------------------------------------------------------------
# models / info / doctor
# --------------------------------------------------------------------------------------------


def test_models_json_lists_every_bundled_model() -> None:
    result = invoke("models", "--json")
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert isinstance(rows, list) and rows
    for row in rows:
        for key in ("name", "family", "path", "latent_shape"):
            assert key in row, (key, row)
        assert (Path(row["path"]) / "card.json").is_file()
        assert all(isinstance(n, int) and n > 0 for n in row["latent_shape"])
    assert "denoise" in {row["name"] for row in rows}
    table = invoke("models")
    assert table.exit_code == 0 and "denoise" in table.stdout


def test_info_json_has_family_and_checksums_that_match_the_files() -> None:
    result = invoke("info", "denoise", "--json")
    assert result.exit_code == 0
    card = json.loads(result.stdout)
    assert card["family"] == "denoise"
    directory = aeinfer.load("denoise").path
    assert set(card["files"]) >= {"encoder.onnx", "decoder.onnx"}
    for name, entry in card["files"].items():
        assert entry["sha256"] == sha256(directory / name)
    text = invoke("info", "denoise")
    assert text.exit_code == 0 and "family:" in text.stdout and "sha256:" in text.stdout


def test_doctor_reports_a_cpu_provider_that_starts() -> None:
    result = invoke("doctor")
    assert result.exit_code == 0, result.output
    assert "CPUExecutionProvider" in result.stdout
    assert "CPUExecutionProvider: starts" in result.stdout


# --------------------------------------------------------------------------------------------
# Error paths: one line, named culprit, no traceback, nothing written
# --------------------------------------------------------------------------------------------


def _missing_input(d: Path) -> tuple[list[object], list[str]]:
    return ["denoise", d / "nope.png"], ["nope.png", "no such file"]


def _missing_input_encode(d: Path) -> tuple[list[object], list[str]]:
    return ["encode", d / "nope.png", "-o", d / "z.npy"], ["nope.png", "no such file"]


def _decode_a_directory(d: Path) -> tuple[list[object], list[str]]:
    (d / "latents").mkdir()
    return ["decode", d / "latents", "-o", d / "out.png"], ["latents", "is a directory"]


def _text_named_png(d: Path) -> tuple[list[object], list[str]]:
    (d / "text.png").write_text("just some words\n")
    return ["denoise", d / "text.png"], ["text.png", "not an image"]


def _text_named_png_encode(d: Path) -> tuple[list[object], list[str]]:
    (d / "text.png").write_text("just some words\n")
    return ["encode", d / "text.png", "-o", d / "z.npy"], ["text.png", "not an image"]


def _zero_byte_png(d: Path) -> tuple[list[object], list[str]]:
    (d / "empty.png").write_bytes(b"")
    return ["denoise", d / "empty.png"], ["empty.png", "empty"]


def _decode_not_npy(d: Path) -> tuple[list[object], list[str]]:
    (d / "latents.npy").write_text("0.1 0.2 0.3\n")
    return ["decode", d / "latents.npy", "-o", d / "out.png"], [
        "latents.npy",
        "not a readable .npy",
    ]


def _decode_wrong_width(d: Path) -> tuple[list[object], list[str]]:
    np.save(d / "wide.npy", np.zeros((2, 16), dtype=np.float32))
    return ["decode", d / "wide.npy", "-o", d / "out"], ["wide.npy", "does not match"]


def _decode_nan(d: Path) -> tuple[list[object], list[str]]:
    z = np.zeros((2, *aeinfer.load("denoise").latent_shape), dtype=np.float32)
    z[1, 0] = np.nan
    np.save(d / "nan.npy", z)
    return ["decode", d / "nan.npy", "-o", d / "out.png"], ["nan.npy", "NaN"]


def _unknown_model(d: Path) -> tuple[list[object], list[str]]:
    (d / "ok.png").write_bytes(_png_bytes())
    bundled = [row["name"] for row in aeinfer.list_models()]
    return ["denoise", d / "ok.png", "--model", "nope"], ["'nope'", *bundled]


def _encode_onto_its_input_png(d: Path) -> tuple[list[object], list[str]]:
    (d / "ok.png").write_bytes(_png_bytes())
    return ["encode", d / "ok.png", "-o", d / "ok.png"], ["ok.png", ".npy"]


def _encode_onto_its_input_npy(d: Path) -> tuple[list[object], list[str]]:
    # A PNG that happens to be named *.npy: readable as an input, and -o names it too.
    (d / "digit.npy").write_bytes(_png_bytes())
    return ["encode", d / "digit.npy", "-o", d / "digit.npy"], ["digit.npy", "same as an input"]


def _denoise_onto_its_input(d: Path) -> tuple[list[object], list[str]]:
    (d / "ok.png").write_bytes(_png_bytes())
    return ["denoise", d / "ok.png", "-o", d / "ok.png"], ["ok.png", "same as an input"]


def _encode_into_missing_folder(d: Path) -> tuple[list[object], list[str]]:
    (d / "ok.png").write_bytes(_png_bytes())
    return ["encode", d / "ok.png", "-o", d / "nodir" / "z.npy"], ["nodir", "parent directory"]


def _denoise_into_missing_folder(d: Path) -> tuple[list[object], list[str]]:
    (d / "ok.png").write_bytes(_png_bytes())
    return ["denoise", d / "ok.png", "-o", d / "nodir" / "out.png"], [
        "nodir",
        "parent directory",
    ]


def _decode_into_missing_folder(d: Path) -> tuple[list[object], list[str]]:
    np.save(d / "z.npy", np.zeros((2, *aeinfer.load("denoise").latent_shape), np.float32))
    return ["decode", d / "z.npy", "-o", d / "nodir" / "grid.png"], [
        "nodir",
        "parent directory",
    ]


def _truncated_png(d: Path) -> tuple[list[object], list[str]]:
    data = _png_bytes(size=64)
    (d / "cut.png").write_bytes(data[: len(data) // 2])
    return ["denoise", d / "cut.png"], ["cut.png", "truncated"]


def _unsupported_format(d: Path) -> tuple[list[object], list[str]]:
    (d / "doc.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n")
    return ["denoise", d / "doc.pdf"], ["doc.pdf", "not an image"]


def _decompression_bomb(d: Path) -> tuple[list[object], list[str]]:
    # A PNG header announcing 40000×40000 pixels (far past Pillow's bomb limit), almost no data.
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 40_000, 40_000, 8, 0, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0"))
    (d / "bomb.png").write_bytes(data + chunk(b"IEND", b""))
    return ["denoise", d / "bomb.png"], ["bomb.png", "decompression bomb"]


def _one_pixel(d: Path) -> tuple[list[object], list[str]]:
    Image.new("L", (1, 1), 255).save(d / "dot.png")
    return ["denoise", d / "dot.png"], ["dot.png", "too small"]


def _output_parent_is_a_file(d: Path) -> tuple[list[object], list[str]]:
    (d / "ok.png").write_bytes(_png_bytes())
    (d / "afile").write_text("x")
    return ["denoise", d / "ok.png", "-o", d / "afile" / "out.png"], ["afile", "cannot write"]


def _output_unwritable(d: Path) -> tuple[list[object], list[str]]:
    # /proc refuses new files even to root, so this holds whoever runs the tests.
    (d / "ok.png").write_bytes(_png_bytes())
    return ["denoise", d / "ok.png", "-o", "/proc/aeinfer-out.png"], [
        "/proc/aeinfer-out.png",
        "cannot write",
    ]


def _decode_infinite(d: Path) -> tuple[list[object], list[str]]:
    z = np.zeros((2, *aeinfer.load("denoise").latent_shape), dtype=np.float32)
    z[0, 0] = np.inf
    np.save(d / "inf.npy", z)
    return ["decode", d / "inf.npy", "-o", d / "out.png"], ["inf.npy", "infinite"]


def _copy_model(d: Path) -> Path:
    import shutil

    target = d / "model"
    shutil.copytree(aeinfer.load("denoise").path, target)
    (d / "ok.png").write_bytes(_png_bytes())
    return target


def _model_missing_graph(d: Path) -> tuple[list[object], list[str]]:
    model = _copy_model(d)
    (model / "decoder.onnx").unlink()
    return ["denoise", d / "ok.png", "--model", model, "-o", d / "out.png"], [
        "decoder.onnx",
        "missing",
    ]


def _model_truncated_graph(d: Path) -> tuple[list[object], list[str]]:
    model = _copy_model(d)
    graph = model / "encoder.onnx"
    graph.write_bytes(graph.read_bytes()[:1000])
    return ["denoise", d / "ok.png", "--model", model, "-o", d / "out.png"], [
        "encoder.onnx",
        "sha256",
    ]


def _model_tampered_graph(d: Path) -> tuple[list[object], list[str]]:
    model = _copy_model(d)
    graph = model / "decoder.onnx"
    data = bytearray(graph.read_bytes())
    data[-100] ^= 0xFF  # one flipped bit pattern inside the weights
    graph.write_bytes(bytes(data))
    return ["denoise", d / "ok.png", "--model", model, "-o", d / "out.png"], [
        "decoder.onnx",
        "sha256",
    ]


def _precision_not_shipped(d: Path) -> tuple[list[object], list[str]]:
    model = _copy_model(d)
    card = json.loads((model / "card.json").read_text(encoding="utf-8"))
    del card["variants"]["int8"]
    (model / "card.json").write_text(json.dumps(card), encoding="utf-8")
    args = ["denoise", d / "ok.png", "--model", model, "-o", d / "out.png", "--precision", "int8"]
    return args, ["no int8 variant", "fp32"]


def _png_bytes(size: int = 28) -> bytes:
    import io

    buffer = io.BytesIO()
    pixels = np.zeros((size, size), dtype=np.uint8)
    pixels[size // 5 : size - size // 5, size * 3 // 7 : size * 4 // 7] = 255  # a "1"
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


ERROR_CASES: dict[str, Callable[[Path], tuple[list[object], list[str]]]] = {
    "missing-input": _missing_input,
    "missing-input-encode": _missing_input_encode,
    "decode-a-directory": _decode_a_directory,
    "text-named-png": _text_named_png,
    "text-named-png-encode": _text_named_png_encode,
    "zero-byte-png": _zero_byte_png,
    "decode-not-npy": _decode_not_npy,
    "decode-wrong-width": _decode_wrong_width,
    "decode-nan": _decode_nan,
    "unknown-model": _unknown_model,
    "encode-onto-input-png": _encode_onto_its_input_png,
    "encode-onto-input-npy": _encode_onto_its_input_npy,
    "denoise-onto-input": _denoise_onto_its_input,
    "encode-into-missing-folder": _encode_into_missing_folder,
    "denoise-into-missing-folder": _denoise_into_missing_folder,
    "decode-into-missing-folder": _decode_into_missing_folder,
    "truncated-png": _truncated_png,
    "unsupported-format": _unsupported_format,
    "decompression-bomb": _decompression_bomb,
    "one-pixel-image": _one_pixel,
    "output-parent-is-a-file": _output_parent_is_a_file,
    "output-unwritable": _output_unwritable,
    "decode-infinite": _decode_infinite,
    "model-missing-graph": _model_missing_graph,
    "model-truncated-graph": _model_truncated_graph,
    "model-tampered-graph": _model_tampered_graph,
    "precision-not-shipped": _precision_not_shipped,
}


@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_error_is_one_line_and_writes_nothing(tmp_path: Path, case: str) -> None:
    args, names = ERROR_CASES[case](tmp_path)
    before = snapshot(tmp_path)
    result = invoke(*args)
    message = assert_one_error(result, *names)
    assert result.exit_code == 1
    # numpy's fallback for a file without a .npy header blames pickles; never pass that on.
    assert "pickle" not in message.lower()
    assert snapshot(tmp_path) == before


def test_device_cuda_is_refused_without_cuda(tmp_path: Path, digit_png: Path) -> None:
    import onnxruntime

    # This suite runs on CPU-only ONNX Runtime builds; a CUDA build would take the other path.
    assert "CUDAExecutionProvider" not in onnxruntime.get_available_providers()
    before = snapshot(tmp_path)
    result = invoke("denoise", digit_png, "--device", "cuda")
    message = assert_one_error(result, "--device cuda", "CUDAExecutionProvider")
    assert "aeinfer[gpu]" in message
    assert snapshot(tmp_path) == before


# --------------------------------------------------------------------------------------------
# train and export through the CLI, then use the exported model
# --------------------------------------------------------------------------------------------


def test_train_export_then_encode_with_the_new_model(
    tmp_path: Path, mnist_dir: Path, digit_png: Path
) -> None:
    # torch binds logging handlers to sys.stderr when first imported; imported inside the
    # runner, they would keep the runner's stream, which is closed once that call returns.
    import torch  # noqa: F401

    run = tmp_path / "RUN"
    result = invoke(
        "train",
        "dense",
        "--run-dir",
        run,
        "--data-dir",
        mnist_dir,
        "--max-steps",
        "3",
        "--train-limit",
        "256",
        "--batch-size",
        "64",
    )
    assert result.exit_code == 0, result.output
    assert (run / "last.pt").is_file()

    model_dir = tmp_path / "MODEL"
    result = invoke("export", run / "last.pt", "-o", model_dir, "--data-dir", mnist_dir)
    assert result.exit_code == 0, result.output
    assert {p.name for p in model_dir.iterdir()} >= {"encoder.onnx", "decoder.onnx", "card.json"}

    card = json.loads(invoke("info", model_dir, "--json").stdout)
    assert card["family"] == "dense"
    assert card["latent"]["shape"] == [32]

    z_path = tmp_path / "z.npy"
    result = invoke("encode", digit_png, "--model", model_dir, "-o", z_path)
    assert result.exit_code == 0, result.output
    assert np.load(z_path).shape == (1, 32)

    out = tmp_path / "back.png"
    result = invoke("decode", z_path, "--model", model_dir, "-o", out)
    assert result.exit_code == 0, result.output
    with Image.open(out) as image:
        assert image.size == (28, 28)


# --------------------------------------------------------------------------------------------
# A missing optional dependency: one line naming the extra to install
# --------------------------------------------------------------------------------------------

BLOCK_AND_RUN = textwrap.dedent(
    """
    import sys

    BLOCKED = {blocked!r}

    class Block:
        def find_spec(self, name, path=None, target=None):
            if name == BLOCKED or name.startswith(BLOCKED + "."):
                raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
            return None

    sys.meta_path.insert(0, Block())
    sys.argv = ["aeinfer", *{argv!r}]
    from aeinfer.cli import main

    main()
    """
)


@pytest.mark.parametrize(
    ("blocked", "command", "hint"),
    [
        ("onnxruntime", "denoise", "pip install 'aeinfer[cpu]'"),
        ("torch", "train", "pip install 'aeinfer[train]'"),
        ("torch", "export", "pip install 'aeinfer[train]'"),
    ],
)
def test_missing_extra_is_one_line_naming_the_extra(
    tmp_path: Path, digit_png: Path, mnist_dir: Path, blocked: str, command: str, hint: str
) -> None:
    data = str(mnist_dir)
    argv = {
        "denoise": ["denoise", str(digit_png)],
        "train": ["train", "dense", "--run-dir", str(tmp_path / "RUN"), "--data-dir", data],
        "export": ["export", str(tmp_path / "last.pt"), "-o", str(tmp_path / "MODEL")],
    }[command]
    before = snapshot(tmp_path)
    done = run_process(["-c", BLOCK_AND_RUN.format(blocked=blocked, argv=argv)], tmp_path)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(ERROR_PREFIX)
    assert hint in lines[0]
    assert snapshot(tmp_path) == before


def test_doctor_without_onnxruntime_says_what_to_install(tmp_path: Path) -> None:
    code = BLOCK_AND_RUN.format(blocked="onnxruntime", argv=["doctor"])
    done = run_process(["-c", code], tmp_path)
    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr
    assert "pip install 'aeinfer[cpu]'" in done.stdout


# --------------------------------------------------------------------------------------------
# Awkward but valid images: processed, with the output in the input's size and mode family
# --------------------------------------------------------------------------------------------


def _digit_canvas(width: int, height: int) -> Image.Image:
    """Dark ink on light paper, like a photographed or scanned digit."""
    image = Image.new("L", (width, height), 230)
    from PIL import ImageDraw

    ImageDraw.Draw(image).line(
        [(width * 0.3, height * 0.25), (width * 0.7, height * 0.25), (width * 0.45, height * 0.8)],
        fill=25,
        width=max(2, width // 12),
    )
    return image


def _animated_gif(d: Path) -> tuple[Path, tuple[int, int], str]:
    frames = [_digit_canvas(60, 60), Image.new("L", (60, 60), 0)]
    path = d / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    return path, (60, 60), "first frame"


def _cmyk_jpeg(d: Path) -> tuple[Path, tuple[int, int], str]:
    path = d / "cmyk.jpg"
    _digit_canvas(80, 64).convert("CMYK").save(path, quality=95)
    return path, (80, 64), ""


def _sixteen_bit_png(d: Path) -> tuple[Path, tuple[int, int], str]:
    path = d / "deep.png"
    values = np.asarray(_digit_canvas(50, 50), dtype=np.uint16) * 257
    Image.fromarray(values).save(path)  # mode I;16
    return path, (50, 50), ""


def _palette_with_transparency(d: Path) -> tuple[Path, tuple[int, int], str]:
    path = d / "palette.png"
    image = _digit_canvas(40, 40).convert("P")
    image.info["transparency"] = 0
    image.save(path, transparency=0)
    return path, (40, 40), ""


def _exif_rotated_jpeg(d: Path) -> tuple[Path, tuple[int, int], str]:
    path = d / "rotated.jpg"
    stored = _digit_canvas(90, 60)  # stored landscape, shown portrait (orientation 6)
    exif = stored.getexif()
    exif[0x0112] = 6
    stored.convert("RGB").save(path, exif=exif, quality=95)
    return path, (60, 90), "EXIF orientation"


AWKWARD_IMAGES: dict[str, Callable[[Path], tuple[Path, tuple[int, int], str]]] = {
    "animated-gif": _animated_gif,
    "cmyk-jpeg": _cmyk_jpeg,
    "16-bit-png": _sixteen_bit_png,
    "palette-png-with-transparency": _palette_with_transparency,
    "exif-rotated-jpeg": _exif_rotated_jpeg,
}


@pytest.mark.parametrize("case", list(AWKWARD_IMAGES))
def test_awkward_images_are_denoised_at_their_size_and_polarity(tmp_path: Path, case: str) -> None:
    path, shown_size, note = AWKWARD_IMAGES[case](tmp_path)
    before = sha256(path)
    result = invoke("denoise", path, "-o", tmp_path / "out.png")
    assert result.exit_code == 0, result.output
    if note:
        assert note in result.stderr
    assert sha256(path) == before
    with Image.open(tmp_path / "out.png") as out:
        assert out.size == shown_size
        if case == "16-bit-png":
            assert out.mode == "I;16"
        gray = np.asarray(out.convert("L"), dtype=np.float32)
    # Dark ink on light paper in, dark ink on light paper out: the border stays light.
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    assert border.mean() > 128


def test_both_runtime_packages_installed_is_one_line(
    tmp_path: Path, digit_png: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import aeinfer.model
    import aeinfer.session

    monkeypatch.setattr(
        aeinfer.session,
        "installed_runtimes",
        lambda: {"onnxruntime": "1.31.1", "onnxruntime-gpu": "1.31.1"},
    )
    monkeypatch.setattr(aeinfer.model, "_CACHE", {})
    before = snapshot(tmp_path)
    result = invoke("denoise", digit_png, "-o", tmp_path / "out.png")
    assert_one_error(result, "onnxruntime", "onnxruntime-gpu", "pip uninstall")
    assert snapshot(tmp_path) == before


def test_denoise_improves_a_large_noisy_photo_at_its_own_size(tmp_path: Path) -> None:
    """A photo-like 640×480 RGB digit, dark ink on light paper with noise: the denoised output,
    at the input's size and polarity, is much closer to the clean picture than the input."""
    from PIL import ImageDraw

    clean_image = Image.new("L", (640, 480), 225)
    ImageDraw.Draw(clean_image).line([(250, 120), (400, 110), (300, 380)], fill=30, width=28)
    clean_pixels = np.asarray(clean_image, dtype=np.float32) / 255.0
    rng = np.random.default_rng(0)
    noisy_pixels = np.clip(clean_pixels + 0.3 * rng.standard_normal(clean_pixels.shape), 0, 1)
    rgb = np.repeat((noisy_pixels * 255).astype(np.uint8)[..., None], 3, axis=2)
    Image.fromarray(rgb).save(tmp_path / "photo.jpg", quality=92)
    result = invoke("denoise", tmp_path / "photo.jpg", "-o", tmp_path / "clean.png")
    assert result.exit_code == 0, result.output
    with Image.open(tmp_path / "clean.png") as out:
        assert out.size == (640, 480)
        assert out.mode == "RGB"
    noisy_psnr = -10 * np.log10(mse(read_gray(tmp_path / "photo.jpg"), clean_pixels))
    denoised_psnr = -10 * np.log10(mse(read_gray(tmp_path / "clean.png"), clean_pixels))
    assert denoised_psnr >= noisy_psnr + 6.0, (noisy_psnr, denoised_psnr)
