"""Export: two self-describing ONNX graphs and a card per model, of any shape, matching torch
behind a parity gate; refusals that write nothing; export without ONNX Runtime."""

from __future__ import annotations

import copy
import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx.external_data_helper import uses_external_data
from PIL import Image
from torch import nn

import aeinfer
from aeinfer.adapters import adapter_for
from aeinfer.adapters.tiles import Tiles, TilesParams
from aeinfer.card import (
    CARD_FILE,
    DENOISE,
    DETERMINISTIC,
    FP16,
    FP32,
    GAUSSIAN,
    IMAGE,
    INT8,
    METADATA_PREFIX,
    NORMAL_PRIOR,
    ROLES,
    SAMPLE,
    SIGNAL,
    Card,
    card_from_metadata,
    read_card,
    sha256_file,
    verify_checksums,
)
from aeinfer.errors import ExportError, InputError
from aeinfer.export import onnx_export, runner
from aeinfer.export.checkpoint import NO_RUNTIME, export_checkpoint
from aeinfer.export.fixtures import build
from aeinfer.export.onnx_export import (
    DEFAULT_TASKS,
    FIXTURES_FILE,
    OPSET,
    ScoreData,
    Tolerance,
    export_pair,
)
from aeinfer.export.optimize import SUBPIXEL_REWRITE
from aeinfer.export.variants import graph_file
from aeinfer.train.registry import FAMILIES, get_family
from aeinfer.train.trainer import load_checkpoint, rebuild

# The fixed-size families, smoke-trained on MNIST: the MNIST-shaped checks below. A free-size
# family (the photo denoiser) is checked as such in tests/test_photo_family.py.
FAMILY_NAMES = [name for name, f in FAMILIES.items() if not getattr(f, "FREE_AXES", ())]
PARITY_BATCHES = (1, 33)
MNIST_ITEM = (1, 28, 28)
FREE = ("height", "width")
TRUE_RADIUS = 4
"""The receptive radius of FcnEncoder → FcnDecoder, worked out by hand: an output pixel at an
even position reads the latent one step back, which reads input pixels 2 + 1 + 1 further."""

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# --- user models of several shapes -----------------------------------------------------------


class FlatEncoder(nn.Module):
    def __init__(self, features: int = 784, latent: int = 12) -> None:
        super().__init__()
        self.linear = nn.Linear(features, latent)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.linear(x))


class FlatDecoder(nn.Module):
    def __init__(self, features: int = 784, latent: int = 12, squash: bool = True) -> None:
        super().__init__()
        self.linear = nn.Linear(latent, features)
        self.squash = squash

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        out = self.linear(z)
        return torch.sigmoid(out) if self.squash else out


class GaussianEncoder(nn.Module):
    def __init__(self, latent: int = 2) -> None:
        super().__init__()
        self.mean = nn.Linear(784, latent)
        self.logvar = nn.Linear(784, latent)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.mean(x), self.logvar(x)


class ConvEncoder(nn.Module):
    """(N, C, H, W) → (N, 2, H/4, W/4)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, 4, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(4, 2, 3, stride=2, padding=1),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class ConvDecoder(nn.Module):
    """(N, 2, h, w) → (N, C, 4h, 4w) in [0, 1], by nearest ×2 upsampling and 3×3 convolutions
    (the pairs export folds into sub-pixel convolutions)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Upsample(scale_factor=2), nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(),
            nn.Upsample(scale_factor=2), nn.Conv2d(4, channels, 3, padding=1),
        )  # fmt: skip

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.body(z))


class FcnEncoder(nn.Module):
    """Fully convolutional: a 3×3 conv, then a stride-2 3×3 conv (total stride 2)."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(1, 4, 3, padding=1)
        self.b = nn.Conv2d(4, 2, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(torch.relu(self.a(x)))


class FcnDecoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.up = nn.Upsample(scale_factor=2)
        self.conv = nn.Conv2d(2, 1, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.conv(self.up(z)))


class GlobalEncoder(nn.Module):
    """Convolutional, then pooled to a vector: its code cannot follow a free input size."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(nn.functional.adaptive_avg_pool2d(self.conv(x), 1), 1)


class VectorDecoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 16 * 16)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.linear(z)).reshape(-1, 1, 16, 16)


class TwoCodes(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.inner = FlatEncoder()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        code = self.inner(x)
        return code, code


class SignalEncoder(nn.Module):
    """(N, 2, 128) → (N, 3, 32): two stride-2 1-D convolutions."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv1d(2, 6, 5, stride=2, padding=2), nn.ReLU(),
            nn.Conv1d(6, 3, 5, stride=2, padding=2),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class SignalDecoder(nn.Module):
    """(N, 3, 32) → (N, 2, 128), unbounded (no squashing: signals are not in [0, 1])."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ConvTranspose1d(3, 6, 4, stride=2, padding=1), nn.ReLU(),
            nn.ConvTranspose1d(6, 2, 4, stride=2, padding=1),
        )  # fmt: skip

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return 4.0 * self.body(z)


def flat_pair(latent: int = 12, squash: bool = True) -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(0)
    return FlatEncoder(latent=latent), FlatDecoder(latent=latent, squash=squash)


def uniform(*shape: int, seed: int = 1, low: float = 0.0, high: float = 1.0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return low + (high - low) * torch.rand(shape, generator=gen)


def flat_example() -> torch.Tensor:
    return uniform(2, 784)


def signal_values(*shape: int, seed: int = 2) -> np.ndarray:
    """Values well outside [0, 1]: a signal's own units."""
    return (3.0 * np.random.default_rng(seed).standard_normal(shape) - 1.0).astype(np.float32)


def torch_round_trip(encoder: nn.Module, decoder: nn.Module, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        code = encoder(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)))
        code = code[0] if isinstance(code, tuple) else code
        return decoder(code).numpy()


# --- model directories, and what every one must hold ----------------------------------------


def snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def dims(value_info: onnx.ValueInfoProto) -> list[int | str]:
    """A tensor's shape: ints for fixed dims, the dim_param name for symbolic ones."""
    return [
        dim.dim_param if dim.HasField("dim_param") else dim.dim_value
        for dim in value_info.type.tensor_type.shape.dim
    ]


def session(path: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def expected_files(card: Card) -> list[str]:
    graphs = [graph_file(role, precision) for precision in card.precisions for role in ROLES]
    return sorted([CARD_FILE, FIXTURES_FILE, *graphs])


def assert_files_match_card(model_dir: Path) -> Card:
    """The directory holds exactly the card, the fixtures and the card's graphs, each graph's
    sha256 and size as the card says, and nothing is left beside it."""
    card = read_card(model_dir)
    assert sorted(p.name for p in model_dir.iterdir()) == expected_files(card)
    for precision in card.precisions:
        for role in ROLES:
            entry = card.graph_file(role, precision)
            path = model_dir / entry.file
            assert entry.sha256 == sha256_file(path)
            assert entry.bytes == path.stat().st_size
    verify_checksums(card)
    assert not [p.name for p in model_dir.parent.iterdir() if p.name.startswith(".")]
    return card


def assert_metadata_agrees(card: Card) -> None:
    """Every graph of every precision carries the card (all but its graph files: a file cannot
    hold its own hash), its role and (variants) its precision; ONNX Runtime reads the same."""
    said_by_card = {k: v for k, v in card.to_json().items() if k != "graphs"}
    for precision in card.precisions:
        for role in ROLES:
            path = card.graph_path(role, precision)
            props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
            extra = {"role": role, **({"precision": precision} if precision != FP32 else {})}
            assert card_from_metadata(props) == {**said_by_card, **extra}, (precision, role)
            custom = session(path).get_modelmeta().custom_metadata_map
            assert json.loads(custom[f"{METADATA_PREFIX}name"]) == card.name


def assert_fixtures_match(card: Card) -> None:
    assert card.directory is not None
    written = json.loads((card.directory / FIXTURES_FILE).read_text(encoding="utf-8"))
    assert written == json.loads(json.dumps(build(card)))
    assert written["model"] == card.name and written["adapter"] == card.preparation.adapter
    assert written["cases"]


# --- smoke-trained families -----------------------------------------------------------------


@pytest.fixture(params=FAMILY_NAMES)
def exported(request: pytest.FixtureRequest, smoke):
    return smoke(request.param)


def test_family_model_dir_is_complete(exported) -> None:
    card = assert_files_match_card(exported.model_dir)
    assert card.precisions[0] == FP32
    assert_metadata_agrees(card)
    assert_fixtures_match(card)


def test_graph_signatures(exported) -> None:
    family = get_family(exported.family)
    card = read_card(exported.model_dir)
    outputs = ["mean", "logvar"] if family.LATENT_KIND == GAUSSIAN else ["latent"]
    enc = onnx.load(str(card.graph_path("encoder")))
    dec = onnx.load(str(card.graph_path("decoder")))
    assert [i.name for i in enc.graph.input] == ["image"]
    assert [o.name for o in enc.graph.output] == outputs
    assert [i.name for i in dec.graph.input] == ["latent"]
    assert [o.name for o in dec.graph.output] == ["image"]
    pairs = [
        (enc.graph.input[0], card.encoder.inputs[0]),
        *zip(enc.graph.output, card.encoder.outputs, strict=True),
        (dec.graph.input[0], card.decoder.inputs[0]),
        (dec.graph.output[0], card.decoder.outputs[0]),
    ]
    for value_info, tensor in pairs:
        shape = dims(value_info)
        assert isinstance(shape[0], str) and shape[0], f"{value_info.name}: batch not symbolic"
        assert shape[1:] == [axis.size for axis in tensor.axes[1:]]
    assert card.latent.shape == tuple(dims(dec.graph.input[0])[1:])
    for model in (enc, dec):
        onnx.checker.check_model(model)
        assert {o.domain: o.version for o in model.opset_import}[""] == OPSET
        assert not any(uses_external_data(t) for t in model.graph.initializer)
        assert model.producer_name == "aeinfer"


def test_card_describes_the_family_and_its_training(exported) -> None:
    family = get_family(exported.family)
    card = read_card(exported.model_dir)
    ckpt = load_checkpoint(exported.checkpoint)
    assert card.name == card.family == exported.family
    assert card.data.modality == IMAGE and card.data.shape == MNIST_ITEM
    assert card.data.range == (0.0, 1.0) and card.data.clip
    assert card.preparation.adapter == "mnist_digit"
    assert card.latent.kind == family.LATENT_KIND
    assert (card.latent.prior == NORMAL_PRIOR) == (family.LATENT_KIND == GAUSSIAN)
    assert (SAMPLE in card.tasks) == (family.LATENT_KIND == GAUSSIAN)
    assert (DENOISE in card.tasks) == (DENOISE in family.TASKS)
    assert set(DEFAULT_TASKS) <= set(card.tasks)
    description = (family.__doc__ or "").strip().splitlines()[0]
    assert card.description and card.description in description
    training = card.provenance["training"]
    # JSON has no tuples: compare through a JSON round trip.
    assert training["model_config"] == json.loads(json.dumps(ckpt["model_config"]))
    assert training["steps"] == ckpt["step"] and training["seed"] == 0
    assert training["data"] == ckpt["dataset"]["description"]
    assert training["held_out"] == ckpt["dataset"]["held_out_description"]
    assert set(card.metrics) >= set(ckpt["metrics"]) | {"primary", "split"}
    assert card.score is not None and card.score.count == 1000
    assert card.provenance["export"]["parity_checked_with"].startswith("ONNX Runtime")


def test_variants_are_made_measured_and_served(exported) -> None:
    """fp16 and int8 graphs exist (or the card says why not), are costed and timed in the
    card, load at their precision and reconstruct close to fp32."""
    card = read_card(exported.model_dir)
    made = set(card.precisions) - {FP32}
    not_made = set(card.not_made)
    assert made | not_made == {FP16, INT8} and not made & not_made
    assert INT8 in made  # every family quantizes
    if any(n.op_type == "LSTM" for n in onnx.load(str(card.graph_path("encoder"))).graph.node):
        assert FP16 in not_made and "LSTM" in card.not_made[FP16]
    primary = card.metrics["primary"]
    images = np.random.default_rng(0).random((16, *MNIST_ITEM), dtype=np.float32)
    reference = aeinfer.load(exported.model_dir, device="cpu").reconstruct(images)
    for precision in made:
        entry = card.graphs[precision]
        assert entry.method and entry.measured
        measured = entry.measured
        assert measured["cost"]["metric"] == primary
        assert measured["cost"]["delta"] == pytest.approx(
            measured["metrics"][primary] - measured["fp32_metrics_same_run"][primary], abs=1e-5
        )
        assert measured["speed"]["items_per_s"] > 0 and measured["speed"]["machine"]
        model = aeinfer.load(exported.model_dir, device="cpu", precision=precision)
        assert model.precision == precision
        out = model.reconstruct(images)
        assert out.shape == reference.shape and out.dtype == np.float32
        # Smoke-trained weights: the variants must track fp32, not be good.
        assert np.abs(out - reference).mean() < 0.02, precision


def test_upsampling_convolutions_are_folded(exported) -> None:
    """No nearest-upsampling Resize is left for ONNX Runtime to run; the card counts the folds."""
    card = read_card(exported.model_dir)
    folds = card.provenance["export"]["graph_rewrites"][SUBPIXEL_REWRITE]
    ops = [n.op_type for n in onnx.load(str(card.graph_path("decoder"))).graph.node]
    assert "Resize" not in ops
    assert ops.count("DepthToSpace") == folds


def test_ort_matches_rebuilt_torch(exported) -> None:
    card = read_card(exported.model_dir)
    tol = card.provenance["export"]["tolerance"]
    assert tol == {"atol": Tolerance().atol, "rtol": Tolerance().rtol}
    _, _, encoder, decoder = rebuild(load_checkpoint(exported.checkpoint))
    enc_sess = session(card.graph_path("encoder"))
    dec_sess = session(card.graph_path("decoder"))
    graph_item = card.encoder.inputs[0].shape[1:]
    gen = torch.Generator().manual_seed(42)
    for n in PARITY_BATCHES:
        x = torch.rand((n, *graph_item), generator=gen)
        with torch.no_grad():
            torch_codes = encoder(x)
            torch_codes = torch_codes if isinstance(torch_codes, tuple) else (torch_codes,)
            ort_codes = enc_sess.run(None, {"image": x.numpy()})
            assert len(ort_codes) == len(torch_codes)
            for got, want in zip(ort_codes, torch_codes, strict=True):
                np.testing.assert_allclose(got, want.numpy(), **tol)
            code = torch_codes[0]
            got = dec_sess.run(None, {"latent": code.numpy()})[0]
            np.testing.assert_allclose(got, decoder(code).numpy(), **tol)
            z = torch.randn(code.shape, generator=gen)
            got = dec_sess.run(None, {"latent": z.numpy()})[0]
            np.testing.assert_allclose(got, decoder(z).numpy(), **tol)


def test_parity_report_recorded(exported) -> None:
    report = read_card(exported.model_dir).provenance["export"]["parity_max_abs_diff"]
    assert {"decoder", "decoder(encoder(x))", "decoder.perturbed"} <= set(report)
    assert any(key.startswith("encoder.") for key in report)
    assert all(0.0 <= value <= Tolerance().atol + Tolerance().rtol for value in report.values())


# --- export_pair on models of other shapes ---------------------------------------------------


def _export_rgb(out: Path) -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(0)
    encoder, decoder = ConvEncoder(3), ConvDecoder(3)
    score = ScoreData(uniform(20, 3, 32, 32, seed=3).numpy(), "random RGB")
    export_pair(encoder, decoder, uniform(2, 3, 32, 32), out, score_data=score)
    return encoder, decoder


def _export_grey64(out: Path) -> tuple[nn.Module, nn.Module]:
    conv = get_family("conv")
    torch.manual_seed(0)
    encoder, decoder = conv.build(conv.Config(filters=(4, 4, 2), item=(1, 64, 64)))
    export_pair(encoder, decoder, uniform(2, 1, 64, 64), out, family="conv")
    return encoder, decoder


def _export_flat(out: Path) -> tuple[nn.Module, nn.Module]:
    encoder, decoder = flat_pair()
    export_pair(encoder, decoder, flat_example(), out, item_shape=MNIST_ITEM, description="flat")
    return encoder, decoder


def _export_fcn(out: Path) -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(0)
    encoder, decoder = FcnEncoder(), FcnDecoder()
    export_pair(encoder, decoder, uniform(2, 1, 32, 32), out, free_axes=FREE, multiple_of=2)
    return encoder, decoder


def _export_signal(out: Path) -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(0)
    encoder, decoder = SignalEncoder(), SignalDecoder()
    example = torch.from_numpy(signal_values(2, 2, 128, seed=4))
    score = ScoreData(signal_values(16, 2, 128, seed=5), "random signals")
    export_pair(encoder, decoder, example, out, value_range=None, score_data=score)
    return encoder, decoder


EXPORTS: dict[str, Callable[[Path], tuple[nn.Module, nn.Module]]] = {
    "rgb-conv": _export_rgb,
    "grey64": _export_grey64,
    "flat": _export_flat,
    "fcn": _export_fcn,
    "signal": _export_signal,
}


@pytest.fixture(scope="module")
def exports(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, tuple[Path, nn.Module, nn.Module]]:
    """Each user model exported once, in one call, into a folder of its name."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("exports")
    out: dict[str, tuple[Path, nn.Module, nn.Module]] = {}
    try:
        for name, export in EXPORTS.items():
            (root / name).mkdir()
            encoder, decoder = export(root / name / name)
            out[name] = (root / name / name, encoder, decoder)
    finally:
        torch.set_num_threads(threads)
    return out


@pytest.mark.parametrize("name", list(EXPORTS))
def test_user_model_dir_is_complete(exports, name: str) -> None:
    model_dir = exports[name][0]
    card = assert_files_match_card(model_dir)
    assert card.name == name and card.precisions == (FP32,)
    assert_metadata_agrees(card)
    assert_fixtures_match(card)
    export = card.provenance["export"]
    assert export["parity_checked_with"].startswith("ONNX Runtime")
    assert set(export["parity_max_abs_diff"]) >= {"decoder", "decoder.perturbed"}


def test_rgb_conv_pair_exports_in_one_call(exports, tmp_path: Path) -> None:
    model_dir, encoder, decoder = exports["rgb-conv"]
    card = read_card(model_dir)
    assert card.family == "custom" and card.latent.kind == DETERMINISTIC
    assert card.data.modality == IMAGE and card.data.shape == (3, 32, 32)
    assert card.data.channels == ("R", "G", "B")
    assert card.data.range == (0.0, 1.0) and card.data.clip and card.data.normalization is None
    graph_input = card.encoder.inputs[0]
    assert graph_input.name == "image" and graph_input.shape == (None, 3, 32, 32)
    assert card.latent.shape == (2, 8, 8) and card.latent.prior is None
    assert card.tasks == DEFAULT_TASKS
    assert card.preparation.adapter == "image" and card.preparation.params["fit"] == "stretch"
    assert card.provenance["export"]["graph_rewrites"][SUBPIXEL_REWRITE] == 2
    assert card.score is not None and card.score.count == 20 and card.score.split == "random RGB"

    model = aeinfer.load(model_dir, device="cpu")
    x = uniform(4, 3, 32, 32, seed=9).numpy()
    np.testing.assert_allclose(
        model.reconstruct(x), torch_round_trip(encoder, decoder, x), 1e-3, 1e-4
    )
    # The card's score distribution is the runtime's score, measured at export.
    scores = model.score(uniform(20, 3, 32, 32, seed=3).numpy())
    assert card.score.mean == pytest.approx(float(np.mean(scores)), rel=1e-4)
    # A picture of another size comes back at its own size and mode.
    picture = tmp_path / "wide.png"
    pixels = np.random.default_rng(0).integers(0, 256, (30, 45, 3), dtype=np.uint8)
    Image.fromarray(pixels, "RGB").save(picture)
    out = model.reconstruct(str(picture))
    assert out.size == (45, 30) and out.mode == "RGB"


def test_grey_64_model_exports(exports, tmp_path: Path) -> None:
    model_dir, encoder, decoder = exports["grey64"]
    card = read_card(model_dir)
    assert card.family == "conv" and card.name == "grey64"
    assert card.data.shape == (1, 64, 64) and card.data.channels == ("L",)
    assert card.latent.shape == (2, 8, 8)
    model = aeinfer.load(model_dir, device="cpu")
    x = uniform(3, 1, 64, 64, seed=8).numpy()
    np.testing.assert_allclose(
        model.reconstruct(x), torch_round_trip(encoder, decoder, x), 1e-3, 1e-4
    )
    picture = tmp_path / "tall.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (70, 50), dtype=np.uint8)).save(
        picture
    )
    out = model.reconstruct(str(picture))
    assert out.size == (50, 70) and out.mode == "L"


def test_flat_pair_with_item_shape(exports) -> None:
    model_dir, encoder, decoder = exports["flat"]
    card = read_card(model_dir)
    assert card.description == "flat"
    assert card.data.shape == MNIST_ITEM and card.data.modality == IMAGE
    assert [(a.name, a.size) for a in card.encoder.inputs[0].axes] == [
        ("batch", None),
        ("features", 784),
    ]
    assert card.decoder.outputs[0].axes == card.encoder.inputs[0].axes
    assert card.latent.shape == (12,)
    model = aeinfer.load(model_dir, device="cpu")
    assert model.item_shape == MNIST_ITEM and model.latent_shape == (12,)
    images = np.random.default_rng(3).integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    flat = images.reshape(5, -1).astype(np.float32) / 255.0
    with torch.no_grad():
        want_codes = encoder(torch.from_numpy(flat)).numpy()
    codes = model.encode(images)
    assert codes.shape == (5, 12) and codes.dtype == np.float32
    np.testing.assert_allclose(codes, want_codes, atol=1e-4, rtol=1e-3)
    recon = model.reconstruct(images)
    want = torch_round_trip(encoder, decoder, flat)
    np.testing.assert_allclose(recon.reshape(5, -1), want, atol=1e-4, rtol=1e-3)


def true_radius(encoder: nn.Module, decoder: nn.Module, side: int = 24) -> int:
    """How far an output pixel reaches, by perturbing each input pixel in turn (not by the
    gradients the exporter measures with)."""
    gen = torch.Generator().manual_seed(0)
    base = torch.rand(1, 1, side, side, generator=gen)
    batch = base.repeat(side * side, 1, 1, 1)
    positions = [(i, j) for i in range(side) for j in range(side)]
    for k, (i, j) in enumerate(positions):
        batch[k, 0, i, j] += 5.0
    with torch.no_grad():
        moved = (decoder(encoder(batch)) - decoder(encoder(base))).abs()[:, 0] > 1e-4
    reach = 0
    for k, (i, j) in enumerate(positions):
        ys, xs = torch.nonzero(moved[k], as_tuple=True)
        if len(ys):
            reach = max(reach, int((ys - i).abs().max()), int((xs - j).abs().max()))
    return reach


def test_fully_convolutional_pair_takes_free_sizes(exports) -> None:
    model_dir, encoder, decoder = exports["fcn"]
    card = read_card(model_dir)
    assert card.data.free_axes == FREE
    assert [(a.name, a.size, a.multiple_of) for a in card.data.axes] == [
        ("channels", 1, 1),
        ("height", None, 2),
        ("width", None, 2),
    ]
    assert [(a.name, a.size, a.stride) for a in card.latent.axes] == [
        ("channels", 2, None),
        ("height", None, 2),
        ("width", None, 2),
    ]
    assert SAMPLE not in card.tasks
    # The tiles margin covers the true receptive radius, on the stride grid.
    assert true_radius(encoder, decoder) == TRUE_RADIUS
    margin = card.preparation.params["margin"]
    assert card.preparation.adapter == "tiles"
    assert margin >= TRUE_RADIUS and margin % 2 == 0
    assert card.provenance["export"]["receptive_radius"] == margin
    # The graphs really are dynamic along the free axes: parity at other sizes.
    enc_sess, dec_sess = session(card.graph_path("encoder")), session(card.graph_path("decoder"))
    for shape in ((1, 1, 48, 40), (3, 1, 16, 24), (2, 1, 34, 66)):
        x = uniform(*shape, seed=sum(shape))
        with torch.no_grad():
            code = encoder(x)
            np.testing.assert_allclose(
                enc_sess.run(None, {"image": x.numpy()})[0], code.numpy(), 1e-3, 1e-4
            )
            got = dec_sess.run(None, {"latent": code.numpy()})[0]
            np.testing.assert_allclose(got, decoder(code).numpy(), 1e-3, 1e-4)
            assert got.shape == shape
    model = aeinfer.load(model_dir, device="cpu")
    with pytest.raises(InputError, match="multiple of 2"):
        model.reconstruct(np.zeros((1, 1, 33, 32), np.float32))


def test_tiles_are_seamless_with_the_measured_margin(exports) -> None:
    """In windows whose margin is the card's, the result equals the whole-image pass; a margin
    below the radius would not (so the comparison can tell)."""
    model_dir, encoder, decoder = exports["fcn"]
    model = aeinfer.load(model_dir, device="cpu").model
    card = model.card
    x = uniform(1, 1, 40, 56, seed=7).numpy()
    whole = model.reconstruct(x)
    np.testing.assert_allclose(whole, torch_round_trip(encoder, decoder, x), 1e-3, 1e-4)
    margin = card.preparation.params["margin"]
    tiled = Tiles(card, TilesParams(margin=margin, tile=8)).run(model.reconstruct, x)
    np.testing.assert_allclose(tiled, whole, atol=1e-5)
    assert adapter_for(card).params.margin == margin
    short = Tiles(card, TilesParams(margin=2, tile=8)).run(model.reconstruct, x)
    assert np.abs(short - whole).max() > 1e-3


def test_signal_pair_with_unbounded_values(exports, tmp_path: Path) -> None:
    model_dir, encoder, decoder = exports["signal"]
    card = read_card(model_dir)
    assert card.data.modality == SIGNAL and card.data.shape == (2, 128)
    assert card.data.channels == ("c0", "c1")
    assert card.data.range is None and not card.data.clip
    assert card.encoder.inputs[0].name == "signal" and card.decoder.outputs[0].name == "signal"
    assert card.latent.shape == (3, 32)
    assert card.preparation.adapter == "signal"
    assert card.score is not None and card.score.count == 16

    values = signal_values(2, 128, seed=6)
    assert values.min() < 0.0 and values.max() > 1.0
    want = torch_round_trip(encoder, decoder, values[None])[0]
    assert want.min() < 0.0 and want.max() > 1.0  # reconstructions outside [0, 1] too
    path = tmp_path / "one.npy"
    np.save(path, values)
    model = aeinfer.load(model_dir, device="cpu")
    out = model.reconstruct(str(path))
    assert out.shape == (2, 128)
    np.testing.assert_allclose(out, want, atol=1e-4, rtol=1e-3)


def test_flat_signal_pair_with_normalization(tmp_path: Path) -> None:
    """A dense model of a signal, trained on normalised values: the graphs take (N, 256) in
    normalised units, the card and the runtime speak the data's units."""
    torch.manual_seed(0)
    encoder, decoder = FlatEncoder(256, 6), FlatDecoder(256, 6, squash=False)
    mean, std = [3.0, -1.0], [2.0, 0.5]
    items = signal_values(12, 2, 128, seed=7)
    shaped = (1, 2, 1)
    graph_units = (items - np.reshape(mean, shaped)) / np.reshape(std, shaped)
    card = export_pair(
        encoder,
        decoder,
        torch.from_numpy(graph_units[:2].reshape(2, -1).astype(np.float32)),
        tmp_path / "norm",
        item_shape=(2, 128),
        value_range=None,
        normalization={"mean": mean, "std": std},
        real_inputs=torch.from_numpy(graph_units.reshape(12, -1).astype(np.float32)),
        score_data=ScoreData(items, "random signals"),
    )
    assert card.data.normalization is not None and card.data.normalization.mean == (3.0, -1.0)
    assert [a.name for a in card.encoder.inputs[0].axes] == ["batch", "features"]
    model = aeinfer.load(tmp_path / "norm", device="cpu")
    want = torch_round_trip(encoder, decoder, graph_units.reshape(12, -1).astype(np.float32))
    want = want.reshape(items.shape) * np.reshape(std, shaped) + np.reshape(mean, shaped)
    np.testing.assert_allclose(model.reconstruct(items), want, atol=1e-4, rtol=1e-3)
    assert card.score is not None
    assert card.score.mean == pytest.approx(float(np.mean(model.score(items))), rel=1e-4)


def test_gaussian_pair_samples(tmp_path: Path) -> None:
    torch.manual_seed(0)
    encoder, decoder = GaussianEncoder(2), FlatDecoder(latent=2)
    card = export_pair(
        encoder,
        decoder,
        flat_example(),
        tmp_path / "my-vae",
        item_shape=MNIST_ITEM,
        latent_kind=GAUSSIAN,
    )
    assert card.latent.kind == GAUSSIAN and card.latent.prior == NORMAL_PRIOR
    assert SAMPLE in card.tasks
    assert [t.name for t in card.encoder.outputs] == ["mean", "logvar"]
    model = aeinfer.load(tmp_path / "my-vae", device="cpu")
    assert model.is_variational
    images = np.random.default_rng(4).random((3, 28, 28), dtype=np.float32)
    mean, logvar = model.encode_distribution(images)
    assert mean.shape == logvar.shape == (3, 2)
    with torch.no_grad():
        want_mean, want_logvar = encoder(torch.from_numpy(images.reshape(3, -1)))
    np.testing.assert_allclose(mean, want_mean.numpy(), atol=1e-4, rtol=1e-3)
    np.testing.assert_allclose(logvar, want_logvar.numpy(), atol=1e-4, rtol=1e-3)
    samples = model.sample(4, seed=0)
    assert samples.shape[0] == 4 and samples.size == 4 * 784
    np.testing.assert_array_equal(samples, model.sample(4, seed=0))


def test_export_replaces_an_existing_model(tmp_path: Path, exports) -> None:
    target = tmp_path / "models" / "flat"
    shutil.copytree(exports["flat"][0], target)
    card = export_pair(*flat_pair(latent=6), flat_example(), target, item_shape=MNIST_ITEM)
    assert card.latent.shape == (6,) and read_card(target).latent.shape == (6,)
    assert sorted(p.name for p in target.parent.iterdir()) == ["flat"]
    assert_files_match_card(target)


# --- refusals: one clear error, nothing written ----------------------------------------------


@pytest.fixture
def broken_export(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """Make export_pair serialise a *different* module than the one it checks parity against."""
    real_to_proto = onnx_export.to_proto

    def install(role: str) -> None:
        def to_proto(module, example, inputs, outputs, dynamic):  # type: ignore[no-untyped-def]
            if (inputs == ["latent"]) == (role == "decoder"):
                module = copy.deepcopy(module)
                with torch.no_grad():
                    for param in module.parameters():
                        param.add_(0.5)
            return real_to_proto(module, example, inputs, outputs, dynamic)

        monkeypatch.setattr(onnx_export, "to_proto", to_proto)

    return install


def _refusal(case: str) -> tuple[nn.Module, nn.Module, torch.Tensor, dict[str, Any]]:
    """(encoder, decoder, example, keywords) of an export that must be refused."""
    encoder, decoder = flat_pair()
    example = flat_example()
    kwargs: dict[str, Any] = {"item_shape": MNIST_ITEM}
    if case == "decoder-leaves-range":
        encoder, decoder = flat_pair(squash=False)
    elif case == "example-outside-range":
        example = 2.0 * example
    elif case == "unsafe-name":
        kwargs["name"] = "My Model"
    elif case == "gaussian-with-one-output":
        kwargs["latent_kind"] = GAUSSIAN
    elif case == "two-outputs-deterministic":
        encoder = TwoCodes()
    elif case == "item-shape-cannot-hold":
        kwargs["item_shape"] = (1, 28, 27)
    elif case == "free-axis-vector-latent":
        encoder, decoder, example = GlobalEncoder(), VectorDecoder(), uniform(2, 1, 16, 16)
        kwargs = {"free_axes": FREE}
    elif case == "unknown-adapter":
        kwargs["preparation"] = {"adapter": "nope"}
    return encoder, decoder, example, kwargs


REFUSALS = {
    "decoder-leaves-range": "declare a wider value_range",
    "example-outside-range": "the example's values span .* outside the declared value_range",
    "unsafe-name": "'My Model' is not a safe model name",
    "gaussian-with-one-output": r"a gaussian latent needs 2 \(mean, logvar\)",
    "two-outputs-deterministic": "a deterministic latent needs 1",
    "item-shape-cannot-hold": r"does not hold items of shape \(1, 28, 27\)",
    "free-axis-vector-latent": "needs a feature-map latent",
    "unknown-adapter": "unknown preparation adapter 'nope'",
    "parity-encoder": "parity: encoder.latent differs from torch",
    "parity-decoder": "parity: decoder differs from torch",
}


@pytest.mark.parametrize("where", ["new", "existing"])
@pytest.mark.parametrize("case", list(REFUSALS))
def test_refused_export_writes_nothing(
    tmp_path: Path, exports, broken_export, case: str, where: str
) -> None:
    models = tmp_path / "models"
    models.mkdir()
    target = models / "target"
    if where == "existing":
        shutil.copytree(exports["flat"][0], target)
    before = snapshot(target) if target.exists() else None
    if case.startswith("parity-"):
        broken_export(case.removeprefix("parity-"))
    encoder, decoder, example, kwargs = _refusal(case)
    with pytest.raises(ExportError, match=REFUSALS[case]) as info:
        export_pair(encoder, decoder, example, target, **kwargs)
    assert "\n" not in str(info.value)
    if before is None:
        assert not target.exists()
        assert list(models.iterdir()) == []
    else:
        assert snapshot(target) == before
        assert [p.name for p in models.iterdir()] == ["target"]


def test_unsafe_folder_name_is_refused(tmp_path: Path) -> None:
    for folder in ("My Model", ".hidden", "x" * 65):
        with pytest.raises(ExportError, match="not a safe model name") as info:
            export_pair(*flat_pair(), flat_example(), tmp_path / folder, item_shape=MNIST_ITEM)
        assert "rename the folder or pass name=" in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_flat_example_is_a_signal_unless_told(tmp_path: Path) -> None:
    """(N, D) alone is one channel of D values; item_shape says it is an image."""
    card = export_pair(*flat_pair(), flat_example(), tmp_path / "plain", value_range=None)
    assert card.data.modality == SIGNAL and card.data.shape == (1, 784)
    assert card.preparation.adapter == "signal"


# --- without ONNX Runtime --------------------------------------------------------------------


def test_export_pair_without_onnx_runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """aeinfer[train] alone exports: the reference evaluator checks the graphs, and says so."""
    encoder, decoder = flat_pair()
    score = ScoreData(uniform(8, 1, 28, 28, seed=5).numpy(), "random")
    with monkeypatch.context() as patch:
        patch.setattr(runner, "ort_available", lambda: False)
        card = export_pair(
            encoder, decoder, flat_example(), tmp_path / "noort", item_shape=MNIST_ITEM,
            score_data=score,
        )  # fmt: skip
    engine = card.provenance["export"]["parity_checked_with"]
    assert "reference evaluator" in engine and "ONNX Runtime" not in engine
    assert card.score is not None and "reference evaluator" in card.score.computed_with
    assert_files_match_card(tmp_path / "noort")
    assert_metadata_agrees(card)
    assert_fixtures_match(card)
    # The graphs it wrote serve, and match torch.
    x = uniform(3, 1, 28, 28, seed=6).numpy()
    got = aeinfer.load(tmp_path / "noort", device="cpu").reconstruct(x)
    want = torch_round_trip(encoder, decoder, x.reshape(3, -1)).reshape(x.shape)
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-3)


def test_export_checkpoint_without_onnx_runtime(
    tmp_path: Path, smoke, mnist_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no onnxruntime importable, the checkpoint exports in fp32 and the card says why the
    variants were not made."""
    checkpoint = smoke("dense").checkpoint
    out_dir = tmp_path / "dense"
    with monkeypatch.context() as patch:
        patch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` fails
        assert not runner.ort_available()
        card = export_checkpoint(checkpoint, out_dir, data_dir=mnist_dir, score_limit=64)
    assert card.precisions == (FP32,)
    assert dict(card.not_made) == {FP16: NO_RUNTIME, INT8: NO_RUNTIME}
    assert "reference evaluator" in card.provenance["export"]["parity_checked_with"]
    assert card.score is not None and card.score.count == 64
    assert_files_match_card(out_dir)
    assert_metadata_agrees(read_card(out_dir))
    assert_fixtures_match(read_card(out_dir))
    model = aeinfer.load(out_dir, device="cpu")
    with pytest.raises(aeinfer.CapabilityError, match="not made"):
        aeinfer.load(out_dir, device="cpu", precision=INT8)
    x = np.random.default_rng(0).random((2, *MNIST_ITEM), dtype=np.float32)
    reference = aeinfer.load(smoke("dense").model_dir, device="cpu").reconstruct(x)
    np.testing.assert_allclose(model.reconstruct(x), reference, atol=1e-6)
