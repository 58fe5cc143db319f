"""The generic trainer: self-describing checkpoints, exact resume, refusing foreign run dirs."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from aeinfer.errors import CheckpointError, UnknownFamilyError
from aeinfer.train.registry import get_family
from aeinfer.train.trainer import CHECKPOINT_FILE, load_checkpoint, rebuild, train

FAMILY = "dense"
SMALL = {"train_limit": 512, "val_limit": 256, "batch_size": 64}  # 8 steps per epoch

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def run(mnist_dir: Path) -> Callable[..., Any]:
    def go(run_dir: Path, max_steps: int, family: str = FAMILY, **overrides: Any):
        model_overrides = overrides.pop("model_overrides", None)
        return train(
            family,
            run_dir,
            data_dir=mnist_dir,
            model_overrides=model_overrides,
            train_overrides={**SMALL, "max_steps": max_steps, **overrides},
            progress=False,
        )

    return go


def weights(path: Path) -> dict[str, torch.Tensor]:
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    return {
        **{f"encoder.{k}": v for k, v in ckpt["encoder"].items()},
        **{f"decoder.{k}": v for k, v in ckpt["decoder"].items()},
    }


def assert_same_weights(a: Path, b: Path) -> None:
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    for key in wa:
        assert torch.equal(wa[key], wb[key]), f"{key} differs"


def test_smoke_checkpoint_is_self_describing(smoke) -> None:
    result = smoke(FAMILY)
    assert result.checkpoint.name == CHECKPOINT_FILE
    ckpt = torch.load(result.checkpoint, map_location="cpu", weights_only=True)
    family = get_family(FAMILY)
    assert ckpt["family"] == FAMILY
    assert ckpt["model_config"] == dataclasses.asdict(family.Config())
    train_config = ckpt["train_config"]
    assert train_config["max_steps"] == 5 and train_config["batch_size"] == 64
    assert set(train_config) == {f.name for f in dataclasses.fields(family.TRAINING)}
    assert ckpt["step"] == 5
    assert ckpt["history"] and ckpt["history"][-1]["step"] == 5
    assert family.PRIMARY_METRIC in ckpt["metrics"]
    for key in ("encoder", "decoder", "optimizer", "scheduler", "loss_generator"):
        assert key in ckpt
    # load_checkpoint accepts it too (weights_only, known family).
    assert load_checkpoint(result.checkpoint)["family"] == FAMILY


def test_training_is_seeded(tmp_path: Path, run) -> None:
    a = run(tmp_path / "a", 4)
    b = run(tmp_path / "b", 4)
    assert_same_weights(a.checkpoint, b.checkpoint)
    c = run(tmp_path / "c", 4, seed=1)
    key = "encoder.0.weight"
    assert not torch.equal(weights(a.checkpoint)[key], weights(c.checkpoint)[key])


@pytest.mark.parametrize("total", [6, 11], ids=["same-epoch", "across-epochs"])
def test_resume_equals_uninterrupted(tmp_path: Path, run, total: int) -> None:
    interrupted = tmp_path / "interrupted"
    first = run(interrupted, 3)
    assert first.steps == 3
    assert torch.load(first.checkpoint, weights_only=True)["step"] == 3

    resumed = run(interrupted, total)
    assert resumed.steps == total
    assert torch.load(resumed.checkpoint, weights_only=True)["step"] == total
    assert resumed.epochs_done == total // 8

    straight = run(tmp_path / "straight", total)
    assert straight.steps == total
    assert_same_weights(resumed.checkpoint, straight.checkpoint)
    # The optimizer state must match as well (resumed runs keep Adam's moments).
    opt_a = torch.load(resumed.checkpoint, weights_only=True)["optimizer"]["state"]
    opt_b = torch.load(straight.checkpoint, weights_only=True)["optimizer"]["state"]
    for index in opt_a:
        for key in ("exp_avg", "exp_avg_sq"):
            assert torch.equal(opt_a[index][key], opt_b[index][key])


def test_finished_run_is_not_trained_again(tmp_path: Path, run) -> None:
    first = run(tmp_path / "r", 3)
    before = first.checkpoint.read_bytes()
    again = run(tmp_path / "r", 3)
    assert again.steps == 3
    assert first.checkpoint.read_bytes() == before


@pytest.mark.parametrize(
    "change",
    [
        {"lr": 5e-3},
        {"seed": 3},
        {"model_overrides": {"latent_dim": 16}},
        {"family": "sparse"},
    ],
    ids=["lr", "seed", "model", "family"],
)
def test_run_dir_with_other_settings_is_refused(
    tmp_path: Path, run, change: dict[str, Any]
) -> None:
    run_dir = tmp_path / "r"
    first = run(run_dir, 2)
    before = first.checkpoint.read_bytes()
    with pytest.raises(CheckpointError, match="other settings"):
        run(run_dir, 4, **change)
    assert first.checkpoint.read_bytes() == before
    assert sorted(p.name for p in run_dir.iterdir()) == [CHECKPOINT_FILE]


def test_unknown_override_is_refused(tmp_path: Path, run) -> None:
    with pytest.raises(CheckpointError, match="no_such_setting"):
        run(tmp_path / "r", 1, no_such_setting=1)
    with pytest.raises(CheckpointError, match="valid"):
        run(tmp_path / "r", 1, model_overrides={"width": 3})


def test_unknown_family_is_refused(tmp_path: Path, run) -> None:
    with pytest.raises(UnknownFamilyError):
        run(tmp_path / "r", 1, family="nope")


def test_rebuild_restores_identical_weights(smoke) -> None:
    ckpt = load_checkpoint(smoke(FAMILY).checkpoint)
    family, cfg, encoder, decoder = rebuild(ckpt)
    assert family is get_family(FAMILY)
    assert dataclasses.asdict(cfg) == ckpt["model_config"]
    assert not encoder.training and not decoder.training
    for module, saved in ((encoder, ckpt["encoder"]), (decoder, ckpt["decoder"])):
        state = module.state_dict()
        assert state.keys() == saved.keys()
        for key, value in saved.items():
            assert torch.equal(state[key], value), key
    # And the rebuilt model differs from a fresh initialisation (weights really were loaded).
    torch.manual_seed(12345)
    fresh, _ = family.build(cfg)
    assert not torch.equal(fresh.state_dict()["0.weight"], encoder.state_dict()["0.weight"])


def test_load_checkpoint_errors(tmp_path: Path, smoke) -> None:
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "absent.pt")
    real = smoke(FAMILY).checkpoint.read_bytes()
    # Text, random bytes, nothing, a truncated real checkpoint: all are CheckpointError (the
    # weights-only unpickler raises IndexError on the first one).
    for index, content in enumerate(
        [b"this is not a checkpoint", bytes(range(256)), b"", real[: len(real) // 2]]
    ):
        garbage = tmp_path / f"garbage{index}.pt"
        garbage.write_bytes(content)
        with pytest.raises(CheckpointError, match="not a readable checkpoint") as info:
            load_checkpoint(garbage)
        assert str(garbage) in str(info.value)
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {}}, foreign)
    with pytest.raises(CheckpointError, match="not an aeinfer checkpoint"):
        load_checkpoint(foreign)
    # A checkpoint naming a family that is not registered.
    ckpt = torch.load(smoke(FAMILY).checkpoint, weights_only=True)
    ckpt["family"] = "retired"
    renamed = tmp_path / "renamed.pt"
    torch.save(ckpt, renamed)
    with pytest.raises(UnknownFamilyError, match="retired"):
        load_checkpoint(renamed)


def test_copied_run_resumes(tmp_path: Path, run) -> None:
    """A run directory is self-contained: a copy resumes like the original."""
    first = run(tmp_path / "a", 3)
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    a = run(tmp_path / "a", 5)
    b = run(tmp_path / "b", 5)
    assert first.steps == 3 and a.steps == b.steps == 5
    assert_same_weights(a.checkpoint, b.checkpoint)
