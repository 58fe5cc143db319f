"""Any model shape, as a new user brings it: train a few steps, export in one call, serve.

Four autoencoders that are not MNIST-shaped — an RGB 32×32 convolutional one, a grey 64×64 dense
one, a fully convolutional one served on a 3000×2000 photo in tiles, and a 2-channel 128-sample
signal one whose values leave [0, 1] — are trained here for a few steps, exported with
``export_pair(encoder, decoder, example, directory)`` and served through the command line
(``encode``, ``decode``, ``reconstruct --per-file``, ``denoise``) and the Python API, which must
agree exactly. Wrong shapes get one line naming the input, its shape and the model's.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import assert_one_error, invoke
from PIL import Image
from torch import nn

import aeinfer
from aeinfer.export.onnx_export import export_pair

TASKS = ["encode", "decode", "reconstruct", "denoise", "score", "interpolate"]
STEPS = 30
SEAMLESS_ATOL = 1e-4
BIG = (3000, 2000)  # width, height: 6 megapixels
PEAK_RSS_BOUND_MB = 600
"""The tiled denoise of a 6-megapixel photo, whole process (Python, numpy, ONNX Runtime,
Pillow): measured 341 MB on the development machine. The photo itself takes 18 MB as uint8
and 72 MB per float32 copy; without tiles ONNX Runtime alone would hold several full-size
activations."""

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def smooth_images(n: int, channels: int, height: int, width: int, seed: int) -> torch.Tensor:
    """Blurry colour fields in [0, 1]: something an autoencoder can learn in a few steps."""
    gen = torch.Generator().manual_seed(seed)
    coarse = torch.rand((n, channels, max(2, height // 8), max(2, width // 8)), generator=gen)
    return nn.functional.interpolate(coarse, size=(height, width), mode="bilinear")


def fit(encoder: nn.Module, decoder: nn.Module, batches: Callable[[int], torch.Tensor]) -> None:
    """A few Adam steps on the reconstruction error (denoising: noisy in, clean out)."""
    params = [*encoder.parameters(), *decoder.parameters()]
    optimizer = torch.optim.Adam(params, lr=3e-3)
    gen = torch.Generator().manual_seed(0)
    for step in range(STEPS):
        clean = batches(step)
        noisy = clean + 0.1 * torch.randn(clean.shape, generator=gen)
        loss = nn.functional.mse_loss(decoder(encoder(noisy)), clean)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    encoder.eval()
    decoder.eval()


# --- the four models ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("own-models")
    torch.manual_seed(0)
    made: dict[str, Path] = {}

    # RGB 32×32, convolutional, a (8, 8, 8) feature-map code.
    enc = nn.Sequential(
        nn.Conv2d(3, 16, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 8, 3, stride=2, padding=1),
    )
    dec = nn.Sequential(
        nn.ConvTranspose2d(8, 16, 4, stride=2, padding=1), nn.ReLU(),
        nn.ConvTranspose2d(16, 3, 4, stride=2, padding=1), nn.Sigmoid(),
    )  # fmt: skip
    fit(enc, dec, lambda s: smooth_images(16, 3, 32, 32, s))
    made["rgb32"] = root / "rgb32"
    export_pair(enc, dec, smooth_images(2, 3, 32, 32, 99), made["rgb32"], tasks=TASKS)

    # Grey 64×64, dense, a 24-float code.
    enc = nn.Sequential(nn.Flatten(), nn.Linear(64 * 64, 24), nn.ReLU())
    dec = nn.Sequential(nn.Linear(24, 64 * 64), nn.Sigmoid(), nn.Unflatten(1, (1, 64, 64)))
    fit(enc, dec, lambda s: smooth_images(16, 1, 64, 64, s))
    made["grey64"] = root / "grey64"
    export_pair(enc, dec, smooth_images(2, 1, 64, 64, 99), made["grey64"], tasks=TASKS)

    # Fully convolutional: any size that is a multiple of 2; a half-resolution code.
    enc = nn.Sequential(nn.PixelUnshuffle(2), nn.Conv2d(12, 8, 3, padding=1))
    dec = nn.Sequential(nn.Conv2d(8, 12, 3, padding=1), nn.PixelShuffle(2), nn.Sigmoid())
    fit(enc, dec, lambda s: smooth_images(8, 3, 48, 64, s))
    made["fcn"] = root / "fcn"
    export_pair(
        enc,
        dec,
        smooth_images(2, 3, 48, 64, 99),
        made["fcn"],
        free_axes=("height", "width"),
        multiple_of=2,
        tasks=TASKS,
    )

    # Signals: 2 channels × 128 samples, values far outside [0, 1], a 16-float code.
    def signals(step: int) -> torch.Tensor:
        gen = torch.Generator().manual_seed(step)
        t = torch.linspace(0, 6.28, 128)
        phase = torch.rand((16, 2, 1), generator=gen) * 6.28
        return 5.0 * torch.sin(t + phase) + 2.0

    enc = nn.Sequential(nn.Flatten(), nn.Linear(256, 16))
    dec = nn.Sequential(nn.Linear(16, 256), nn.Unflatten(1, (2, 128)))
    fit(enc, dec, signals)
    made["signal"] = root / "signal"
    export_pair(enc, dec, signals(99)[:4], made["signal"], value_range=None, tasks=TASKS)
    return made


def test_cards_say_what_each_model_is(models: dict[str, Path]) -> None:
    cards = {name: aeinfer.load(path).card for name, path in models.items()}
    assert cards["rgb32"].data.describe() == "(N, 3, 32, 32)"
    assert cards["rgb32"].data.channels == ("R", "G", "B")
    assert cards["rgb32"].latent.shape == (8, 8, 8)
    assert cards["rgb32"].preparation.adapter == "image"
    assert cards["grey64"].data.describe() == "(N, 1, 64, 64)"
    assert cards["grey64"].encoder.inputs[0].shape == (None, 1, 64, 64)
    fcn = cards["fcn"]
    assert fcn.data.describe() == "(N, 3, H%2, W%2)"
    assert fcn.preparation.adapter == "tiles"
    assert [a.stride for a in fcn.latent.axes] == [None, 2, 2]
    # The measured receptive radius (here 3×3 conv at half resolution twice: 4 px, plus the
    # pixel (un)shuffle's phase) became the tiles margin.
    assert fcn.preparation.params["margin"] >= 4
    signal = cards["signal"]
    assert signal.modality == "signal" and signal.data.range is None and not signal.data.clip
    assert signal.data.describe() == "(N, 2, 128)"
    for card in cards.values():
        assert card.name == card.directory.name
        assert (card.directory / "fixtures.json").is_file()


# --- images: CLI and API, identical ---------------------------------------------------------------


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two photos of other sizes and modes than any model's: RGB 70×45 and grey 33×51."""
    folder = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    Image.fromarray((rng.random((45, 70, 3)) * 255).astype(np.uint8)).save(folder / "a.png")
    Image.fromarray((rng.random((51, 33)) * 255).astype(np.uint8)).save(folder / "b.png")
    return folder


@pytest.mark.parametrize("name", ["rgb32", "grey64", "fcn"])
def test_image_models_through_the_cli_and_the_api(
    name: str, models: dict[str, Path], photos: Path, tmp_path: Path
) -> None:
    model_dir = models[name]
    model = aeinfer.load(model_dir, device="cpu")
    files = sorted(photos.glob("*.png"))

    out = tmp_path / "denoised"
    assert (
        invoke("denoise", photos, "-o", out, "--model", model_dir, "--device", "cpu").exit_code == 0
    )
    for file in files:
        with Image.open(file) as original, Image.open(out / file.name) as written:
            assert written.size == original.size and written.mode == original.mode
            api = model.denoise(file)
            assert np.array_equal(np.asarray(api), np.asarray(written))

    result = invoke("reconstruct", files[0], "--per-file", "-o", tmp_path / "pair.png",
                    "--model", model_dir, "--device", "cpu")  # fmt: skip
    assert result.exit_code == 0, result.output
    with Image.open(files[0]) as original, Image.open(tmp_path / "pair.png") as pair:
        assert pair.size == (2 * original.width, original.height)

    codes_file = tmp_path / "codes.npy"
    assert invoke("encode", files[0], "-o", codes_file, "--model", model_dir).exit_code == 0
    codes = np.load(codes_file)
    np.testing.assert_array_equal(codes, model.encode(files[0]))
    assert (
        invoke("decode", codes_file, "-o", tmp_path / "items.npy", "--model", model_dir).exit_code
        == 0
    )
    items = np.load(tmp_path / "items.npy")
    np.testing.assert_array_equal(items, model.decode(codes))
    assert items.shape[:2] == (1, model.item_shape[0])
    assert (
        invoke("decode", codes_file, "-o", tmp_path / "grid.png", "--model", model_dir).exit_code
        == 0
    )
    with Image.open(tmp_path / "grid.png") as grid:
        assert grid.mode == ("L" if model.item_shape[0] == 1 else "RGB")


@pytest.mark.parametrize("name", ["rgb32", "grey64"])
def test_fixed_size_wrong_shapes_are_one_line(
    name: str, models: dict[str, Path], tmp_path: Path
) -> None:
    model = aeinfer.load(models[name], device="cpu")
    with pytest.raises(aeinfer.InputError) as info:
        model.encode(np.zeros((2, 3, 28, 28), np.float32))
    message = str(info.value)
    assert "(2, 3, 28, 28)" in message and model.card.data.describe() in message
    assert "\n" not in message
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.zeros((2, 5), np.float32))
    error = assert_one_error(
        invoke("decode", wrong, "-o", tmp_path / "x.npy", "--model", models[name]),
        "wrong.npy",
        "(2, 5)",
    )
    assert "decodes codes of shape" in error
    assert not (tmp_path / "x.npy").exists()


def test_fully_convolutional_wrong_shapes_are_one_line(models: dict[str, Path]) -> None:
    model = aeinfer.load(models["fcn"], device="cpu")
    with pytest.raises(aeinfer.InputError) as info:
        model.reconstruct(np.zeros((1, 3, 31, 40), np.float32))
    assert "(1, 3, 31, 40)" in str(info.value) and "multiple of 2" in str(info.value)
    with pytest.raises(aeinfer.InputError) as info:
        model.decode(np.zeros((1, 5, 10, 10), np.float32))
    assert "(1, 5, 10, 10)" in str(info.value) and "(N, 8, H, W)" in str(info.value)
    # Any size of a multiple of 2 is fine as a tensor, and codes follow at half resolution.
    assert model.encode(np.zeros((1, 3, 30, 44), np.float32)).shape == (1, 8, 15, 22)


# --- the fully convolutional model: tiles, seamless, bounded memory ------------------------------


def test_tiles_are_seamless(models: dict[str, Path]) -> None:
    """The tiled result equals the whole-image result (the margin covers the receptive field)."""
    model = aeinfer.load(models["fcn"], device="cpu")
    rng = np.random.default_rng(1)
    picture = Image.fromarray((rng.random((530, 700, 3)) * 255).astype(np.uint8))
    pipe = model.pipeline
    tensor, _ = pipe.adapter.prepare(pipe.read(picture))
    assert tensor.shape[2] > pipe.adapter.params.tile + 2 * pipe.adapter.params.margin  # tiled
    whole = model.model.reconstruct(tensor)
    tiled = pipe.adapter.run(model.model.reconstruct, tensor)
    assert np.abs(whole - tiled).max() <= SEAMLESS_ATOL


# The peak is read from /proc/self/status (VmHWM: this address space's high-water mark), not
# getrusage: Linux keeps ru_maxrss across execve, so a child forked from the test process
# would report the test process's own peak.
PEAK_PROGRAM = textwrap.dedent(
    """
    import json, sys, time
    from aeinfer.cli import main
    sys.argv = ["aeinfer", "denoise", sys.argv[1], "-o", sys.argv[2], "--model", sys.argv[3],
                "--device", "cpu"]
    started = time.perf_counter()
    try:
        main()
    except SystemExit as exc:
        assert exc.code in (0, None), exc.code
    with open("/proc/self/status") as status:
        peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM")) / 1024
    print(json.dumps({"peak_mb": peak, "seconds": time.perf_counter() - started}))
    """
)


def test_a_large_photo_is_denoised_in_tiles_in_bounded_memory(
    models: dict[str, Path], tmp_path: Path
) -> None:
    width, height = BIG
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    rgb = np.stack([x / width, y / height, 0.5 + 0.5 * np.sin(x / 50.0)], axis=-1)
    noise = np.random.default_rng(2).normal(0, 0.05, rgb.shape)
    source = tmp_path / "big.png"
    Image.fromarray((np.clip(rgb + noise, 0, 1) * 255).astype(np.uint8)).save(source)
    target = tmp_path / "big.out.png"
    done = subprocess.run(
        [sys.executable, "-c", PEAK_PROGRAM, str(source), str(target), str(models["fcn"])],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    print(
        f"3000×2000 tiled denoise: peak RSS {figures['peak_mb']:.0f} MB, {figures['seconds']:.1f} s"
    )
    assert figures["peak_mb"] <= PEAK_RSS_BOUND_MB
    with Image.open(target) as written:
        assert written.size == BIG and written.mode == "RGB"


# --- signals --------------------------------------------------------------------------------------


def test_signal_model_through_the_cli_and_the_api(models: dict[str, Path], tmp_path: Path) -> None:
    model_dir = models["signal"]
    model = aeinfer.load(model_dir, device="cpu")
    rng = np.random.default_rng(3)
    one = tmp_path / "one.npy"
    np.save(one, (rng.normal(2, 5, (2, 128))).astype(np.float32))
    batch = tmp_path / "batch.npy"
    np.save(batch, (rng.normal(2, 5, (3, 2, 128))).astype(np.float32))

    codes_file = tmp_path / "codes.npy"
    result = invoke("encode", one, batch, "-o", codes_file, "--model", model_dir)
    assert result.exit_code == 0, result.output
    codes = np.load(codes_file)
    assert codes.shape == (4, 16)  # one row for (C, T), three for (N, C, T)
    np.testing.assert_array_equal(codes, model.encode([one, batch]))

    assert invoke("denoise", one, batch, "--model", model_dir).exit_code == 0
    for file in (one, batch):
        written = np.load(file.with_name(f"{file.stem}.denoised.npy"))
        assert written.shape == np.load(file).shape
        np.testing.assert_array_equal(written, model.denoise(file))
        assert written.min() < 0 or written.max() > 1  # not squashed into [0, 1]

    assert invoke("reconstruct", one, "--per-file", "--model", model_dir).exit_code == 0
    assert np.load(tmp_path / "one.reconstructed.npy").shape == (2, 128)
    assert (
        invoke("decode", codes_file, "-o", tmp_path / "decoded.npy", "--model", model_dir).exit_code
        == 0
    )
    np.testing.assert_allclose(np.load(tmp_path / "decoded.npy"), model.decode(codes), atol=0)
    stdout = invoke("encode", one, "-o", "-", "--model", model_dir).stdout_bytes
    np.testing.assert_array_equal(np.load(io.BytesIO(stdout)), codes[:1])


def test_signal_wrong_shapes_are_one_line(models: dict[str, Path], tmp_path: Path) -> None:
    model_dir = models["signal"]
    short = tmp_path / "short.npy"
    np.save(short, np.zeros((2, 100), np.float32))
    error = assert_one_error(
        invoke("encode", short, "-o", tmp_path / "z.npy", "--model", model_dir),
        "short.npy",
        "(2, 100)",
    )
    assert "(2, 128)" in error
    assert not (tmp_path / "z.npy").exists()
    channels = tmp_path / "three.npy"
    np.save(channels, np.zeros((3, 128), np.float32))
    assert_one_error(invoke("denoise", channels, "--model", model_dir), "three.npy", "(3, 128)")
    model = aeinfer.load(model_dir, device="cpu")
    with pytest.raises(aeinfer.InputError) as info:
        model.reconstruct(np.zeros((5, 2, 64), np.float32))
    assert "(5, 2, 64)" in str(info.value) and "(N, 2, 128)" in str(info.value)
