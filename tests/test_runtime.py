"""The runtime: ``aeinfer.load`` and the tensor-level Model over ONNX Runtime, for every family.

Per family (smoke-trained and exported by ``conftest.smoke``): shapes, dtypes and ranges of
encode/decode/reconstruct, the input forms the Model accepts, bounded batches, the description,
the variational API and one-line InputErrors for every bad tensor. Then devices, the bare-name
rule, model integrity (graphs, card, card against graph), precisions and the load cache, the
file-level Autoencoder calls, a format-1 model, and threads.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
from PIL import Image

import aeinfer
import aeinfer.model
from aeinfer.api import Autoencoder
from aeinfer.card import CARD_FILE, read_card, verify_checksums
from aeinfer.errors import (
    CapabilityError,
    DeviceUnavailableError,
    InputError,
    ModelIntegrityError,
    ModelNotFoundError,
)
from aeinfer.mnist import load_split
from aeinfer.model import BOUND_DEVICE_CUDA, BOUND_DEVICE_HOST, Model
from aeinfer.train.registry import FAMILIES
from aeinfer.zoo import MODELS_DIR, bundled_names, is_path, list_models, resolve

# The fixed-size families, smoke-trained on MNIST: the MNIST-shaped checks below. A free-size
# family (the photo denoiser) is checked as such in tests/test_photo_family.py.
FAMILY_NAMES = [name for name, f in FAMILIES.items() if not getattr(f, "FREE_AXES", ())]
N_IMAGES = 16
ITEM = (1, 28, 28)
CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
V1_FIXTURE = Path(__file__).resolve().parent / "fixtures" / "v1-dense"


@pytest.fixture(scope="module")
def digits(mnist_dir: Path) -> np.ndarray:
    """Real MNIST test digits, uint8 (N, 28, 28)."""
    return load_split("test", mnist_dir).images[:N_IMAGES].copy()


@pytest.fixture(params=FAMILY_NAMES)
def auto(request: pytest.FixtureRequest, smoke) -> Autoencoder:
    return aeinfer.load(smoke(request.param).model_dir, device="cpu")


@pytest.fixture
def model(auto: Autoencoder) -> Model:
    return auto.model


@pytest.fixture
def dense_dir(smoke) -> Path:
    return smoke("dense").model_dir


@pytest.fixture
def denoiser() -> Autoencoder:
    return aeinfer.load("denoise", device="cpu")


def copy_model(source: Path, tmp_path: Path, name: str = "copy") -> Path:
    target = tmp_path / name
    shutil.copytree(source, target)
    return target


def edit_card(directory: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    path = directory / CARD_FILE
    card = json.loads(path.read_text(encoding="utf-8"))
    edit(card)
    path.write_text(json.dumps(card), encoding="utf-8")


def shape_text(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ")"


def one_line_error(call: Callable[[], object], *fragments: str) -> str:
    """Run ``call``; it must raise one InputError line holding every fragment."""
    with pytest.raises(InputError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message, message
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    return message


# --- the API, per family --------------------------------------------------------------------


def test_encode(model: Model, digits: np.ndarray) -> None:
    codes = model.encode(digits)
    latent_axes = model.info["latent"]["axes"]
    assert model.latent_shape == tuple(axis["size"] for axis in latent_axes)
    assert model.item_shape == ITEM
    assert codes.shape == (N_IMAGES, *model.latent_shape)
    assert codes.dtype == np.float32
    assert np.isfinite(codes).all()
    # Different digits get different codes.
    assert not np.array_equal(codes[0], codes[1])


def test_decode(model: Model, digits: np.ndarray) -> None:
    codes = model.encode(digits)
    images = model.decode(codes)
    assert images.shape == (N_IMAGES, *ITEM)
    assert images.dtype == np.float32
    assert images.min() >= 0.0 and images.max() <= 1.0
    # Latents far from the data still decode into the pixel range.
    wild = np.random.default_rng(0).normal(0, 5, size=(3, *model.latent_shape))
    decoded = model.decode(wild)
    assert decoded.shape == (3, *ITEM) and decoded.min() >= 0.0 and decoded.max() <= 1.0
    # One latent without a batch axis, as an array and as nested lists of floats.
    single = model.decode(codes[0])
    assert single.shape == (1, *ITEM)
    np.testing.assert_allclose(single[0], images[0], atol=1e-5)
    np.testing.assert_allclose(model.decode(codes[0].tolist()), single, atol=1e-6)
    assert model.decode(np.zeros((0, *model.latent_shape))).shape == (0, *ITEM)


def test_reconstruct_accepts_uint8_float_and_single(model: Model, digits: np.ndarray) -> None:
    from_uint8 = model.reconstruct(digits)
    assert from_uint8.shape == (N_IMAGES, *ITEM) and from_uint8.dtype == np.float32
    assert from_uint8.min() >= 0.0 and from_uint8.max() <= 1.0
    as_float = digits.astype(np.float32) / 255.0
    np.testing.assert_array_equal(model.reconstruct(as_float), from_uint8)
    np.testing.assert_allclose(
        model.reconstruct(as_float.astype(np.float64)), from_uint8, atol=1e-6
    )
    # (N, 1, 28, 28) items and (N, 28, 28) grey batches are the same input.
    np.testing.assert_array_equal(model.reconstruct(digits[:, None]), from_uint8)
    for single in (digits[3], digits[3][None], as_float[3]):
        out = model.reconstruct(single)
        assert out.shape == (1, *ITEM)
        np.testing.assert_allclose(out[0], from_uint8[3], atol=1e-5)
    listed = model.reconstruct([digits[0], digits[1]])
    assert listed.shape == (2, *ITEM)
    np.testing.assert_allclose(listed, from_uint8[:2], atol=1e-5)
    assert model.reconstruct(np.zeros((0, 28, 28), dtype=np.uint8)).shape == (0, *ITEM)
    # Booleans are 0/1 pixels.
    binary = digits > 127
    np.testing.assert_array_equal(model.reconstruct(binary), model.reconstruct(binary * 1.0))
    # reconstruct is decode(encode(x)).
    np.testing.assert_array_equal(from_uint8, model.decode(model.encode(digits)))


def test_batches_beyond_max_batch_give_the_same_results(
    model: Model, digits: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = model.reconstruct(digits), model.encode(digits)
    chunks: list[int] = []  # items per ONNX Runtime call of the encoder
    encode_batch = model._encode_batch
    monkeypatch.setattr(model, "_encode_batch", lambda x: chunks.append(len(x)) or encode_batch(x))

    monkeypatch.setattr(aeinfer.model, "MAX_BATCH", 5)  # 16 images: batches of 5, 5, 5, 1
    np.testing.assert_allclose(model.reconstruct(digits), whole[0], atol=1e-5)
    np.testing.assert_allclose(model.encode(digits), whole[1], atol=1e-5)
    assert chunks == [5, 5, 5, 1] * 2
    np.testing.assert_allclose(model.decode(whole[1]), whole[0], atol=1e-5)
    if model.is_variational:
        mean, logvar = model.encode_distribution(digits)
        assert mean.shape == logvar.shape == (N_IMAGES, *model.latent_shape)
        np.testing.assert_allclose(mean, whole[1], atol=1e-5)

    # The bound on values per call holds too: 3 items of 784 values per call.
    monkeypatch.setattr(aeinfer.model, "MAX_BATCH", 1024)
    monkeypatch.setattr(aeinfer.model, "MAX_BATCH_VALUES", 3 * 28 * 28)
    chunks.clear()
    np.testing.assert_allclose(model.reconstruct(digits), whole[0], atol=1e-5)
    assert chunks == [3, 3, 3, 3, 3, 1]


def test_autoencoder_tensor_calls_are_the_models(auto: Autoencoder, digits: np.ndarray) -> None:
    model = auto.model
    np.testing.assert_array_equal(auto.reconstruct(digits), model.reconstruct(digits))
    np.testing.assert_array_equal(auto.encode(digits), model.encode(digits))
    codes = model.encode(digits)
    np.testing.assert_array_equal(auto.decode(codes), model.decode(codes))
    np.testing.assert_array_equal(
        auto.reconstruct([digits[0], digits[1]]), model.reconstruct(digits[:2])
    )
    scores = auto.score(digits)
    assert scores.shape == (N_IMAGES,)
    items = model.check_items(digits)
    expected = ((model.reconstruct(digits) - items) ** 2).reshape(N_IMAGES, -1).mean(axis=1)
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-9)
    line = auto.interpolate(digits[0], digits[1][None], steps=4)
    assert line.shape == (4, *ITEM)
    np.testing.assert_allclose(line[[0, -1]], model.decode(codes[:2]), atol=1e-5)
    # Only a card that lists denoise allows it (of the families, the denoising one).
    assert ("denoise" in auto.tasks) == (auto.family == "denoise")
    if auto.family == "denoise":
        np.testing.assert_array_equal(auto.denoise(digits), model.reconstruct(digits))
    else:
        with pytest.raises(CapabilityError, match="cannot denoise"):
            auto.denoise(digits)


def test_info_providers_and_repr(auto: Autoencoder, smoke) -> None:
    model = auto.model
    info = model.info
    assert isinstance(info, dict)
    assert info["format_version"] == 2
    assert info["family"] == model.family == auto.family
    assert info["family"] in FAMILIES
    assert info["name"] == model.name == model.family  # exported into a folder named so
    assert info == json.loads((model.path / CARD_FILE).read_text(encoding="utf-8"))
    info["family"] = "changed"
    assert model.info["family"] == model.family  # a copy
    assert auto.info == model.info and auto.info is not model.info
    assert auto.card is model.card and model.card.name == model.name
    assert model.providers == auto.providers == [CPU]
    assert model.device_note == auto.device_note == "device cpu: using CPU"
    for text in (repr(model), repr(auto)):
        assert all(part in text for part in (model.name, model.family, "(N, 1, 28, 28)"))
        assert "precision='fp32'" in text and CPU in text
    assert repr(auto).startswith("Autoencoder(Model(")
    assert model.path == auto.path == smoke(model.family).model_dir.resolve()
    assert model.precision == "fp32" and auto.precisions == model.precisions
    assert (auto.item_shape, auto.latent_shape) == (model.item_shape, model.latent_shape)
    assert model.is_variational == auto.is_variational == (info["latent"]["kind"] == "gaussian")
    assert model.describe_items() == "(N, 1, 28, 28)"
    assert auto.pipeline.model is model


def test_variational_api(auto: Autoencoder, digits: np.ndarray) -> None:
    model = auto.model
    if model.is_variational:
        assert "sample" in auto.tasks
        mean, logvar = model.encode_distribution(digits)
        assert mean.shape == logvar.shape == (N_IMAGES, *model.latent_shape)
        np.testing.assert_array_equal(model.encode(digits), mean)
        np.testing.assert_array_equal(auto.encode_distribution(digits)[1], logvar)
        samples = model.sample(5, seed=11)
        assert samples.shape == (5, *ITEM) and samples.dtype == np.float32
        assert samples.min() >= 0.0 and samples.max() <= 1.0
        np.testing.assert_array_equal(samples, model.sample(5, seed=11))
        np.testing.assert_array_equal(samples, auto.sample(5, seed=11))
        assert not np.array_equal(samples, model.sample(5, seed=12))
        latents = model.sample_latents(5, seed=11)
        assert latents.shape == (5, *model.latent_shape) and latents.dtype == np.float32
        np.testing.assert_array_equal(model.decode(latents), samples)
        assert model.sample(0, seed=1).shape == (0, *ITEM)
        with pytest.raises(InputError):
            model.sample(-1)
        with pytest.raises(InputError, match="at least 1"):
            auto.sample(0)
    else:
        assert "sample" not in auto.tasks
        with pytest.raises(CapabilityError, match="no prior"):
            model.sample(4, seed=0)
        with pytest.raises(CapabilityError, match="cannot sample"):
            auto.sample(4, seed=0)
        with pytest.raises(CapabilityError, match="not variational"):
            model.encode_distribution(digits)
        with pytest.raises(CapabilityError, match="not variational"):
            auto.encode_distribution(digits)


BAD_SHAPES = {
    "wrong height": (2, 27, 28),
    "flat": (2, 784),
    "one row": (28,),
    "channels last": (2, 28, 28, 1),
    "three channels": (2, 3, 28, 28),
    "narrow item": (2, 1, 28, 27),
    "extra axis": (1, 2, 1, 28, 28),
    "scalar": (),
}


def test_bad_images_raise_one_line_input_error(auto: Autoencoder, digits: np.ndarray) -> None:
    model = auto.model
    name = repr(model.name)
    calls: dict[str, Callable[[Any], object]] = {
        "Model.encode": model.encode,
        "Model.reconstruct": model.reconstruct,
        "Model.check_items": model.check_items,
        "Autoencoder.encode": auto.encode,
        "Autoencoder.reconstruct": auto.reconstruct,
        "Autoencoder.score": auto.score,
        "Autoencoder.interpolate": lambda bad: auto.interpolate(digits[0], bad, 3),
    }
    if model.is_variational:
        calls["Model.encode_distribution"] = model.encode_distribution
        calls["Autoencoder.encode_distribution"] = auto.encode_distribution
    for what, call in calls.items():
        label = "last" if what.endswith("interpolate") else "input"
        for shape in BAD_SHAPES.values():
            bad = np.zeros(shape, dtype=np.float32)
            one_line_error(
                lambda call=call, bad=bad: call(bad),
                f"{label}: has shape {shape_text(shape)}",
                name,
                "(N, 1, 28, 28)",
            )
        one_line_error(lambda call=call: call([digits[0], digits[1][:27]]), f"{label}: ", "ragged")

    floats = digits.astype(np.float32) / 255.0
    bad_values = {
        "above one": (floats * 2.0, "values span"),
        "negative": (floats - 0.5, "values span"),
        "0..255 as int32": (digits.astype(np.int32), "pass uint8"),
        "nan": (np.where(floats > 0.5, np.nan, floats).astype(np.float32), "NaN"),
        "inf": (np.full((1, 28, 28), np.inf, dtype=np.float32), "infinity"),
        "complex": (floats.astype(np.complex64), "real numbers"),
        "text": (floats.astype(str), "real numbers"),
    }
    for what, (bad, fragment) in bad_values.items():
        for call in (model.encode, model.reconstruct, auto.reconstruct, auto.score):
            message = one_line_error(lambda call=call, bad=bad: call(bad), "input: ", fragment)
            if what in ("above one", "negative"):
                assert name in message and "[0, 1]" in message
    # Interpolation takes one item at each end.
    one_line_error(lambda: auto.interpolate(digits[:2], digits[3], 3), "first: holds 2 items")


def test_bad_latents_raise_one_line_input_error(auto: Autoencoder) -> None:
    model = auto.model
    latent = model.latent_shape
    good = np.zeros((2, *latent), dtype=np.float32)
    shapes = {
        "wider": (2, *latent[:-1], latent[-1] + 1),
        "narrower": (2, *latent[:-1], latent[-1] - 1),
        "extra axis": (2, 1, *latent),
        "flattened": (2, int(np.prod(latent)) * 2),
        "scalar": (),
    }
    for shape in shapes.values():
        for call in (model.decode, model.check_latents, auto.decode):
            one_line_error(
                lambda call=call, shape=shape: call(np.zeros(shape, dtype=np.float32)),
                f"latents: has shape {shape_text(shape)}",
                repr(model.name),
                model.describe_latents(),
            )
    nan = good.copy()
    nan.flat[0] = np.nan
    inf = good.copy()
    inf.flat[-1] = -np.inf
    bad_values = {
        "nan": (nan, "NaN"),
        "inf": (inf, "infinity"),
        "complex": (good.astype(np.complex64), "real numbers"),
        "text": (good.astype(str), "real numbers"),
        "ragged": ([good[0], good[0].ravel()[:-1]], "not a numeric array"),
    }
    for bad, fragment in bad_values.values():
        for call in (model.decode, auto.decode):
            one_line_error(lambda call=call, bad=bad: call(bad), "latents: ", fragment)


# --- devices ----------------------------------------------------------------------------------


def test_cuda_request_is_checked(dense_dir: Path) -> None:
    if CUDA not in ort.get_available_providers():
        with pytest.raises(DeviceUnavailableError, match="CUDA"):
            aeinfer.load(dense_dir, device="cuda")
    else:  # a GPU machine: either CUDA really starts, or the fallback is reported
        try:
            loaded = aeinfer.load(dense_dir, device="cuda")
        except DeviceUnavailableError as exc:
            assert "CUDA" in str(exc)
        else:
            assert loaded.providers[0] == CUDA


class _ListsCuda:
    """Stand-ins for an onnxruntime-gpu install on a CPU machine: CUDA is listed as available;
    ``starts`` says whether sessions report it as obtained (never really used here)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, starts: bool) -> None:
        real_session = ort.InferenceSession

        class Session(real_session):  # type: ignore[misc, valid-type]
            def __init__(self, model: bytes, options: object, providers: list[str]) -> None:
                self.requested = providers
                super().__init__(model, options, providers=[CPU])

            def get_providers(self) -> list[str]:
                return list(self.requested) if starts else [CPU]

        listed = [CUDA, CPU]
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
    assert auto.providers == [CPU]
    assert not auto._bound


def test_cuda_batches_use_io_binding(monkeypatch: pytest.MonkeyPatch, dense_dir: Path) -> None:
    _ListsCuda(monkeypatch, starts=True)
    model = Model(read_card(dense_dir), "cuda")
    assert model.providers[0] == CUDA
    assert model.device_note == "device cuda: using CUDA"
    devices: list[str] = []

    def bound(items: np.ndarray, device: str = BOUND_DEVICE_CUDA) -> np.ndarray:
        devices.append(device)
        return items

    monkeypatch.setattr(model, "_round_trip_bound", bound)
    out = model.reconstruct(np.zeros((3, 28, 28), dtype=np.float32))
    assert out.shape == (3, *ITEM)
    assert devices == [BOUND_DEVICE_CUDA]


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_io_binding_path_matches_the_plain_path(
    smoke, family: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The code CUDA runs, run with host memory as the device: same results, same batching."""
    model = Model(read_card(smoke(family).model_dir), "cpu")
    images = np.random.default_rng(1).random((9, 28, 28), dtype=np.float32)
    plain = model.reconstruct(images)
    calls: list[int] = []
    real = model._round_trip_bound

    def on_host(items: np.ndarray) -> np.ndarray:
        calls.append(len(items))
        return real(items, BOUND_DEVICE_HOST)

    model._bound = True
    monkeypatch.setattr(model, "_round_trip_bound", on_host)
    np.testing.assert_array_equal(model.reconstruct(images), plain)
    monkeypatch.setattr(aeinfer.model, "MAX_BATCH", 4)
    np.testing.assert_array_equal(model.reconstruct(images), plain)
    assert calls == [9, 4, 4, 1]


def test_auto_device_says_what_it_used(dense_dir: Path) -> None:
    loaded = aeinfer.load(dense_dir, device="auto")
    assert loaded.providers[-1] == CPU
    assert loaded.device_note.startswith("device auto: using ")


def test_unknown_device(dense_dir: Path) -> None:
    with pytest.raises(DeviceUnavailableError, match=r"tpu.*valid: auto, cpu, cuda"):
        aeinfer.load(dense_dir, device="tpu")


# --- names and paths ----------------------------------------------------------------------------


def test_unknown_model_name_lists_bundled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # so the name cannot be a directory by accident
    names = bundled_names()
    assert names
    with pytest.raises(ModelNotFoundError) as info:
        aeinfer.load("no-such-model", device="cpu")
    message = str(info.value)
    assert "no-such-model" in message
    assert "pass a model directory as a path" in message
    for name in names:
        assert name in message


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="no such model directory"):
        aeinfer.load(tmp_path / "absent", device="cpu")
    with pytest.raises(ModelNotFoundError, match="card"):
        aeinfer.load(tmp_path, device="cpu")  # a directory, but not a model


def test_what_is_a_path() -> None:
    for name in ("denoise", "my-model", "conv.v2"):
        assert not is_path(name), name
    for path in ("./denoise", "models/mine", "/abs/mine", "~/mine", ".", Path("denoise")):
        assert is_path(path), path


def test_a_folder_in_the_cwd_does_not_hide_a_bundled_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "denoise").mkdir()  # an empty folder named like the bundled model
    assert resolve("denoise") == MODELS_DIR / "denoise"
    loaded = aeinfer.load("denoise", device="cpu")
    assert loaded.name == "denoise" and loaded.path == (MODELS_DIR / "denoise").resolve()
    # Written as a path, the name means the folder (which holds no model).
    assert resolve("./denoise") == (tmp_path / "denoise").resolve()
    for path in ("./denoise", Path("denoise")):
        with pytest.raises(ModelNotFoundError, match="card"):
            aeinfer.load(path, device="cpu")


def test_a_bare_name_that_is_only_a_local_folder_gets_a_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dense_dir: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    copy_model(dense_dir, tmp_path, "mine")
    with pytest.raises(ModelNotFoundError, match=r"unknown model 'mine'.*write \./mine"):
        aeinfer.load("mine", device="cpu")
    loaded = aeinfer.load("./mine", device="cpu")
    assert loaded.path == (tmp_path / "mine").resolve()
    assert loaded.family == "dense"


# --- integrity ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("file_name", "precision"),
    [
        ("encoder.onnx", "fp32"),
        ("decoder.onnx", "fp32"),
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
    with pytest.raises(ModelIntegrityError, match=rf"{file_name}: sha256 does not match"):
        aeinfer.load(copy, device="cpu", precision=precision)
    with pytest.raises(ModelIntegrityError, match=file_name):
        verify_checksums(read_card(copy))


def test_untouched_models_pass_their_checksums(dense_dir: Path) -> None:
    card = read_card(dense_dir)
    verify_checksums(card)  # raises on any mismatch
    assert card.precisions == ("fp32", "fp16", "int8")


def test_truncated_graph(tmp_path: Path, dense_dir: Path) -> None:
    copy = copy_model(dense_dir, tmp_path)
    path = copy / "encoder.onnx"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ModelIntegrityError, match=r"encoder\.onnx"):
        aeinfer.load(copy, device="cpu")


def test_a_graph_onnx_runtime_cannot_parse_is_one_line(tmp_path: Path, dense_dir: Path) -> None:
    # Its checksum matches (restamped), so ONNX Runtime itself meets the garbage: its own
    # exception classes (InvalidProtobuf, ...) derive from Exception alone and must still
    # become one typed error.
    copy = copy_model(dense_dir, tmp_path)
    garbage = b"not a graph at all" * 64
    (copy / "encoder.onnx").write_bytes(garbage)

    def restamp(card: dict[str, Any]) -> None:
        card["graphs"]["fp32"]["encoder"]["sha256"] = hashlib.sha256(garbage).hexdigest()

    edit_card(copy, restamp)
    with pytest.raises(ModelIntegrityError, match=r"encoder\.onnx: ONNX Runtime cannot load"):
        aeinfer.load(copy, device="cpu")


def test_missing_graph(tmp_path: Path, dense_dir: Path) -> None:
    copy = copy_model(dense_dir, tmp_path)
    (copy / "decoder.onnx").unlink()
    with pytest.raises(ModelNotFoundError, match=r"decoder\.onnx"):
        aeinfer.load(copy, device="cpu")


def test_broken_card(tmp_path: Path, dense_dir: Path) -> None:
    copy = copy_model(dense_dir, tmp_path)
    card_path = copy / CARD_FILE
    original = card_path.read_text(encoding="utf-8")
    card_path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelIntegrityError, match=f"{CARD_FILE}: unreadable model card"):
        aeinfer.load(copy, device="cpu")

    card_path.write_text(json.dumps({"name": "x"}), encoding="utf-8")
    with pytest.raises(ModelIntegrityError) as info:
        aeinfer.load(copy, device="cpu")
    message = str(info.value)
    assert "problems in the model card" in message
    for field in ("format_version", "family", "data", "encoder", "latent", "graphs"):
        assert f"card.{field}: missing" in message, field

    def several(card: dict[str, Any]) -> None:
        card["name"] = "Bad Name"
        card["tasks"].append("fly")
        card["latent"]["kind"] = "poisson"
        card["graphs"]["fp32"]["encoder"]["sha256"] = "xyz"
        card["data"]["range"] = [1, 0]

    card_path.write_text(original, encoding="utf-8")
    edit_card(copy, several)
    with pytest.raises(ModelIntegrityError) as info:
        aeinfer.load(copy, device="cpu")
    message = str(info.value)
    assert "\n" not in message
    assert "6 problems in the model card" in message  # a range-less clip is one more
    for where in (
        "card.name: 'Bad Name'",
        "card.tasks: unknown fly",
        "card.latent.kind: 'poisson'",
        "graphs.fp32.encoder.sha256",
        "data.range",
        "data.clip",
    ):
        assert where in message, where

    card_path.write_text(original, encoding="utf-8")
    edit_card(copy, lambda card: card.update(format_version=3))
    with pytest.raises(ModelIntegrityError, match="upgrade aeinfer"):
        aeinfer.load(copy, device="cpu")

    card_path.unlink()
    with pytest.raises(ModelNotFoundError, match="card"):
        aeinfer.load(copy, device="cpu")


def _rename_encoder_input(card: dict[str, Any]) -> None:
    card["encoder"]["inputs"][0]["name"] = "pixels"


def _rename_decoder_output(card: dict[str, Any]) -> None:
    card["decoder"]["outputs"][0]["name"] = "picture"


def _widen_latent(card: dict[str, Any]) -> None:
    """33 latent features everywhere in the card (consistent with itself), 32 in the graphs."""
    for axes in (
        card["latent"]["axes"],
        card["encoder"]["outputs"][0]["axes"][1:],
        card["decoder"]["inputs"][0]["axes"][1:],
    ):
        axes[0]["size"] = 33


def _claim_another_family(card: dict[str, Any]) -> None:
    card["family"] = "conv"


@pytest.mark.parametrize(
    ("edit", "graph", "fragments"),
    [
        (_rename_encoder_input, "encoder.onnx", ("input named 'image'", "'pixels'")),
        (_rename_decoder_output, "decoder.onnx", ("output named 'image'", "'picture'")),
        (_widen_latent, "encoder.onnx", ("axis features is 32, the card says 33",)),
        (_claim_another_family, "encoder.onnx", ("graph says family 'dense'", "'conv'")),
    ],
    ids=["tensor name", "output name", "fixed size", "family"],
)
def test_card_and_graph_must_agree(
    tmp_path: Path,
    dense_dir: Path,
    edit: Callable[[dict[str, Any]], None],
    graph: str,
    fragments: tuple[str, ...],
) -> None:
    """A card that is valid on its own but describes other graphs is caught on loading."""
    copy = copy_model(dense_dir, tmp_path)
    edit_card(copy, edit)
    read_card(copy)  # the card alone is fine
    with pytest.raises(ModelIntegrityError) as info:
        aeinfer.load(copy, device="cpu")
    message = str(info.value)
    assert f"{graph}: the graph disagrees with its card" in message
    for fragment in fragments:
        assert fragment in message, (fragment, message)


# --- precisions and the cache -------------------------------------------------------------------


def test_precision_is_checked(dense_dir: Path) -> None:
    with pytest.raises(InputError, match="unknown precision 'int4'; valid: fp32, fp16, int8"):
        aeinfer.load(dense_dir, device="cpu", precision="int4")


def test_precision_not_shipped_lists_those_shipped(tmp_path: Path, dense_dir: Path) -> None:
    copy = copy_model(dense_dir, tmp_path)
    edit_card(copy, lambda card: card["graphs"].pop("int8"))
    with pytest.raises(CapabilityError, match=r"no int8 variant; it ships in fp32, fp16$"):
        aeinfer.load(copy, device="cpu", precision="int8")


def test_precision_not_made_says_why(smoke) -> None:
    lstm = smoke("lstm").model_dir
    card = read_card(lstm)
    assert "fp16" in card.not_made and card.precisions == ("fp32", "int8")
    with pytest.raises(
        CapabilityError, match=r"no fp16 variant; it ships in fp32, int8 \(fp16 not"
    ):
        aeinfer.load(lstm, device="cpu", precision="fp16")


def test_precisions_are_cached_apart(dense_dir: Path, digits: np.ndarray) -> None:
    fp32 = aeinfer.load(dense_dir, device="cpu")
    int8 = aeinfer.load(dense_dir, device="cpu", precision="int8")
    assert (fp32.precision, int8.precision) == ("fp32", "int8")
    assert int8.model is aeinfer.load(dense_dir, device="cpu", precision="int8").model
    assert int8.model is not fp32.model
    assert fp32.precisions == int8.precisions == ("fp32", "fp16", "int8")
    assert "precision='int8'" in repr(int8) and "precision='fp32'" in repr(fp32)
    out = int8.reconstruct(digits)
    assert out.shape == (N_IMAGES, *ITEM) and out.min() >= 0.0 and out.max() <= 1.0


def test_load_cache(tmp_path: Path, dense_dir: Path) -> None:
    first = aeinfer.load(dense_dir, device="cpu").model
    assert aeinfer.load(dense_dir, device="cpu").model is first
    assert aeinfer.load(str(dense_dir), device="cpu").model is first
    copy = copy_model(dense_dir, tmp_path)
    other = aeinfer.load(copy, device="cpu").model
    assert other is not first
    assert aeinfer.load(copy, device="cpu").model is other
    assert aeinfer.load(copy, device="auto").model is not other  # cached per device


# --- the bundled model and the file-level calls -------------------------------------------------


def test_bundled_denoise(denoiser: Autoencoder, digits: np.ndarray) -> None:
    assert "denoise" in bundled_names()
    card = read_card(MODELS_DIR / "denoise")
    verify_checksums(card)
    assert card.family == "denoise" and "denoise" in card.tasks
    assert denoiser.name == "denoise" and denoiser.family == "denoise"
    assert denoiser.providers == [CPU]
    out = denoiser.reconstruct(digits)
    assert out.shape == (N_IMAGES, *ITEM) and out.min() >= 0.0 and out.max() <= 1.0
    np.testing.assert_array_equal(denoiser.denoise(digits), out)
    listed = {entry["name"]: entry for entry in list_models()}
    assert listed["denoise"]["family"] == "denoise"
    assert listed["denoise"]["latent_shape"] == list(denoiser.latent_shape)
    denoisers = [name for name in bundled_names() if "denoise" in listed[name]["tasks"]]
    assert denoisers == ["denoise", "photo"]


def _noisy_pictures(digits: np.ndarray, size: tuple[int, int]) -> list[tuple[Image.Image, Any]]:
    """(clean, noisy) pairs: MNIST digits as dark ink on light paper, resized, with noise."""
    rng = np.random.default_rng(3)
    pairs = []
    for digit in digits[:4]:
        clean = Image.fromarray(255 - digit).resize(size, Image.Resampling.BILINEAR)
        pixels = np.asarray(clean, dtype=np.float64)
        noisy = np.clip(pixels + rng.normal(0, 60, pixels.shape), 0, 255).astype(np.uint8)
        pairs.append((clean, noisy))
    return pairs


def _rms(a: Any, b: Any) -> float:
    return float(np.sqrt(((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2).mean()))


def test_denoise_a_file_gives_a_picture_of_its_size(
    denoiser: Autoencoder, digits: np.ndarray, tmp_path: Path
) -> None:
    size = (56, 48)
    for i, (clean, noisy) in enumerate(_noisy_pictures(digits, size)):
        path = tmp_path / f"noisy{i}.png"
        Image.fromarray(noisy).save(path)
        out = denoiser.denoise(path)
        assert isinstance(out, Image.Image)
        assert out.size == size and out.mode == "L"
        # The picture is cleaned: much closer to the clean digit than the noisy input was.
        assert _rms(out, clean) < 0.75 * _rms(noisy, clean)
        # A path as text, a Pillow image and the file's bytes give the same picture.
        np.testing.assert_array_equal(np.asarray(denoiser.denoise(str(path))), np.asarray(out))
        from_pil = denoiser.denoise(Image.open(path))
        assert isinstance(from_pil, Image.Image)
        np.testing.assert_array_equal(np.asarray(from_pil), np.asarray(out))
        png = denoiser.denoise(path.read_bytes())
        assert isinstance(png, bytes) and png.startswith(b"\x89PNG\r\n\x1a\n")
        decoded = Image.open(io.BytesIO(png))
        assert decoded.size == size
        np.testing.assert_array_equal(np.asarray(decoded), np.asarray(out))


def test_file_calls_keep_each_inputs_kind(
    denoiser: Autoencoder, digits: np.ndarray, tmp_path: Path
) -> None:
    rgb = Image.fromarray(np.stack([255 - digits[0]] * 3, axis=-1)).resize((30, 36))
    path = tmp_path / "colour.png"
    rgb.save(path)
    outputs = denoiser.reconstruct([path, path.read_bytes(), rgb])
    assert isinstance(outputs, list) and len(outputs) == 3
    picture, png, pil = outputs
    assert isinstance(picture, Image.Image) and isinstance(pil, Image.Image)
    assert picture.size == pil.size == (30, 36) and picture.mode == "RGB"
    assert isinstance(png, bytes) and Image.open(io.BytesIO(png)).size == (30, 36)
    codes = denoiser.encode(path)
    assert codes.shape == (1, *denoiser.latent_shape)
    scores = denoiser.score([path, path])
    assert len(scores) == 2 and scores[0].value == scores[1].value >= 0.0
    assert scores[0].percentile is not None and 0.0 <= scores[0].percentile <= 100.0


def test_denoise_needs_a_card_that_lists_it(tmp_path: Path, digits: np.ndarray) -> None:
    dense = aeinfer.load("dense", device="cpu")
    assert "denoise" not in dense.tasks
    path = tmp_path / "digit.png"
    Image.fromarray(digits[0]).save(path)
    for what in (path, path.read_bytes(), digits):
        with pytest.raises(CapabilityError, match="cannot denoise"):
            dense.denoise(what)
    assert isinstance(dense.reconstruct(path), Image.Image)  # reconstruct needs no task


# --- a format-1 model ---------------------------------------------------------------------------


def test_format1_model_loads_and_serves(tmp_path: Path, digits: np.ndarray) -> None:
    copy = copy_model(V1_FIXTURE, tmp_path, "v1-dense")
    loaded = aeinfer.load(copy, device="cpu")
    card = loaded.card
    assert card.format_version == 2
    assert card.provenance["upgraded_from_format"] == 1
    assert (loaded.name, loaded.family, loaded.precisions) == ("dense", "dense", ("fp32",))
    assert card.preparation.adapter == "mnist_digit"
    assert card.score is not None and card.score.metric == "mse"
    assert "denoise" not in loaded.tasks
    verify_checksums(card)
    # The fixture holds the same weights as the bundled dense model, so it serves the same.
    out = loaded.reconstruct(digits)
    assert out.shape == (N_IMAGES, *ITEM) and out.min() >= 0.0 and out.max() <= 1.0
    bundled = aeinfer.load("dense", device="cpu")
    np.testing.assert_array_equal(out, bundled.reconstruct(digits))
    assert card.data == bundled.card.data and card.latent == bundled.card.latent
    path = tmp_path / "digit.png"
    Image.fromarray(255 - digits[0]).resize((40, 33)).save(path)
    picture = loaded.reconstruct(path)
    assert isinstance(picture, Image.Image) and picture.size == (40, 33)
    # Its checksums are checked like any card's (a fresh Model: loads are cached).
    graph = copy / "decoder.onnx"
    graph.write_bytes(graph.read_bytes()[:-10])
    with pytest.raises(ModelIntegrityError, match=r"decoder\.onnx: sha256 does not match"):
        Model(read_card(copy), "cpu")


# --- threads ------------------------------------------------------------------------------------


def _rss_bytes() -> int:
    """Resident set size of this process now (Linux /proc; the test suite runs on Linux)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


THREADS = 8
CALLS_PER_THREAD = 20
# Allowed RSS growth between a warm-up round and a five times longer round: arenas and caches
# settle in the warm-up, so a leak of even a few KB per call would exceed this.
RSS_GROWTH_LIMIT = 16 * 1024 * 1024


def test_thread_safety_and_flat_memory(denoiser: Autoencoder, digits: np.ndarray) -> None:
    model = denoiser.model
    rng = np.random.default_rng(5)
    inputs: list[np.ndarray] = [digits[i : i + 4] for i in range(0, N_IMAGES, 4)]
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


@pytest.mark.parametrize("name", bundled_names())
def test_graphs_that_take_any_size_run_without_the_memory_pattern(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ONNX Runtime keeps one memory pattern per input shape: a fully convolutional model,
    served in tiles of many shapes, runs without it (a mixed folder with two 12 MP photos
    peaked 150 MiB higher with it); a model of one item size keeps it (ORT's default)."""
    from aeinfer.session import create_session

    seen: list[bool] = []

    def recording(
        data: bytes, device: str, label: str, threads: int | None, free_shapes: bool
    ) -> tuple[Any, Any]:
        seen.append(free_shapes)
        return create_session(data, device, label, threads, free_shapes=free_shapes)

    monkeypatch.setattr(aeinfer.model, "create_session", recording)
    card = read_card(MODELS_DIR / name)
    model = aeinfer.model.Model(card, device="cpu")
    free = bool(card.data.free_axes)
    assert seen == [free, free]
    item = np.zeros((1, *(a.size or 2 * 16 for a in card.data.axes)), np.float32)
    model.reconstruct(item)  # runs with the options it was given

    session, _ = create_session(
        (MODELS_DIR / name / card.graph_file("encoder", "fp32").file).read_bytes(),
        "cpu",
        name,
        free_shapes=free,
    )
    assert session.get_session_options().enable_mem_pattern is not free
