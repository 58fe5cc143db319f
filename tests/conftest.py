"""Shared fixtures: the MNIST copy beside the checkout, and smoke-trained models per family.

Tests never download: MNIST is read from ``../shared/data/mnist`` (or ``$AEINFER_TEST_DATA``).
Smoke models are trained for a few steps and exported once per session, then reused.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_MNIST = REPO.parent / "shared" / "data" / "mnist"
SMOKE_STEPS = 5
SMOKE_TRAIN_IMAGES = 512
SMOKE_VAL_IMAGES = 256
# Test images scored for a smoke model's card (the full split is used for real exports).
SMOKE_SCORE_IMAGES = 1000


@pytest.fixture
def one_torch_thread() -> Iterator[None]:
    """Tiny models train faster on one thread than on two threads fighting other work."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    path = Path(os.environ.get("AEINFER_TEST_DATA", SHARED_MNIST))
    if not (path / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.fail(f"MNIST not found at {path}; set AEINFER_TEST_DATA to the IDX folder")
    return path


@dataclass(frozen=True)
class Smoke:
    """A smoke-trained family: its checkpoint and its exported model directory."""

    family: str
    checkpoint: Path
    model_dir: Path


@pytest.fixture(scope="session")
def smoke(tmp_path_factory: pytest.TempPathFactory, mnist_dir: Path) -> Callable[[str], Smoke]:
    """smoke(family) trains SMOKE_STEPS steps and exports, once per family per session."""
    root = tmp_path_factory.mktemp("smoke")
    cache: dict[str, Smoke] = {}

    def get(family: str) -> Smoke:
        if family not in cache:
            from aeinfer.export.checkpoint import export_checkpoint
            from aeinfer.train.data import MNIST, DataSpec
            from aeinfer.train.trainer import train

            # Every family smoke-trains on MNIST (the photo denoiser too: it takes any image
            # shape; its own photographs come from package wheels, never fetched by tests).
            result = train(
                family,
                root / "runs" / family,
                data=DataSpec(MNIST, str(mnist_dir)),
                train_overrides={
                    "max_steps": SMOKE_STEPS,
                    "train_limit": SMOKE_TRAIN_IMAGES,
                    "val_limit": SMOKE_VAL_IMAGES,
                    "batch_size": 64,
                },
                progress=False,
            )
            model_dir = root / "models" / family
            export_checkpoint(
                result.checkpoint, model_dir, data_dir=mnist_dir, score_limit=SMOKE_SCORE_IMAGES
            )
            cache[family] = Smoke(family, result.checkpoint, model_dir)
        return cache[family]

    return get
