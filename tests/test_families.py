"""Every registered family, on every shape it takes: frozen config, shapes in its layout, the
head's range, a loss that trains, no randomness in the modules that get exported, and a
one-line refusal of data it cannot take."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from aeinfer.card import DETERMINISTIC, GAUSSIAN, IMAGE, LATENT_KINDS, MODALITIES, SIGNAL, TASKS
from aeinfer.errors import DataError, UnknownFamilyError
from aeinfer.train.config import TrainConfig
from aeinfer.train.data import IMAGES, MNIST, PHOTO_PATCH, PHOTOS, SIGNALS, DataSpec, load_split
from aeinfer.train.families.base import (
    FLAT,
    LAYOUTS,
    LINEAR,
    MNIST_ITEM,
    ROWS,
    SIGMOID,
    LinearDecoder,
    SigmoidDecoder,
    StepContext,
    primary_metric,
)
from aeinfer.train.registry import FAMILIES, get_family
from aeinfer.train.trainer import config_of, images_to_tensor, to_layout, train

FAMILY_NAMES = list(FAMILIES)
MNIST_SHAPE = MNIST_ITEM
RGB_SHAPE = (3, 32, 32)
GREY_SHAPE = (1, 20, 36)
SIGNAL_SHAPE = (2, 128)
IMAGE_SHAPES = (MNIST_SHAPE, RGB_SHAPE, GREY_SHAPE)
GREY_ONLY = frozenset({"lstm"})
"""Families that read an image row by row and so take grey images only."""
ITEMS = 64
TRAIN_STEPS = 20
LOSS_DRAWS = 4  # loss averaged over this many seeded draws (noise, VAE sampling)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def takes(name: str) -> list[tuple[int, ...]]:
    """The item shapes family ``name`` trains on."""
    family = get_family(name)
    shapes: list[tuple[int, ...]] = []
    if IMAGE in family.MODALITIES:
        shapes += [s for s in IMAGE_SHAPES if s[0] == 1 or name not in GREY_ONLY]
    if SIGNAL in family.MODALITIES:
        shapes.append(SIGNAL_SHAPE)
    return shapes


CASES = [(name, shape) for name in FAMILY_NAMES for shape in takes(name)]
CASE_IDS = [f"{name}-{'x'.join(map(str, shape))}" for name, shape in CASES]


@dataclasses.dataclass(frozen=True)
class Case:
    family: ModuleType
    cfg: object
    items: torch.Tensor
    """(ITEMS, *item) in training units: [0, 1] images, roughly standardised signals."""

    @property
    def head(self) -> str:
        return self.cfg.head  # type: ignore[attr-defined]

    def batch(self, n: int) -> torch.Tensor:
        return to_layout(self.items[:n], self.family.LAYOUT)


def synthetic_items(shape: tuple[int, ...], n: int, seed: int = 0) -> torch.Tensor:
    """Structured items a few steps can learn: a bright rectangle of a random colour on dark
    paper (images); a per-channel template (a ramp, a cosine) at a random amplitude plus a
    random sinusoid, standardised per channel as signal folders are (signals)."""
    rng = np.random.default_rng(seed)
    if len(shape) == 3:
        channels, height, width = shape
        out = np.full((n, *shape), 0.05, dtype=np.float32)
        for item in out:
            h, w = rng.integers(height // 4, height // 2 + 1), rng.integers(width // 4, width // 2)
            top, left = rng.integers(0, height - h), rng.integers(0, width - w)
            item[:, top : top + h, left : left + w] = rng.uniform(0.6, 1.0, (channels, 1, 1))
        return torch.from_numpy(out)
    channels, length = shape
    t = np.linspace(-1.0, 1.0, length)
    template = np.stack([t if c % 2 == 0 else np.cos(np.pi * t) for c in range(channels)])
    amplitude = rng.uniform(0.5, 1.5, (n, 1, 1))
    freq = rng.uniform(2.0, 6.0, (n, channels, 1))
    phase = rng.uniform(0.0, 2 * np.pi, (n, channels, 1))
    values = amplitude * template + 0.3 * np.sin(np.pi * freq * (t + 1) + phase)
    if n > 1:
        values = (values - values.mean(axis=(0, 2), keepdims=True)) / values.std(
            axis=(0, 2), keepdims=True
        )
    return torch.from_numpy(values.astype(np.float32))


@pytest.fixture(scope="module")
def mnist_items(mnist_dir: Path) -> torch.Tensor:
    """The first 64 MNIST test digits, float (N, 1, 28, 28) in [0, 1]."""
    return images_to_tensor(load_split("test", mnist_dir).images[:ITEMS])


@pytest.fixture(params=CASES, ids=CASE_IDS)
def case(request: pytest.FixtureRequest, mnist_items: torch.Tensor) -> Case:
    name, shape = request.param
    family = get_family(name)
    head = SIGMOID if len(shape) == 3 else LINEAR
    items = mnist_items if shape == MNIST_SHAPE else synthetic_items(shape, ITEMS)
    assert tuple(items.shape[1:]) == shape
    return Case(family, family.Config(item=shape, head=head), items)


@pytest.fixture(params=FAMILY_NAMES)
def family(request: pytest.FixtureRequest) -> ModuleType:
    return get_family(request.param)


def layout_shape(layout: str, item: tuple[int, ...]) -> tuple[int, ...]:
    """The per-item shape a family's modules take."""
    if layout == FLAT:
        return (int(np.prod(item)),)
    if layout == ROWS and len(item) == 3:
        return item[1:]
    return item


def codes_of(family: ModuleType, encoded: object) -> tuple[torch.Tensor, ...]:
    if family.LATENT_KIND == GAUSSIAN:
        assert isinstance(encoded, tuple) and len(encoded) == 2
        return encoded
    assert isinstance(encoded, torch.Tensor)
    return (encoded,)


def context(seed: int = 0) -> StepContext:
    return StepContext(epoch=0, total_epochs=1, generator=torch.Generator().manual_seed(seed))


def built(case: Case) -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(0)
    return case.family.build(case.cfg)


# --- the registry and the module contract --------------------------------------------------


def test_registry_names_match_modules() -> None:
    assert FAMILY_NAMES, "no family registered"
    for name, module in FAMILIES.items():
        assert module.__name__ == f"aeinfer.train.families.{name}"
        assert get_family(name) is module


def test_unknown_family_lists_valid_names() -> None:
    with pytest.raises(UnknownFamilyError) as info:
        get_family("nope")
    message = str(info.value)
    assert "'nope'" in message and "\n" not in message
    for name in FAMILY_NAMES:
        assert name in message


def test_every_family_takes_mnist_and_more() -> None:
    """The registry covers both modalities, and every family takes MNIST and another shape."""
    for name in FAMILY_NAMES:
        assert MNIST_SHAPE in takes(name) and len(takes(name)) >= 2, name
    assert any(SIGNAL_SHAPE in takes(name) for name in FAMILY_NAMES)
    assert any(RGB_SHAPE in takes(name) for name in FAMILY_NAMES)


def test_module_contract(family: ModuleType) -> None:
    assert family.LAYOUT in LAYOUTS
    assert family.LATENT_KIND in LATENT_KINDS
    assert family.MODALITIES and set(family.MODALITIES) <= set(MODALITIES)
    assert set(family.TASKS) <= set(TASKS)
    assert isinstance(family.TRAINING, TrainConfig)
    assert isinstance(family.PRIMARY_METRIC, str)
    assert callable(family.build) and callable(family.loss) and callable(family.metrics)
    assert (family.__doc__ or "").strip(), "the first docstring line becomes the card description"
    cfg = family.Config()
    # Defaults are those of the family's own data: MNIST's one grey 28×28 digit through a
    # sigmoid head, or (the photo denoiser) an RGB training patch with a bounded head.
    own = getattr(family, "DEFAULT_DATA", MNIST)
    item = MNIST_ITEM if own == MNIST else (3, PHOTO_PATCH, PHOTO_PATCH)
    assert own in (MNIST, PHOTOS) and cfg.item == item and cfg.head == SIGMOID


def test_config_is_frozen_dataclass(family: ModuleType) -> None:
    cfg = family.Config()
    assert dataclasses.is_dataclass(cfg)
    config_fields = dataclasses.fields(cfg)
    assert {"item", "head"} <= {f.name for f in config_fields}
    for field in config_fields:
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(cfg, field.name, getattr(cfg, field.name))
    # Configs round-trip through the plain dict a checkpoint stores, and through JSON (a card).
    assert family.Config(**dataclasses.asdict(cfg)) == cfg
    other = dataclasses.replace(cfg, item=SIGNAL_SHAPE, head=LINEAR)
    assert config_of(family, json.loads(json.dumps(dataclasses.asdict(other)))) == other
    with pytest.raises(dataclasses.FrozenInstanceError):
        family.TRAINING.lr = 1.0


# --- every family on every shape it takes --------------------------------------------------


def test_build_shapes_and_range(case: Case) -> None:
    family, item = case.family, tuple(case.cfg.item)  # type: ignore[attr-defined]
    encoder, decoder = built(case)
    assert isinstance(encoder, nn.Module) and isinstance(decoder, nn.Module)
    encoder.eval()
    decoder.eval()
    for n in (1, 5):
        x = case.batch(n)
        assert tuple(x.shape) == (n, *layout_shape(family.LAYOUT, item))
        with torch.no_grad():
            codes = codes_of(family, encoder(x))
            for code in codes:
                assert code.shape[0] == n and code.ndim >= 2
                assert code.dtype == torch.float32
                assert torch.isfinite(code).all()
            if family.LATENT_KIND == GAUSSIAN:
                assert codes[0].shape == codes[1].shape
            y = decoder(codes[0])
            # Far-off codes: the head bounds (or does not bound) every possible output.
            far = decoder(50.0 * torch.randn(codes[0].shape, generator=torch.Generator()))
        assert y.shape == x.shape and y.dtype == torch.float32
        if case.head == SIGMOID:
            # Bounded: a sigmoid over logits, or a clamp (photo: the input minus the noise).
            assert isinstance(decoder, SigmoidDecoder) or hasattr(decoder, "unclamped")
            assert float(y.min()) >= 0.0 and float(y.max()) <= 1.0
            assert float(far.min()) >= 0.0 and float(far.max()) <= 1.0
        else:
            assert isinstance(decoder, LinearDecoder)
            assert float(far.min()) < 0.0 or float(far.max()) > 1.0, "linear head is bounded"
            with torch.no_grad():
                assert torch.equal(decoder(codes[0]), decoder.logits(codes[0]))


def test_loss_is_finite_and_backpropagates(case: Case) -> None:
    encoder, decoder = built(case)
    encoder.train()
    decoder.train()
    out = case.family.loss(encoder, decoder, case.batch(32), case.cfg, context())
    assert out.loss.ndim == 0
    assert torch.isfinite(out.loss)
    assert out.logs and all(isinstance(v, float) for v in out.logs.values())
    out.loss.backward()
    for module_name, module in (("encoder", encoder), ("decoder", decoder)):
        for name, param in module.named_parameters():
            assert param.grad is not None, f"{module_name}.{name} got no gradient"
            assert torch.isfinite(param.grad).all(), f"{module_name}.{name}: non-finite grad"
            assert param.grad.abs().sum() > 0, f"{module_name}.{name}: gradient is all zeros"


def _mean_loss(case: Case, encoder: nn.Module, decoder: nn.Module, x: torch.Tensor) -> float:
    """The loss on a fixed batch, averaged over fixed seeded draws (noise, sampling)."""
    with torch.no_grad():
        total = sum(
            float(case.family.loss(encoder, decoder, x, case.cfg, context(1000 + i)).loss)
            for i in range(LOSS_DRAWS)
        )
    return total / LOSS_DRAWS


def test_a_few_steps_reduce_the_loss(case: Case) -> None:
    encoder, decoder = built(case)
    x = case.batch(ITEMS)
    params = [*encoder.parameters(), *decoder.parameters()]
    optimizer = torch.optim.Adam(params, lr=case.family.TRAINING.lr)
    encoder.train()
    decoder.train()
    before = _mean_loss(case, encoder, decoder, x)
    ctx = context(7)
    for _ in range(TRAIN_STEPS):
        out = case.family.loss(encoder, decoder, x, case.cfg, ctx)
        optimizer.zero_grad(set_to_none=True)
        out.loss.backward()
        optimizer.step()
    after = _mean_loss(case, encoder, decoder, x)
    assert after < 0.9 * before, f"{TRAIN_STEPS} steps: loss {before:.4g} → {after:.4g}"


def test_exported_modules_are_deterministic(case: Case) -> None:
    """Noise and sampling live in the loss only: eval-mode modules ignore the global RNG."""
    encoder, decoder = built(case)
    encoder.eval()
    decoder.eval()
    x = case.batch(16)
    runs = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        with torch.no_grad():
            codes = codes_of(case.family, encoder(x))
            runs.append((codes, decoder(codes[0])))
    (codes_a, y_a), (codes_b, y_b) = runs
    for a, b in zip(codes_a, codes_b, strict=True):
        assert torch.equal(a, b)
    assert torch.equal(y_a, y_b)


def test_metrics_are_finite(case: Case) -> None:
    encoder, decoder = built(case)
    encoder.eval()
    decoder.eval()
    with torch.no_grad():
        values = case.family.metrics(
            encoder, decoder, case.batch(ITEMS), case.cfg, context().generator
        )
    assert primary_metric(case.family.PRIMARY_METRIC, case.head) in values
    bounded = (
        ("mse", "psnr_db") if hasattr(case.family, "DEFAULT_DATA") else ("bce", "mse", "psnr_db")
    )
    expected = bounded if case.head == SIGMOID else ("mse",)
    assert set(expected) <= set(values)
    if case.head == LINEAR:
        # Unbounded data has no BCE or PSNR (they assume values in [0, 1]).
        assert not {"bce", "psnr_db"} & set(values)
    assert all(isinstance(v, float) and np.isfinite(v) for v in values.values())


# --- data a family cannot take ---------------------------------------------------------------


def _rgb_folder(folder: Path) -> Path:
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        pixels = rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)
        Image.fromarray(pixels, "RGB").save(folder / f"{i}.png")
    return folder


def _signal_folder(folder: Path) -> Path:
    folder.mkdir()
    for i in range(3):
        np.save(folder / f"{i}.npy", synthetic_items(SIGNAL_SHAPE, 1, seed=i).numpy()[0])
    return folder


REFUSALS = [
    (name, kind)
    for name in FAMILY_NAMES
    for kind, shape in (("rgb", RGB_SHAPE), ("signals", SIGNAL_SHAPE))
    if shape not in takes(name)
]


@pytest.mark.parametrize(("name", "kind"), REFUSALS, ids=[f"{n}-{k}" for n, k in REFUSALS])
def test_family_refuses_data_it_cannot_take(tmp_path: Path, name: str, kind: str) -> None:
    """conv on signals, lstm on RGB…: one DataError line that says what to do, nothing written."""
    if kind == "rgb":
        spec = DataSpec(IMAGES, str(_rgb_folder(tmp_path / "rgb")), (12, 12), 3)
        hint = "--channels 1"
    else:
        spec = DataSpec(SIGNALS, str(_signal_folder(tmp_path / "signals")))
        able = [n for n in FAMILY_NAMES if SIGNAL_SHAPE in takes(n)]
        hint = ", ".join(able)
    run_dir = tmp_path / "run"
    with pytest.raises(DataError) as info:
        train(name, run_dir, data=spec, train_overrides={"max_steps": 1}, progress=False)
    message = str(info.value)
    assert "\n" not in message
    assert name in message and hint in message, message
    assert not run_dir.exists()


def test_refusals_cover_both_kinds() -> None:
    """The registry has families that refuse signals and one that refuses colour."""
    kinds = {kind for _, kind in REFUSALS}
    assert kinds == {"rgb", "signals"}
    assert ("conv", "signals") in REFUSALS and ("lstm", "rgb") in REFUSALS


@pytest.mark.parametrize("name", sorted(GREY_ONLY))
def test_grey_only_build_refuses_colour(name: str) -> None:
    family = get_family(name)
    with pytest.raises(ValueError, match="3 channels"):
        family.build(family.Config(item=RGB_SHAPE))


# --- the vae's training-only binarization --------------------------------------------------


def test_vae_binarizes_only_in_the_loss(
    monkeypatch: pytest.MonkeyPatch, mnist_items: torch.Tensor
) -> None:
    """Dynamic binarization is training-only: the loss sees a 0/1 draw of each image (so a
    0/1 image is its own draw), the metrics and the exported modules see the grey levels; a
    linear head (unbounded data) is never binarized."""
    vae = get_family("vae")
    cfg = vae.Config()
    assert cfg.binarize and vae.LATENT_KIND == GAUSSIAN
    encoder, decoder = vae.build(cfg)
    seen: list[torch.Tensor] = []
    original = vae._elbo_terms

    def spy(enc: nn.Module, dec: nn.Module, x: torch.Tensor, gen: torch.Generator):
        seen.append(x)
        return original(enc, dec, x, gen)

    grey = to_layout(mnist_items[:8], vae.LAYOUT)
    binary = (grey > 0.5).float()
    monkeypatch.setattr(vae, "_elbo_terms", spy)
    vae.loss(encoder, decoder, grey, cfg, context())
    vae.loss(encoder, decoder, binary, cfg, context())
    with torch.no_grad():  # as the trainer evaluates
        vae.metrics(encoder, decoder, grey, cfg, torch.Generator().manual_seed(0))
    drawn, kept, evaluated = seen
    assert set(drawn.unique().tolist()) <= {0.0, 1.0} and not torch.equal(drawn, grey)
    assert torch.equal(kept, binary)
    assert torch.equal(evaluated, grey)

    signal_cfg = vae.Config(item=SIGNAL_SHAPE, head=LINEAR)
    encoder, decoder = vae.build(signal_cfg)
    values = to_layout(synthetic_items(SIGNAL_SHAPE, 8), vae.LAYOUT)
    seen.clear()
    vae.loss(encoder, decoder, values, signal_cfg, context())
    assert torch.equal(seen[0], values)


def test_deterministic_families_return_one_code(family: ModuleType) -> None:
    cfg = family.Config()
    encoder, _ = family.build(cfg)
    with torch.no_grad():
        encoded = encoder.eval()(to_layout(torch.rand(2, *cfg.item), family.LAYOUT))
    if family.LATENT_KIND == DETERMINISTIC:
        assert isinstance(encoded, torch.Tensor)
    else:
        assert isinstance(encoded, tuple) and len(encoded) == 2
