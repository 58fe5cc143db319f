"""Every registered family: frozen config, shapes in its layout, a loss that trains, no
randomness in the modules that get exported."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import ModuleType

import pytest
import torch
from torch import nn

from aeinfer.errors import UnknownFamilyError
from aeinfer.metadata import (
    LATENT_DETERMINISTIC,
    LATENT_GAUSSIAN,
    LAYOUT_FLAT,
    LAYOUT_IMAGE,
    LAYOUT_SEQUENCE,
    LAYOUTS,
)
from aeinfer.train.config import TrainConfig
from aeinfer.train.data import load_split
from aeinfer.train.families.base import StepContext
from aeinfer.train.registry import FAMILIES, get_family
from aeinfer.train.trainer import images_to_tensor, to_layout

FAMILY_NAMES = list(FAMILIES)
LAYOUT_SHAPES = {
    LAYOUT_FLAT: (784,),
    LAYOUT_IMAGE: (1, 28, 28),
    LAYOUT_SEQUENCE: (28, 28),
}
TRAIN_IMAGES = 64
TRAIN_STEPS = 20
LOSS_DRAWS = 4  # loss averaged over this many seeded draws (noise, VAE sampling)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def test_images(mnist_dir: Path) -> torch.Tensor:
    """The first 64 MNIST test digits, float (N, 28, 28) in [0, 1]."""
    return images_to_tensor(load_split("test", mnist_dir).images[:TRAIN_IMAGES])


@pytest.fixture(params=FAMILY_NAMES)
def family(request: pytest.FixtureRequest) -> ModuleType:
    return get_family(request.param)


def batch_for(family: ModuleType, images: torch.Tensor, n: int) -> torch.Tensor:
    return to_layout(images[:n], family.LAYOUT)


def codes_of(family: ModuleType, encoded: object) -> tuple[torch.Tensor, ...]:
    if family.LATENT_KIND == LATENT_GAUSSIAN:
        assert isinstance(encoded, tuple) and len(encoded) == 2
        return encoded
    assert isinstance(encoded, torch.Tensor)
    return (encoded,)


def context(seed: int = 0) -> StepContext:
    return StepContext(epoch=0, total_epochs=1, generator=torch.Generator().manual_seed(seed))


def test_registry_names_match_modules() -> None:
    assert FAMILY_NAMES, "no family registered"
    for name, module in FAMILIES.items():
        assert module.__name__ == f"aeinfer.train.families.{name}"
        assert get_family(name) is module


def test_unknown_family_lists_valid_names() -> None:
    with pytest.raises(UnknownFamilyError) as info:
        get_family("nope")
    message = str(info.value)
    assert "'nope'" in message
    for name in FAMILY_NAMES:
        assert name in message


def test_module_contract(family: ModuleType) -> None:
    assert family.LAYOUT in LAYOUTS
    assert family.LATENT_KIND in (LATENT_DETERMINISTIC, LATENT_GAUSSIAN)
    assert isinstance(family.TRAINING, TrainConfig)
    assert isinstance(family.PRIMARY_METRIC, str)
    assert callable(family.build) and callable(family.loss) and callable(family.metrics)
    assert (family.__doc__ or "").strip(), "the first docstring line becomes the card description"


def test_config_is_frozen_dataclass(family: ModuleType) -> None:
    cfg = family.Config()
    assert dataclasses.is_dataclass(cfg)
    config_fields = dataclasses.fields(cfg)
    assert config_fields
    for field in config_fields:
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(cfg, field.name, getattr(cfg, field.name))
    # Configs round-trip through the plain dict a checkpoint stores.
    assert family.Config(**dataclasses.asdict(cfg)) == cfg
    with pytest.raises(dataclasses.FrozenInstanceError):
        family.TRAINING.lr = 1.0


def test_build_shapes_and_range(family: ModuleType, test_images: torch.Tensor) -> None:
    torch.manual_seed(0)
    encoder, decoder = family.build(family.Config())
    assert isinstance(encoder, nn.Module) and isinstance(decoder, nn.Module)
    encoder.eval()
    decoder.eval()
    for n in (1, 5):
        x = batch_for(family, test_images, n)
        assert tuple(x.shape) == (n, *LAYOUT_SHAPES[family.LAYOUT])
        with torch.no_grad():
            codes = codes_of(family, encoder(x))
            for code in codes:
                assert code.shape[0] == n and code.ndim >= 2
                assert code.dtype == torch.float32
                assert torch.isfinite(code).all()
            if family.LATENT_KIND == LATENT_GAUSSIAN:
                mean, logvar = codes
                assert mean.shape == logvar.shape
            y = decoder(codes[0])
        assert y.shape == x.shape
        assert y.dtype == torch.float32
        assert float(y.min()) >= 0.0 and float(y.max()) <= 1.0


def test_loss_is_finite_and_backpropagates(family: ModuleType, test_images: torch.Tensor) -> None:
    torch.manual_seed(0)
    cfg = family.Config()
    encoder, decoder = family.build(cfg)
    encoder.train()
    decoder.train()
    out = family.loss(encoder, decoder, batch_for(family, test_images, 32), cfg, context())
    assert out.loss.ndim == 0
    assert torch.isfinite(out.loss)
    assert all(isinstance(v, float) for v in out.logs.values())
    out.loss.backward()
    for module_name, module in (("encoder", encoder), ("decoder", decoder)):
        for name, param in module.named_parameters():
            assert param.grad is not None, f"{module_name}.{name} got no gradient"
            assert torch.isfinite(param.grad).all(), f"{module_name}.{name}: non-finite grad"
            assert param.grad.abs().sum() > 0, f"{module_name}.{name}: gradient is all zeros"


def test_exported_modules_are_deterministic(family: ModuleType, test_images: torch.Tensor) -> None:
    """Noise and sampling live in the loss only: eval-mode modules ignore the global RNG."""
    torch.manual_seed(0)
    encoder, decoder = family.build(family.Config())
    encoder.eval()
    decoder.eval()
    x = batch_for(family, test_images, 16)
    runs = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        with torch.no_grad():
            codes = codes_of(family, encoder(x))
            runs.append((codes, decoder(codes[0])))
    (codes_a, y_a), (codes_b, y_b) = runs
    for a, b in zip(codes_a, codes_b, strict=True):
        assert torch.equal(a, b)
    assert torch.equal(y_a, y_b)


def test_metrics_are_finite(family: ModuleType, test_images: torch.Tensor) -> None:
    torch.manual_seed(0)
    cfg = family.Config()
    encoder, decoder = family.build(cfg)
    encoder.eval()
    decoder.eval()
    with torch.no_grad():
        values = family.metrics(
            encoder, decoder, batch_for(family, test_images, 64), cfg, torch.Generator()
        )
    assert family.PRIMARY_METRIC in values
    for key in ("bce", "mse", "psnr_db"):
        assert key in values
    assert all(isinstance(v, float) and v == v for v in values.values())


def _mean_loss(family: ModuleType, encoder, decoder, cfg, x: torch.Tensor) -> float:
    """The loss on a fixed batch, averaged over fixed seeded draws (noise, sampling)."""
    with torch.no_grad():
        total = sum(
            float(family.loss(encoder, decoder, x, cfg, context(1000 + i)).loss)
            for i in range(LOSS_DRAWS)
        )
    return total / LOSS_DRAWS


def test_a_few_steps_reduce_the_loss(family: ModuleType, test_images: torch.Tensor) -> None:
    torch.manual_seed(0)
    cfg = family.Config()
    encoder, decoder = family.build(cfg)
    x = batch_for(family, test_images, TRAIN_IMAGES)
    params = [*encoder.parameters(), *decoder.parameters()]
    optimizer = torch.optim.Adam(params, lr=family.TRAINING.lr)
    encoder.train()
    decoder.train()
    before = _mean_loss(family, encoder, decoder, cfg, x)
    ctx = context(7)
    for _ in range(TRAIN_STEPS):
        out = family.loss(encoder, decoder, x, cfg, ctx)
        optimizer.zero_grad(set_to_none=True)
        out.loss.backward()
        optimizer.step()
    after = _mean_loss(family, encoder, decoder, cfg, x)
    assert after < 0.9 * before, f"{TRAIN_STEPS} steps: loss {before:.4g} → {after:.4g}"


def test_vae_binarizes_only_in_the_loss(
    monkeypatch: pytest.MonkeyPatch, test_images: torch.Tensor
) -> None:
    """Dynamic binarization is training-only: the loss sees a 0/1 draw of each image (so a
    0/1 image is its own draw), the metrics and the exported modules see the grey levels."""
    vae = get_family("vae")
    cfg = vae.Config()
    assert cfg.binarize
    encoder, decoder = vae.build(cfg)
    seen: list[torch.Tensor] = []
    original = vae._elbo_terms

    def spy(enc: nn.Module, dec: nn.Module, x: torch.Tensor, gen: torch.Generator):
        seen.append(x)
        return original(enc, dec, x, gen)

    grey = to_layout(test_images[:8], vae.LAYOUT)
    binary = (grey > 0.5).float()
    ctx = StepContext(epoch=0, total_epochs=1, generator=torch.Generator().manual_seed(0))
    monkeypatch.setattr(vae, "_elbo_terms", spy)
    vae.loss(encoder, decoder, grey, cfg, ctx)
    vae.loss(encoder, decoder, binary, cfg, ctx)
    with torch.no_grad():  # as the trainer evaluates
        vae.metrics(encoder, decoder, grey, cfg, torch.Generator().manual_seed(0))
    drawn, kept, evaluated = seen
    assert set(drawn.unique().tolist()) <= {0.0, 1.0} and not torch.equal(drawn, grey)
    assert torch.equal(kept, binary)
    assert torch.equal(evaluated, grey)
