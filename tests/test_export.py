"""Export: two self-describing ONNX graphs per model, matching torch, behind a parity gate."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx.external_data_helper import uses_external_data
from torch import nn

import aeinfer
from aeinfer.errors import ExportError
from aeinfer.export import onnx_export
from aeinfer.export.onnx_export import OPSET, ExportSpec, Tolerance, export_pair
from aeinfer.export.optimize import SUBPIXEL_REWRITE
from aeinfer.metadata import (
    CARD_FILE,
    DECODER_FILE,
    ENCODER_FILE,
    FP16,
    FP32,
    IMAGE_NAME,
    INT8,
    LATENT_GAUSSIAN,
    LATENT_NAME,
    LOGVAR_NAME,
    MEAN_NAME,
    METADATA_PREFIX,
    ROLES,
    graph_file,
    metadata_props_to_card,
    read_card,
    sha256_file,
)
from aeinfer.train.registry import FAMILIES, get_family
from aeinfer.train.trainer import load_checkpoint, rebuild

FAMILY_NAMES = list(FAMILIES)
PARITY_BATCHES = (1, 33)
CARD_ONLY_KEYS = ("files", "variants", "variants_not_made")


@pytest.fixture(params=FAMILY_NAMES)
def exported(request: pytest.FixtureRequest, smoke):
    return smoke(request.param)


def card_of(model_dir: Path) -> dict[str, Any]:
    return json.loads((model_dir / CARD_FILE).read_text(encoding="utf-8"))


def dims(value_info: onnx.ValueInfoProto) -> list[int | str]:
    """A tensor's shape: ints for fixed dims, the dim_param name for symbolic ones."""
    out: list[int | str] = []
    for dim in value_info.type.tensor_type.shape.dim:
        out.append(dim.dim_param if dim.HasField("dim_param") else dim.dim_value)
    return out


def session(path: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def assert_within(ort_out: np.ndarray, torch_out: torch.Tensor, tol: dict[str, float]) -> None:
    expected = torch_out.detach().numpy()
    assert ort_out.shape == expected.shape
    bound = tol["atol"] + tol["rtol"] * np.abs(expected)
    diff = np.abs(ort_out - expected)
    assert (diff <= bound).all(), f"max |diff| {diff.max():.3g}"


# --- per family -----------------------------------------------------------------------------


def test_model_dir_holds_the_card_and_a_graph_pair_per_precision(exported) -> None:
    names = sorted(p.name for p in exported.model_dir.iterdir())
    precisions = read_card(exported.model_dir).precisions
    assert precisions[0] == FP32
    expected = [CARD_FILE] + [graph_file(r, p) for p in precisions for r in ROLES]
    assert names == sorted(expected)
    # No staging or backup directories left beside it.
    assert not [p.name for p in exported.model_dir.parent.iterdir() if p.name.startswith(".")]


def test_graph_signatures(exported) -> None:
    family = get_family(exported.family)
    card = card_of(exported.model_dir)
    layout_shape = card["input"]["shape"]
    latent_shape = card["latent"]["shape"]
    enc = onnx.load(str(exported.model_dir / ENCODER_FILE))
    dec = onnx.load(str(exported.model_dir / DECODER_FILE))

    expected_outputs = (
        [MEAN_NAME, LOGVAR_NAME] if family.LATENT_KIND == LATENT_GAUSSIAN else [LATENT_NAME]
    )
    assert [i.name for i in enc.graph.input] == [IMAGE_NAME]
    assert [o.name for o in enc.graph.output] == expected_outputs
    assert [i.name for i in dec.graph.input] == [LATENT_NAME]
    assert [o.name for o in dec.graph.output] == [IMAGE_NAME]

    enc_in = dims(enc.graph.input[0])
    dec_out = dims(dec.graph.output[0])
    assert isinstance(enc_in[0], str) and enc_in[0], "encoder input batch dim is not symbolic"
    assert isinstance(dec_out[0], str) and dec_out[0], "decoder output batch dim is not symbolic"
    assert enc_in[1:] == layout_shape == dec_out[1:]
    dec_in = dims(dec.graph.input[0])
    assert isinstance(dec_in[0], str) and dec_in[1:] == latent_shape
    for output in enc.graph.output:
        shape = dims(output)
        assert isinstance(shape[0], str) and shape[1:] == latent_shape
    for model in (enc, dec):
        onnx.checker.check_model(model)
        assert {o.domain: o.version for o in model.opset_import}[""] == OPSET
        assert not any(uses_external_data(t) for t in model.graph.initializer)
        assert model.producer_name == "aeinfer"


def test_metadata_agrees_with_card(exported) -> None:
    card = card_of(exported.model_dir)
    assert card["family"] == exported.family
    assert card["name"] == exported.family
    assert card["input"]["layout"] == get_family(exported.family).LAYOUT
    assert card["latent"]["kind"] == get_family(exported.family).LATENT_KIND
    ckpt = load_checkpoint(exported.checkpoint)
    # JSON has no tuples: compare through a JSON round trip.
    assert card["training"]["model_config"] == json.loads(json.dumps(ckpt["model_config"]))
    assert card["training"]["steps"] == ckpt["step"]
    assert set(card["metrics"]) >= set(ckpt["metrics"])
    # The fp32 graphs are written (and parity-checked) before the variants are made from them;
    # the variants' entries live in the card only, and each variant graph names its precision.
    without_files = {k: v for k, v in card.items() if k not in CARD_ONLY_KEYS}
    for file_name, role in ((ENCODER_FILE, "encoder"), (DECODER_FILE, "decoder")):
        model = onnx.load(str(exported.model_dir / file_name))
        props = {p.key: p.value for p in model.metadata_props}
        assert json.loads(props[f"{METADATA_PREFIX}family"]) == exported.family
        assert json.loads(props[f"{METADATA_PREFIX}role"]) == role
        assert f"{METADATA_PREFIX}files" not in props
        assert metadata_props_to_card(props) == without_files
        # ORT sees the same metadata the runtime reads.
        custom = session(exported.model_dir / file_name).get_modelmeta().custom_metadata_map
        assert json.loads(custom[f"{METADATA_PREFIX}name"]) == card["name"]


def test_card_checksums_match_files(exported) -> None:
    card = card_of(exported.model_dir)
    graphs = [p.name for p in exported.model_dir.iterdir() if p.suffix == ".onnx"]
    assert sorted(card["files"]) == sorted(graphs)
    for file_name in graphs:
        path = exported.model_dir / file_name
        assert card["files"][file_name]["sha256"] == sha256_file(path)
        assert card["files"][file_name]["bytes"] == path.stat().st_size
    read_card(exported.model_dir).verify_checksums()


def test_variants_are_made_measured_and_served(exported) -> None:
    """fp16 and int8 graphs exist (or the card says why not), carry the metadata, are costed
    and timed in the card, load at their precision and reconstruct close to fp32."""
    card = card_of(exported.model_dir)
    made = set(card.get("variants", {}))
    not_made = set(card.get("variants_not_made", {}))
    assert made | not_made == {FP16, INT8} and not made & not_made
    assert INT8 in made  # every family quantizes
    if get_family(exported.family).LAYOUT == "sequence":
        assert FP16 in not_made and "LSTM" in card["variants_not_made"][FP16]
    primary = card["metrics"]["primary"]
    images = np.random.default_rng(0).random((16, 28, 28), dtype=np.float32)
    reference = aeinfer.load(exported.model_dir, device="cpu").reconstruct(images)
    for precision in made:
        variant = card["variants"][precision]
        assert variant["cost"]["metric"] == primary
        assert variant["cost"]["delta"] == pytest.approx(
            variant["metrics"][primary] - variant["fp32_metrics_same_run"][primary], abs=1e-5
        )
        assert variant["speed"]["images_per_s"] > 0 and variant["speed"]["machine"]
        for role in ROLES:
            graph = onnx.load(str(exported.model_dir / graph_file(role, precision)))
            props = {p.key: p.value for p in graph.metadata_props}
            assert json.loads(props[f"{METADATA_PREFIX}precision"]) == precision
            assert json.loads(props[f"{METADATA_PREFIX}role"]) == role
            assert json.loads(props[f"{METADATA_PREFIX}family"]) == exported.family
            onnx.checker.check_model(graph)
        model = aeinfer.load(exported.model_dir, device="cpu", precision=precision)
        assert model.precision == precision
        out = model.reconstruct(images)
        assert out.shape == reference.shape and out.dtype == np.float32
        # Smoke-trained weights: the variants must track fp32, not be good.
        assert np.abs(out - reference).mean() < 0.02, precision


def test_upsampling_convolutions_are_folded(exported) -> None:
    """No nearest-upsampling Resize is left for ONNX Runtime to run; the card counts the folds."""
    folds = card_of(exported.model_dir)["export"]["graph_rewrites"][SUBPIXEL_REWRITE]
    ops = [n.op_type for n in onnx.load(str(exported.model_dir / DECODER_FILE)).graph.node]
    assert "Resize" not in ops
    assert ops.count("DepthToSpace") == folds


def test_ort_matches_rebuilt_torch(exported) -> None:
    card = card_of(exported.model_dir)
    tol = card["export"]["tolerance"]
    assert tol == {"atol": Tolerance().atol, "rtol": Tolerance().rtol}
    _, _, encoder, decoder = rebuild(load_checkpoint(exported.checkpoint))
    enc_sess = session(exported.model_dir / ENCODER_FILE)
    dec_sess = session(exported.model_dir / DECODER_FILE)
    gen = torch.Generator().manual_seed(42)
    for n in PARITY_BATCHES:
        x = torch.rand((n, *card["input"]["shape"]), generator=gen)
        with torch.no_grad():
            torch_codes = encoder(x)
            torch_codes = torch_codes if isinstance(torch_codes, tuple) else (torch_codes,)
            ort_codes = enc_sess.run(None, {IMAGE_NAME: x.numpy()})
            assert len(ort_codes) == len(torch_codes)
            for o, t in zip(ort_codes, torch_codes, strict=True):
                assert_within(o, t, tol)
            code = torch_codes[0]
            assert_within(dec_sess.run(None, {LATENT_NAME: code.numpy()})[0], decoder(code), tol)
            z = torch.randn(code.shape, generator=gen)
            assert_within(dec_sess.run(None, {LATENT_NAME: z.numpy()})[0], decoder(z), tol)


def test_parity_report_recorded(exported) -> None:
    report = card_of(exported.model_dir)["export"]["parity_max_abs_diff"]
    assert {"decoder", "decoder(encoder(x))", "decoder.perturbed"} <= set(report)
    assert any(key.startswith("encoder.") for key in report)
    assert all(0.0 <= value <= Tolerance().atol + Tolerance().rtol for value in report.values())


# --- the parity gate and user models --------------------------------------------------------


class TinyEncoder(nn.Module):
    def __init__(self, latent: int = 8) -> None:
        super().__init__()
        self.linear = nn.Linear(784, latent)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.linear(x))


class TinyDecoder(nn.Module):
    def __init__(self, latent: int = 8) -> None:
        super().__init__()
        self.linear = nn.Linear(latent, 784)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.linear(z))


class TinyGaussianEncoder(nn.Module):
    def __init__(self, latent: int = 2) -> None:
        super().__init__()
        self.mean = nn.Linear(784, latent)
        self.logvar = nn.Linear(784, latent)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.mean(x), self.logvar(x)


def tiny_pair(latent: int = 8) -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(0)
    return TinyEncoder(latent), TinyDecoder(latent)


def spec(name: str = "mine", **kwargs: Any) -> ExportSpec:
    return ExportSpec(name=name, family="custom", layout="flat", **kwargs)


def example() -> torch.Tensor:
    return torch.rand((2, 784), generator=torch.Generator().manual_seed(1))


def snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


@pytest.fixture
def broken_export(monkeypatch: pytest.MonkeyPatch):
    """Make export_pair serialise a *different* module than the one it checks parity against."""
    real_to_proto = onnx_export._to_proto

    def install(role: str) -> None:
        def to_proto(module: nn.Module, ex: torch.Tensor, inputs: list[str], outputs: list[str]):
            is_encoder = inputs == [IMAGE_NAME]
            if is_encoder == (role == "encoder"):
                module = copy.deepcopy(module)
                with torch.no_grad():
                    for param in module.parameters():
                        param.add_(0.5)
            return real_to_proto(module, ex, inputs, outputs)

        monkeypatch.setattr(onnx_export, "_to_proto", to_proto)

    return install


@pytest.fixture(scope="module")
def user_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, nn.Module, nn.Module]:
    """A user's own tiny linear autoencoder (not from the registry), exported once."""
    encoder, decoder = tiny_pair(latent=12)
    out_dir = tmp_path_factory.mktemp("user") / "my-model"
    export_pair(encoder, decoder, example(), out_dir, spec(description="a tiny linear AE"))
    return out_dir, encoder, decoder


def copy_of(model_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "models" / model_dir.name
    shutil.copytree(model_dir, target)
    return target


@pytest.mark.parametrize("role", ["encoder", "decoder"])
def test_parity_gate_refuses_and_writes_nothing(tmp_path: Path, broken_export, role: str) -> None:
    broken_export(role)
    (tmp_path / "models").mkdir()
    out_dir = tmp_path / "models" / "broken"
    encoder, decoder = tiny_pair()
    with pytest.raises(ExportError, match="parity"):
        export_pair(encoder, decoder, example(), out_dir, spec())
    assert not out_dir.exists()
    # No staging directory left behind either.
    assert list(out_dir.parent.iterdir()) == []


def test_parity_gate_leaves_existing_model_unchanged(
    tmp_path: Path, user_model, broken_export
) -> None:
    out_dir = copy_of(user_model[0], tmp_path)
    before = snapshot(out_dir)
    broken_export("encoder")
    with pytest.raises(ExportError, match="parity"):
        export_pair(*tiny_pair(), example(), out_dir, spec(description="second"))
    assert snapshot(out_dir) == before
    assert sorted(p.name for p in out_dir.parent.iterdir()) == [out_dir.name]


def test_user_pair_exports_and_serves(user_model) -> None:
    out_dir, encoder, decoder = user_model
    card = card_of(out_dir)
    assert card["family"] == "custom" and card["name"] == "mine"
    assert card["latent"] == {"kind": "deterministic", "shape": [12]}
    assert card["input"]["layout"] == "flat" and card["input"]["shape"] == [784]

    model = aeinfer.load(out_dir, device="cpu")
    assert model.family == "custom" and model.latent_shape == (12,)
    images = np.random.default_rng(3).integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    flat = torch.from_numpy(images.reshape(5, -1).astype(np.float32) / 255.0)
    with torch.no_grad():
        want_codes = encoder(flat).numpy()
        want_images = decoder(encoder(flat)).numpy().reshape(5, 28, 28)
    codes = model.encode(images)
    assert codes.shape == (5, 12) and codes.dtype == np.float32
    np.testing.assert_allclose(codes, want_codes, atol=1e-4, rtol=1e-3)
    recon = model.reconstruct(images)
    assert recon.shape == (5, 28, 28)
    np.testing.assert_allclose(recon, want_images, atol=1e-4, rtol=1e-3)


def test_user_gaussian_pair_samples(tmp_path: Path) -> None:
    torch.manual_seed(0)
    encoder, decoder = TinyGaussianEncoder(2), TinyDecoder(2)
    out_dir = tmp_path / "my-vae"
    export_pair(encoder, decoder, example(), out_dir, spec(latent_kind=LATENT_GAUSSIAN))
    model = aeinfer.load(out_dir, device="cpu")
    assert model.is_variational
    mean, logvar = model.encode_distribution(np.zeros((3, 28, 28), dtype=np.uint8))
    assert mean.shape == logvar.shape == (3, 2)
    assert model.sample(4, seed=0).shape == (4, 28, 28)


def test_export_replaces_an_existing_model(tmp_path: Path, user_model) -> None:
    out_dir = copy_of(user_model[0], tmp_path)
    card = export_pair(*tiny_pair(latent=6), example(), out_dir, spec())
    assert card["latent"]["shape"] == [6]
    assert card_of(out_dir)["latent"]["shape"] == [6]
    assert sorted(p.name for p in out_dir.parent.iterdir()) == [out_dir.name]
    assert sorted(p.name for p in out_dir.iterdir()) == [CARD_FILE, DECODER_FILE, ENCODER_FILE]
    read_card(out_dir).verify_checksums()


def test_gaussian_spec_needs_two_outputs(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="mean, logvar"):
        export_pair(*tiny_pair(), example(), tmp_path / "x", spec(latent_kind=LATENT_GAUSSIAN))
    assert not (tmp_path / "x").exists()


def test_unknown_layout_refused(tmp_path: Path) -> None:
    bad = ExportSpec(name="x", family="custom", layout="nhwc")
    with pytest.raises(ExportError, match="layout"):
        export_pair(*tiny_pair(), example(), tmp_path / "x", bad)
    assert not (tmp_path / "x").exists()
