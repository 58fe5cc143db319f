"""The runtime: ``aeinfer.load`` and the numpy API over ONNX Runtime, for every family."""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

import aeinfer
from aeinfer.errors import (
    CapabilityError,
    DeviceUnavailableError,
    InputError,
    ModelIntegrityError,
    ModelNotFoundError,
)
from aeinfer.metadata import CARD_FILE, DECODER_FILE, ENCODER_FILE, read_card
from aeinfer.model import Model
from aeinfer.train.data import load_split
from aeinfer.train.registry import FAMILIES
from aeinfer.zoo import MODELS_DIR, bundled_names, list_models

FAMILY_NAMES = list(FAMILIES)
N_IMAGES = 16


@pytest.fixture(scope="module")
def digits(mnist_dir: Path) -> np.ndarray:
    """Real MNIST test digits, uint8 (N, 28, 28)."""
    return load_split("test", mnist_dir).images[:N_IMAGES].copy()


@pytest.fixture(params=FAMILY_NAMES)
def model(request: pytest.FixtureRequest, smoke) -> Model:
    return aeinfer.load(smoke(request.param).model_dir, device="cpu")


@pytest.fixture
def dense_dir(smoke) -> Path:
    return smoke("dense").model_dir


def copy_model(source: Path, tmp_path: Path, name: str = "copy") -> Path:
    target = tmp_path / name
    shutil.copytree(source, target)
    return target


# --- the API, per family --------------------------------------------------------------------


def test_encode(model: Model, digits: np.ndarray) -> None:
    codes = model.encode(digits)
    card = model.info
    assert model.latent_shape == tuple(card["latent"]["shape"])
    assert codes.shape == (N_IMAGES, *model.latent_shape)
    assert codes.dtype == np.float32
    assert np.isfinite(codes).all()
    # Different digits get different codes.
    assert not np.array_equal(codes[0], codes[1])


def test_decode(model: Model, digits: np.ndarray) -> None:
    codes = model.encode(digits)
    images = model.decode(codes)
    assert images.shape == (N_IMAGES, 28, 28)
    assert images.dtype == np.float32
    assert images.min() >= 0.0 and images.max() <= 1.0
    # Latents far from the data still decode into the pixel range.
    wild = np.random.default_rng(0).normal(0, 5, size=(3, *model.latent_shape))
    decoded = model.decode(wild)
    assert decoded.shape == (3, 28, 28) and decoded.min() >= 0.0 and decoded.max() <= 1.0
    # One latent without a batch axis, and a list of floats for flat latents.
    single = model.decode(codes[0])
    assert single.shape == (1, 28, 28)
    np.testing.assert_allclose(single[0], images[0], atol=1e-5)
    assert model.decode(np.zeros((0, *model.latent_shape))).shape == (0, 28, 28)


def test_reconstruct_accepts_uint8_float_and_single(model: Model, digits: np.ndarray) -> None:
    from_uint8 = model.reconstruct(digits)
    assert from_uint8.shape == (N_IMAGES, 28, 28) and from_uint8.dtype == np.float32
    assert from_uint8.min() >= 0.0 and from_uint8.max() <= 1.0
    as_float = digits.astype(np.float32) / 255.0
    np.testing.assert_array_equal(model.reconstruct(as_float), from_uint8)
    np.testing.assert_allclose(
        model.reconstruct(as_float.astype(np.float64)), from_uint8, atol=1e-6
    )
    single = model.reconstruct(digits[3])
    assert single.shape == (1, 28, 28)
    np.testing.assert_allclose(single[0], from_uint8[3], atol=1e-5)
    listed = model.reconstruct([digits[0], digits[1]])
    assert listed.shape == (2, 28, 28)
    np.testing.assert_allclose(listed, from_uint8[:2], atol=1e-5)
    assert model.reconstruct(np.zeros((0, 28, 28), dtype=np.uint8)).shape == (0, 28, 28)
    # reconstruct is decode(encode(x)).
    np.testing.assert_array_equal(from_uint8, model.decode(model.encode(digits)))


def test_batches_beyond_max_batch_give_the_same_results(
    model: Model, digits: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    import aeinfer.model

    whole = model.reconstruct(digits), model.encode(digits)
    monkeypatch.setattr(aeinfer.model, "MAX_BATCH", 5)  # 16 images: batches of 5, 5, 5, 1
    np.testing.assert_allclose(model.reconstruct(digits), whole[0], atol=1e-5)
    np.testing.assert_allclose(model.encode(digits), whole[1], atol=1e-5)
    np.testing.assert_allclose(model.decode(whole[1]), whole[0], atol=1e-5)
    if model.is_variational:
        mean, logvar = model.encode_distribution(digits)
        assert mean.shape == logvar.shape == (N_IMAGES, *model.latent_shape)
        np.testing.assert_allclose(mean, whole[1], atol=1e-5)


def test_info_and_providers(model: Model, smoke) -> None:
    info = model.info
    assert isinstance(info, dict)
    assert info["family"] == model.family
    assert info["family"] in FAMILIES
    assert info == json.loads((model.path / CARD_FILE).read_text(encoding="utf-8"))
    info["family"] = "changed"
    assert model.info["family"] == model.family  # a copy
    assert model.providers == ["CPUExecutionProvider"]
    assert "CPU" in model.device_note
    assert model.family in repr(model)
    assert model.path == smoke(model.family).model_dir.resolve()


def test_variational_api(model: Model, digits: np.ndarray) -> None:
    if model.is_variational:
        mean, logvar = model.encode_distribution(digits)
        assert mean.shape == logvar.shape == (N_IMAGES, *model.latent_shape)
        np.testing.assert_array_equal(model.encode(digits), mean)
        samples = model.sample(5, seed=11)
        assert samples.shape == (5, 28, 28) and samples.dtype == np.float32
        assert samples.min() >= 0.0 and samples.max() <= 1.0
        np.testing.assert_array_equal(samples, model.sample(5, seed=11))
        assert not np.array_equal(samples, model.sample(5, seed=12))
        assert model.sample(0, seed=1).shape == (0, 28, 28)
        with pytest.raises(InputError):
            model.sample(-1)
    else:
        with pytest.raises(CapabilityError, match="not variational"):
            model.sample(4, seed=0)
        with pytest.raises(CapabilityError):
            model.encode_distribution(digits)


def test_bad_images_raise_input_error(model: Model, digits: np.ndarray) -> None:
    floats = digits.astype(np.float32) / 255.0
    bad_inputs = {
        "wrong height": np.zeros((2, 27, 28), dtype=np.uint8),
        "flat": np.zeros((2, 784), dtype=np.uint8),
        "one row": np.zeros(28, dtype=np.float32),
        "channel axis": np.zeros((2, 1, 28, 28), dtype=np.float32),
        "above one": floats * 2.0,
        "negative": floats - 0.5,
        "nan": np.where(floats > 0.5, np.nan, floats).astype(np.float32),
        "inf": np.full((1, 28, 28), np.inf, dtype=np.float32),
        "int32": digits.astype(np.int32),
        "bool": digits > 0,
    }
    for what, bad in bad_inputs.items():
        with pytest.raises(InputError):
            model.encode(bad)
            pytest.fail(f"{what}: accepted")
        with pytest.raises(InputError):
            model.reconstruct(bad)


def test_bad_latents_raise_input_error(model: Model) -> None:
    good = np.zeros((2, *model.latent_shape), dtype=np.float32)
    wider = np.zeros((2, *model.latent_shape[:-1], model.latent_shape[-1] + 1), dtype=np.float32)
    nan = good.copy()
    nan.flat[0] = np.nan
    inf = good.copy()
    inf.flat[-1] = -np.inf
    for bad in (wider, nan, inf, good.astype(np.complex64), good.astype(str), good[..., :-1]):
        with pytest.raises(InputError):
            model.decode(bad)
    with pytest.raises(InputError, match="latent shape"):
        model.decode(wider)
    with pytest.raises(InputError, match="NaN"):
        model.decode(nan)


# --- devices, names, integrity --------------------------------------------------------------


def test_cuda_request_is_checked(dense_dir: Path) -> None:
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        with pytest.raises(DeviceUnavailableError, match="CUDA"):
            aeinfer.load(dense_dir, device="cuda")
    else:  # a GPU machine: either CUDA really starts, or the fallback is reported
        try:
            loaded = aeinfer.load(dense_dir, device="cuda")
        except DeviceUnavailableError as exc:
            assert "CUDA" in str(exc)
        else:
            assert loaded.providers[0] == "CUDAExecutionProvider"


class _ListsCuda:
    """Stand-ins for an onnxruntime-gpu install on a CPU machine: CUDA is listed as available;
    ``starts`` says whether sessions report it as obtained (never really used here)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, starts: bool) -> None:
        real_session = ort.InferenceSession

        class Session(real_session):  # type: ignore[misc, valid-type]
            def __init__(self, model: bytes, options: object, providers: list[str]) -> None:
                self.requested = providers
                super().__init__(model, options, providers=["CPUExecutionProvider"])

            def get_providers(self) -> list[str]:
                return list(self.requested) if starts else ["CPUExecutionProvider"]

        listed = ["CUDAExecutionProvider", "CPUExecutionProvider"]
        monkeypatch.setattr(ort, "get_available_providers", lambda: listed)
        monkeypatch.setattr(ort, "InferenceSession", Session)


def test_cuda_listed_but_not_started_is_an_error(
    monkeypatch: pytest.MonkeyPatch, dense_dir: Path
) -> None:
    _ListsCuda(monkeypatch, starts=False)
    with pytest.raises(DeviceUnavailableError, match="fell back to the CPU"):
        Model(read_card(dense_dir), "cuda")
    auto = Model(read_card(dense_dir), "auto")
    assert auto.device_note == "device auto: using CPU (CUDA failed to start)"
    assert auto.providers == ["CPUExecutionProvider"]


def test_cuda_batches_use_io_binding(monkeypatch: pytest.MonkeyPatch, dense_dir: Path) -> None:
    _ListsCuda(monkeypatch, starts=True)
    model = Model(read_card(dense_dir), "cuda")
    assert model.providers[0] == "CUDAExecutionProvider"
    devices = []
    monkeypatch.setattr(
        model, "_round_trip_bound", lambda images, device: devices.append(device) or [images]
    )
    model.reconstruct(np.zeros((3, 28, 28), dtype=np.float32))
    assert devices == ["cuda"]


@pytest.mark.parametrize("family", ["dense", "vae", "denoise", "lstm"])
def test_io_binding_path_matches_the_plain_path(smoke, family: str) -> None:
    """The code CUDA runs, run with host memory as the device: same results."""
    model = Model(read_card(smoke(family).model_dir), "cpu")
    images = np.random.default_rng(1).random((9, 28, 28), dtype=np.float32)
    plain = model.reconstruct(images)
    model._bound_device = "cpu"
    np.testing.assert_array_equal(model.reconstruct(images), plain)


def test_auto_device_says_what_it_used(dense_dir: Path) -> None:
    loaded = aeinfer.load(dense_dir, device="auto")
    assert loaded.providers[-1] == "CPUExecutionProvider"
    assert loaded.device_note.startswith("device auto: using ")


def test_unknown_device(dense_dir: Path) -> None:
    with pytest.raises(DeviceUnavailableError, match="tpu"):
        aeinfer.load(dense_dir, device="tpu")


def test_unknown_model_name_lists_bundled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # so the name cannot be a directory by accident
    names = bundled_names()
    assert names
    with pytest.raises(ModelNotFoundError) as info:
        aeinfer.load("no-such-model", device="cpu")
    message = str(info.value)
    assert "no-such-model" in message
    for name in names:
        assert name in message


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError):
        aeinfer.load(tmp_path / "absent", device="cpu")
    with pytest.raises(ModelNotFoundError, match="card"):
        aeinfer.load(tmp_path, device="cpu")  # a directory, but not a model


@pytest.mark.parametrize(
    ("file_name", "precision"),
    [
        (ENCODER_FILE, "fp32"),
        (DECODER_FILE, "fp32"),
        ("encoder.int8.onnx", "int8"),
        ("decoder.fp16.onnx", "fp16"),
    ],
)
def test_tampered_graph(tmp_path: Path, dense_dir: Path, file_name: str, precision: str) -> None:
    copy = copy_model(dense_dir, tmp_path)
    path = copy / file_name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    if precision != "fp32":
        aeinfer.load(copy, device="cpu")  # the fp32 graphs are untouched and still load
    with pytest.raises(ModelIntegrityError, match=file_name):
        aeinfer.load(copy, device="cpu", precision=precision)
    with pytest.raises(ModelIntegrityError, match=file_name):
        read_card(copy).verify_checksums()


def test_precision_is_checked(dense_dir: Path) -> None:
    with pytest.raises(InputError, match="unknown precision 'int4'; valid: fp32, fp16, int8"):
        aeinfer.load(dense_dir, device="cpu", precision="int4")


def test_precision_not_shipped_lists_those_shipped(tmp_path: Path, dense_dir: Path) -> None:
    copy = copy_model(dense_dir, tmp_path)
    card_path = copy / "card.json"
    card = json.loads(card_path.read_text(encoding="utf-8"))
    del card["variants"]["int8"]
    card_path.write_text(json.dumps(card), encoding="utf-8")
    with pytest.raises(CapabilityError, match="no int8 variant; it ships in fp32, fp16"):
        aeinfer.load(copy, device="cpu", precision="int8")


def test_precisions_are_cached_apart(dense_dir: Path) -> None:
    fp32 = aeinfer.load(dense_dir, device="cpu")
    int8 = aeinfer.load(dense_dir, device="cpu", precision="int8")
    assert (fp32.precision, int8.precision) == ("fp32", "int8")
    assert int8 is aeinfer.load(dense_dir, device="cpu", precision="int8")
    assert fp32.precisions == int8.precisions == ("fp32", "fp16", "int8")
    assert "precision='int8'" in repr(int8)


def test_truncated_graph(tmp_path: Path, dense_dir: Path) -> None:
    copy = copy_model(dense_dir, tmp_path)
    path = copy / ENCODER_FILE
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ModelIntegrityError):
        aeinfer.load(copy, device="cpu")


def test_missing_graph(tmp_path: Path, dense_dir: Path) -> None:
    copy = copy_model(dense_dir, tmp_path)
    (copy / DECODER_FILE).unlink()
    with pytest.raises(ModelNotFoundError, match=DECODER_FILE):
        aeinfer.load(copy, device="cpu")


def test_broken_card(tmp_path: Path, dense_dir: Path) -> None:
    copy = copy_model(dense_dir, tmp_path)
    (copy / CARD_FILE).write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelIntegrityError, match=CARD_FILE):
        aeinfer.load(copy, device="cpu")
    (copy / CARD_FILE).write_text(json.dumps({"name": "x"}), encoding="utf-8")
    with pytest.raises(ModelIntegrityError, match="lacks"):
        aeinfer.load(copy, device="cpu")
    (copy / CARD_FILE).unlink()
    with pytest.raises(ModelNotFoundError, match="card"):
        aeinfer.load(copy, device="cpu")


def test_card_and_graph_must_agree(tmp_path: Path, dense_dir: Path) -> None:
    """The graphs carry their own metadata; a card claiming another family is caught."""
    copy = copy_model(dense_dir, tmp_path)
    card = json.loads((copy / CARD_FILE).read_text(encoding="utf-8"))
    card["family"] = "conv"
    (copy / CARD_FILE).write_text(json.dumps(card), encoding="utf-8")
    with pytest.raises(ModelIntegrityError, match="family"):
        aeinfer.load(copy, device="cpu")


def test_load_cache(tmp_path: Path, dense_dir: Path) -> None:
    first = aeinfer.load(dense_dir, device="cpu")
    assert aeinfer.load(dense_dir, device="cpu") is first
    assert aeinfer.load(str(dense_dir), device="cpu") is first
    copy = copy_model(dense_dir, tmp_path)
    other = aeinfer.load(copy, device="cpu")
    assert other is not first
    assert aeinfer.load(copy, device="cpu") is other


# --- the bundled model ----------------------------------------------------------------------


def test_bundled_denoise(digits: np.ndarray) -> None:
    assert "denoise" in bundled_names()
    card = read_card(MODELS_DIR / "denoise")
    card.verify_checksums()
    assert card.family == "denoise"
    model = aeinfer.load("denoise", device="cpu")
    assert model.name == "denoise" and model.family == "denoise"
    assert model.providers == ["CPUExecutionProvider"]
    out = model.reconstruct(digits)
    assert out.shape == (N_IMAGES, 28, 28) and out.min() >= 0.0 and out.max() <= 1.0
    listed = {entry["name"]: entry for entry in list_models()}
    assert listed["denoise"]["family"] == "denoise"
    assert listed["denoise"]["latent_shape"] == list(model.latent_shape)


# --- threads --------------------------------------------------------------------------------


def _rss_bytes() -> int:
    """Resident set size of this process now (Linux /proc; the test suite runs on Linux)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


THREADS = 8
CALLS_PER_THREAD = 20
# Allowed RSS growth between a warm-up round and a five times longer round: arenas and caches
# settle in the warm-up, so a leak of even a few KB per call would exceed this.
RSS_GROWTH_LIMIT = 16 * 1024 * 1024


def test_thread_safety_and_flat_memory(digits: np.ndarray) -> None:
    model = aeinfer.load("denoise", device="cpu")
    rng = np.random.default_rng(5)
    inputs = [digits[i : i + 4] for i in range(0, N_IMAGES, 4)]
    inputs.append(rng.random((3, 28, 28), dtype=np.float32))
    expected = [model.reconstruct(x) for x in inputs]

    def run_round(calls: int) -> None:
        mismatches: list[str] = []
        errors: list[BaseException] = []
        start = threading.Barrier(THREADS)

        def worker(index: int) -> None:
            try:
                start.wait()
                for call in range(calls):
                    which = (index + call) % len(inputs)
                    if not np.array_equal(model.reconstruct(inputs[which]), expected[which]):
                        mismatches.append(f"thread {index} call {call}")
            except BaseException as exc:  # reported below, in the main thread
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        assert not any(thread.is_alive() for thread in threads)
        assert not errors, errors
        assert not mismatches, mismatches

    run_round(CALLS_PER_THREAD)
    before = _rss_bytes()
    run_round(5 * CALLS_PER_THREAD)
    assert _rss_bytes() - before < RSS_GROWTH_LIMIT
