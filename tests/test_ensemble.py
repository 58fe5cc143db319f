"""The geometric self-ensemble (``--ensemble``): the mean of the 8 flips and rotations, tiled
seamlessly, offered only by models whose card says they were trained on all eight."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import aeinfer
from aeinfer import tasks
from aeinfer.adapters.tiles import Tiles
from aeinfer.errors import CapabilityError
from aeinfer.model import load_model
from aeinfer.train import photos
from aeinfer.zoo import bundled_names
from tests.helpers import assert_one_error, invoke, ok

PHOTO = "photo"


def _noisy_photo(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth colour picture with noise of σ 25, as 8-bit pixels."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    clean = np.stack([0.5 + 0.3 * np.sin(6 * x), 0.4 + 0.3 * y, 0.6 - 0.2 * x * y], axis=-1)
    noisy = clean + rng.normal(0, 25 / 255, clean.shape)
    return np.round(np.clip(noisy, 0, 1) * 255).astype(np.uint8)


def test_ensemble_is_the_mean_of_the_eight_flips_and_rotations() -> None:
    model = aeinfer.load(PHOTO)
    x = np.random.default_rng(0).random((2, 3, 32, 48), dtype=np.float32)
    passes = []
    for turns in range(4):
        for flip in (False, True):
            moved = np.rot90(x, turns, axes=(2, 3))
            moved = moved[..., ::-1] if flip else moved
            out = model.reconstruct(np.ascontiguousarray(moved))
            out = out[..., ::-1] if flip else out
            passes.append(np.rot90(out, -turns, axes=(2, 3)))
    expected = np.mean(passes, axis=0)
    got = model.denoise(x, ensemble=True)
    assert got.shape == x.shape
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert not np.allclose(got, model.denoise(x), atol=1e-4)  # the passes do differ


def test_ensemble_in_tiles_equals_the_whole_picture() -> None:
    """Each window is averaged over the eight, and its core kept: the tiled ensemble is the
    whole picture's ensemble (a rotated window sees the same context as the rotated picture)."""
    model = load_model(PHOTO)
    whole = tasks.pipeline(model, ensemble=True)
    small_tiles = Tiles(model.card, replace(whole.adapter.params, tile=32))
    tiled = tasks.Pipeline(model, small_tiles, ensemble=True)
    picture = _noisy_photo(100, 130)
    done = tasks.denoise(tiled, Image.fromarray(picture))
    tensor, _ = whole.adapter.prepare(whole.read(Image.fromarray(picture)))
    assert tensor.shape[2] > 32 + 2 * small_tiles.params.margin  # really tiled
    np.testing.assert_allclose(done.result, whole.reconstruct(tensor), atol=1e-4)


@pytest.mark.parametrize("name", bundled_names())
def test_only_models_trained_on_every_rotation_may_be_averaged(name: str) -> None:
    model = load_model(name)
    if model.card.preparation.params.get("dihedral"):
        assert tasks.pipeline(model, ensemble=True).ensemble
        return
    with pytest.raises(CapabilityError, match=f"{name}.*dihedral"):
        tasks.pipeline(model, ensemble=True)
    with pytest.raises(CapabilityError, match=f"{name}.*dihedral"):  # the API says it too
        aeinfer.load(name).reconstruct(Image.new("L", (28, 28)), ensemble=True)


def test_the_photo_patches_are_drawn_under_all_eight_transforms() -> None:
    """What licenses ``dihedral`` in the photo card: the sampler's patches come in every one of
    the eight orientations (a grey photo, so the channel shuffle changes nothing)."""
    grey = np.random.default_rng(0).uniform(0.1, 0.5, (8, 8))
    photo = np.repeat(grey[..., None], 3, axis=-1).astype(np.float32)
    sampler = photos.PatchSampler([[photo]], patch=8, count=400, seed=0)
    seen = set()
    for patch in sampler.epoch(0)[:, 0]:
        shape = patch / patch.max()
        for index, (turns, flip) in enumerate((t, f) for t in range(4) for f in (False, True)):
            moved = np.rot90(grey, turns)
            moved = moved[:, ::-1] if flip else moved
            if np.allclose(shape, moved / moved.max(), atol=1e-5):
                seen.add(index)
    assert seen == set(range(8))


def test_denoise_with_ensemble_on_the_command_line(tmp_path: Path) -> None:
    """``aeinfer denoise --ensemble``: the routed photo is averaged (the API's result, byte for
    byte), and a model whose card does not allow it is refused in one line."""
    source = tmp_path / "noisy.png"
    Image.fromarray(_noisy_photo(64, 90)).save(source)
    before = source.read_bytes()
    ok("denoise", source, "--ensemble", "-o", tmp_path / "out.png")
    expected = aeinfer.load(PHOTO).denoise(source, ensemble=True)
    assert np.array_equal(np.asarray(Image.open(tmp_path / "out.png")), np.asarray(expected))
    single = np.asarray(aeinfer.load(PHOTO).denoise(source))
    assert not np.array_equal(single, np.asarray(expected))
    refused = tmp_path / "refused.png"
    result = invoke("denoise", source, "--model", "denoise", "--ensemble", "-o", refused)
    assert_one_error(result, "denoise", "--ensemble")
    assert not refused.exists() and source.read_bytes() == before


def test_a_ray_job_checks_the_ensemble_before_any_actor_starts() -> None:
    from aeinfer import cluster
    from aeinfer.card import DENOISE

    with pytest.raises(CapabilityError, match=r"denoise.*dihedral"):
        cluster.build(None, cluster.Work(DENOISE, "denoise", ensemble=True))
    # The CLI's auto route: the photo model is the one averaged, and it may be.
    tasks.check_ensemble(load_model(PHOTO).card)
