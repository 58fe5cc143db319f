"""The generic trainer: self-describing checkpoints (family, configs, data spec, dataset record),
seeded and exactly resumable runs, foreign run dirs refused, and training on folders of your own
images and signals through to a served model."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

import aeinfer
from aeinfer.adapters.image import ImageParams, frame
from aeinfer.card import IMAGE, SIGNAL
from aeinfer.errors import CheckpointError, UnknownFamilyError
from aeinfer.export.checkpoint import export_checkpoint, training_record
from aeinfer.pictures import read_picture
from aeinfer.train.data import (
    MNIST,
    MNIST_HELD_OUT,
    TRAINING_DATA,
    DataSpec,
    data_spec,
    load_dataset,
    normalized,
    spec_from_dict,
)
from aeinfer.train.families.base import LINEAR, SIGMOID
from aeinfer.train.registry import get_family
from aeinfer.train.trainer import (
    CHECKPOINT_FILE,
    CHECKPOINT_FORMAT,
    CHECKPOINT_KEYS,
    load_checkpoint,
    rebuild,
    to_layout,
    train,
)

FAMILY = "dense"
SMALL = {"train_limit": 512, "val_limit": 256, "batch_size": 64}  # 8 steps per epoch
FOLDER_TRAINING = {"max_steps": 3, "batch_size": 4}

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def run(mnist_dir: Path) -> Callable[..., Any]:
    def go(run_dir: Path, max_steps: int, family: str = FAMILY, **overrides: Any):
        model_overrides = overrides.pop("model_overrides", None)
        data = overrides.pop("data", None)
        init_from = overrides.pop("init_from", None)
        return train(
            family,
            run_dir,
            data=data,
            init_from=init_from,
            data_dir=None if data is not None else mnist_dir,
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


def write_pictures(folder: Path, count: int = 12) -> list[Path]:
    """``count`` distinct small pictures of two sizes, grey and RGB."""
    rng = np.random.default_rng(11)
    folder.mkdir(parents=True)
    files = []
    for i in range(count):
        width, height = (20, 12) if i % 2 else (9, 15)
        pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        image = Image.fromarray(pixels, "RGB")
        if i % 3 == 0:
            image = image.convert("L")
        path = folder / f"img{i:02d}.png"
        image.save(path)
        files.append(path)
    return files


def write_signals(folder: Path) -> dict[str, np.ndarray]:
    """Five (2, 64) .npy signals and a batch file of three; each file's items (N, 2, 64)."""
    rng = np.random.default_rng(12)
    folder.mkdir(parents=True)
    t = np.linspace(0.0, 1.0, 64)
    items: dict[str, np.ndarray] = {}
    for i in range(5):
        values = np.stack([np.sin(2 * np.pi * (i + 1) * t), 3.0 + rng.normal(0, 0.5, 64)])
        items[f"s{i}.npy"] = values[None].astype(np.float32)
        np.save(folder / f"s{i}.npy", items[f"s{i}.npy"][0])
    items["batch.npy"] = rng.normal(1.0, 2.0, (3, 2, 64)).astype(np.float32)
    np.save(folder / "batch.npy", items["batch.npy"])
    return items


def seen_batches(monkeypatch: pytest.MonkeyPatch, family_name: str) -> list[torch.Tensor]:
    """Record every batch the family's loss is given during training."""
    family = get_family(family_name)
    seen: list[torch.Tensor] = []
    original = family.loss

    def spy(encoder, decoder, x, cfg, ctx):  # type: ignore[no-untyped-def]
        seen.append(x.detach().clone())
        return original(encoder, decoder, x, cfg, ctx)

    monkeypatch.setattr(family, "loss", spy)
    return seen


def rows_in(rows: np.ndarray, pool: np.ndarray) -> list[bool]:
    """For each row, whether it equals one of ``pool``'s rows."""
    flat_pool = pool.reshape(len(pool), -1)
    return [bool((np.abs(flat_pool - row.reshape(-1)).max(axis=1) < 1e-6).any()) for row in rows]


# --- MNIST runs -----------------------------------------------------------------------------


def test_smoke_checkpoint_is_self_describing(smoke, mnist_dir: Path) -> None:
    result = smoke(FAMILY)
    assert result.checkpoint.name == CHECKPOINT_FILE
    ckpt = torch.load(result.checkpoint, map_location="cpu", weights_only=True)
    family = get_family(FAMILY)
    assert ckpt["format"] == CHECKPOINT_FORMAT == 2
    assert set(CHECKPOINT_KEYS) <= set(ckpt)
    assert ckpt["family"] == FAMILY
    assert ckpt["model_config"] == dataclasses.asdict(family.Config())
    assert ckpt["model_config"]["item"] == (1, 28, 28)
    assert ckpt["model_config"]["head"] == SIGMOID
    train_config = ckpt["train_config"]
    assert train_config["max_steps"] == 5 and train_config["batch_size"] == 64
    assert set(train_config) == {f.name for f in dataclasses.fields(family.TRAINING)}
    # The data spec: what to load again at export; the dataset record: what the card says.
    assert spec_from_dict(ckpt["data"]) == DataSpec(MNIST, str(mnist_dir))
    assert ckpt["dataset"] == {
        "description": TRAINING_DATA,
        "held_out_description": MNIST_HELD_OUT,
        "held_out": [],
        "modality": IMAGE,
        "item": [1, 28, 28],
        "channels": ["L"],
        "range": [0.0, 1.0],
        "normalization": None,
        "preparation": ckpt["dataset"]["preparation"],
    }
    assert ckpt["dataset"]["preparation"]["adapter"] == "mnist_digit"
    assert ckpt["step"] == 5
    assert ckpt["history"] and ckpt["history"][-1]["step"] == 5
    assert family.PRIMARY_METRIC in ckpt["metrics"]
    for key in ("encoder", "decoder", "optimizer", "scheduler", "loss_generator"):
        assert key in ckpt
    # load_checkpoint accepts it too (weights_only, known family, format 2).
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
    assert opt_a.keys() == opt_b.keys()
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
        {"data": "grey-28"},
    ],
    ids=["lr", "seed", "model", "family", "data"],
)
def test_run_dir_with_other_settings_is_refused(
    tmp_path: Path, run, change: dict[str, Any]
) -> None:
    run_dir = tmp_path / "r"
    first = run(run_dir, 2)
    before = first.checkpoint.read_bytes()
    if change.get("data"):
        # The same model and training settings (grey 28×28 items, a sigmoid head) on other data.
        write_pictures(tmp_path / "pics", 4)
        change = {"data": data_spec(images=tmp_path / "pics", size="28", channels=1)}
    with pytest.raises(CheckpointError, match="other settings") as info:
        run(run_dir, 4, **change)
    assert "\n" not in str(info.value)
    assert first.checkpoint.read_bytes() == before
    assert sorted(p.name for p in run_dir.iterdir()) == [CHECKPOINT_FILE]


def test_unknown_override_is_refused(tmp_path: Path, run) -> None:
    with pytest.raises(CheckpointError, match="no_such_setting"):
        run(tmp_path / "r", 1, no_such_setting=1)
    with pytest.raises(CheckpointError, match="valid"):
        run(tmp_path / "r", 1, model_overrides={"width": 3})
    assert not (tmp_path / "r").exists()


def test_unknown_family_is_refused(tmp_path: Path, run) -> None:
    with pytest.raises(UnknownFamilyError, match="'nope'"):
        run(tmp_path / "r", 1, family="nope")
    assert not (tmp_path / "r").exists()


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
    ckpt = torch.load(smoke(FAMILY).checkpoint, weights_only=True)
    # A checkpoint of the first format (MNIST only, no data spec): one line saying so.
    old = tmp_path / "format1.pt"
    torch.save(
        {**{k: v for k, v in ckpt.items() if k not in ("data", "dataset")}, "format": 1}, old
    )
    with pytest.raises(CheckpointError, match="checkpoint format 1, this aeinfer reads 2") as info:
        load_checkpoint(old)
    assert "\n" not in str(info.value) and str(old) in str(info.value)
    # A checkpoint of this format that lacks its data spec.
    partial = tmp_path / "partial.pt"
    torch.save({k: v for k, v in ckpt.items() if k != "data"}, partial)
    with pytest.raises(CheckpointError, match="lacks data"):
        load_checkpoint(partial)
    # A checkpoint naming a family that is not registered.
    renamed = tmp_path / "renamed.pt"
    torch.save({**ckpt, "family": "retired"}, renamed)
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


def test_a_run_starts_from_given_weights_and_records_them(tmp_path: Path, run) -> None:
    source = run(tmp_path / "source", 3).checkpoint
    # At lr 0 one step changes nothing: the new run holds exactly the weights it started from.
    started = run(tmp_path / "started", 1, lr=0.0, init_from=source).checkpoint
    assert_same_weights(started, source)
    record = torch.load(started, weights_only=True)["init_from"]
    assert record["file"] == CHECKPOINT_FILE
    assert training_record(load_checkpoint(started))["init_from"] == record

    # A weights file of its own (as build_zoo writes one from a bundled model's graphs).
    ckpt = torch.load(source, weights_only=True)
    bare = tmp_path / "init.pt"
    torch.save({"encoder": ckpt["encoder"], "decoder": ckpt["decoder"], "description": "x"}, bare)
    fresh = run(tmp_path / "fresh", 1, lr=0.0, init_from=bare).checkpoint
    assert_same_weights(fresh, source)
    recorded = torch.load(fresh, weights_only=True)["init_from"]
    assert recorded == {"file": "init.pt", "description": "x"}

    # A run being resumed keeps its own weights and record, whatever it is given now.
    resumed = run(tmp_path / "fresh", 2, lr=0.0, init_from=started).checkpoint
    assert torch.load(resumed, weights_only=True)["init_from"]["file"] == "init.pt"
    # Without init_from nothing is recorded.
    assert "init_from" not in torch.load(source, weights_only=True)


def test_weights_to_start_from_are_checked(tmp_path: Path, run) -> None:
    source = run(tmp_path / "source", 1).checkpoint
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not weights")
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {}}, foreign)
    cases = [
        ({"init_from": tmp_path / "absent.pt"}, "weights file not found"),
        ({"init_from": garbage}, "not a readable weights file"),
        ({"init_from": foreign}, "holds no encoder and decoder weights"),
        (
            {"init_from": source, "model_overrides": {"latent_dim": 16}},
            "weights of another architecture",
        ),
    ]
    for index, (change, message) in enumerate(cases):
        run_dir = tmp_path / f"r{index}"
        with pytest.raises(CheckpointError, match=message) as info:
            run(run_dir, 1, **change)
        assert "\n" not in str(info.value) and str(change["init_from"]) in str(info.value)
        assert not (run_dir / CHECKPOINT_FILE).exists()


# --- folders of your own data, through to a served model -------------------------------------


def test_image_folder_trains_exports_and_serves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = write_pictures(tmp_path / "pics")
    spec = data_spec(images=tmp_path / "pics", size="16", channels=3, val_fraction=0.25)
    seen = seen_batches(monkeypatch, "conv")
    result = train(
        "conv",
        tmp_path / "run",
        data=spec,
        model_overrides={"filters": (4, 4, 2)},
        train_overrides=FOLDER_TRAINING,
        progress=False,
    )
    ckpt = load_checkpoint(result.checkpoint)
    assert spec_from_dict(ckpt["data"]) == spec
    record = ckpt["dataset"]
    assert record["modality"] == IMAGE and record["item"] == [3, 16, 16]
    assert record["channels"] == ["R", "G", "B"] and record["range"] == [0.0, 1.0]
    assert record["preparation"]["adapter"] == "image"
    assert ckpt["model_config"]["item"] == (3, 16, 16) and ckpt["model_config"]["head"] == SIGMOID
    held_out = record["held_out"]
    assert len(held_out) == 3 and set(held_out) < {f.name for f in files}

    # Held-out files were never trained on; every batch came from the training files.
    framed = {f.name: frame(read_picture(f), 3, (16, 16), ImageParams())[0][0] for f in files}
    trained = np.stack([framed[f.name] for f in files if f.name not in held_out])
    kept = np.stack([framed[name] for name in held_out])
    assert len(seen) == FOLDER_TRAINING["max_steps"]
    rows = torch.cat(seen).numpy()
    assert all(rows_in(rows, trained))
    assert not any(rows_in(rows, kept))

    card = export_checkpoint(result.checkpoint, tmp_path / "models" / "rgb16", variants=())
    assert card.name == "rgb16" and card.family == "conv"
    assert card.data.shape == (3, 16, 16) and card.data.channels == ("R", "G", "B")
    assert card.preparation.adapter == "image"
    training = card.provenance["training"]
    assert training["held_out_files"] == held_out
    assert training["data"] == record["description"] and "9 images" in training["data"]
    assert card.score is not None and card.score.count == 3
    model = aeinfer.load(tmp_path / "models" / "rgb16", device="cpu")
    for file in (files[0], files[1]):  # grey 9×15 and RGB 20×12
        out = model.reconstruct(str(file))
        with Image.open(file) as original:
            assert out.size == original.size and out.mode == original.mode


def test_signal_folder_trains_exports_and_serves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    items = write_signals(tmp_path / "sig")
    spec = data_spec(signals=tmp_path / "sig", val_fraction=0.34)
    seen = seen_batches(monkeypatch, "dense")
    result = train(
        "dense",
        tmp_path / "run",
        data=spec,
        model_overrides={"latent_dim": 4},
        train_overrides=FOLDER_TRAINING,
        progress=False,
    )
    ckpt = load_checkpoint(result.checkpoint)
    assert spec_from_dict(ckpt["data"]) == spec
    record = ckpt["dataset"]
    assert record["modality"] == SIGNAL and record["item"] == [2, 64] and record["range"] is None
    assert ckpt["model_config"]["item"] == (2, 64) and ckpt["model_config"]["head"] == LINEAR
    held_out = record["held_out"]
    assert len(held_out) == 2 and set(held_out) < set(items)

    # Training saw the training files' items, normalised by their own statistics, never the
    # held-out files'.
    norm = record["normalization"]
    train_values = np.concatenate([v for name, v in sorted(items.items()) if name not in held_out])
    np.testing.assert_allclose(norm["mean"], train_values.mean(axis=(0, 2)), rtol=1e-5)
    held_values = np.concatenate([items[name] for name in held_out])
    rows = torch.cat(seen).numpy()
    assert all(rows_in(rows, normalized(train_values, norm).reshape(len(train_values), -1)))
    assert not any(rows_in(rows, normalized(held_values, norm).reshape(len(held_values), -1)))

    out_dir = tmp_path / "models" / "sig"
    card = export_checkpoint(result.checkpoint, out_dir)
    assert card.data.modality == SIGNAL and card.data.range is None and not card.data.clip
    assert card.data.normalization is not None
    np.testing.assert_allclose(card.data.normalization.mean, norm["mean"])
    assert card.preparation.adapter == "signal"
    assert card.provenance["training"]["held_out_files"] == held_out
    assert card.precisions == ("fp32", "fp16", "int8") and not card.not_made

    # Served on the files themselves: each result has its file's shape and is the model's
    # reconstruction in the data's units.
    _, _, encoder, decoder = rebuild(ckpt)
    model = aeinfer.load(out_dir, device="cpu")
    for name in ("batch.npy", held_out[0]):
        values = items[name]
        out = model.reconstruct(str(tmp_path / "sig" / name))
        assert out.shape == np.load(tmp_path / "sig" / name).shape
        with torch.no_grad():
            x = to_layout(torch.from_numpy(normalized(values, norm)), "flat")
            want = decoder(encoder(x)).numpy().reshape(values.shape)
        std = np.asarray(norm["std"], np.float32)[None, :, None]
        mean = np.asarray(norm["mean"], np.float32)[None, :, None]
        np.testing.assert_allclose(out.reshape(values.shape), want * std + mean, atol=1e-3)


def test_dataset_is_loaded_again_at_export(tmp_path: Path) -> None:
    """export needs only the checkpoint and the data: the spec names the folder, which may move
    (``data_dir``) and still split the same way."""
    write_pictures(tmp_path / "pics", 6)
    spec = data_spec(images=tmp_path / "pics", size="8", channels=1, val_fraction=0.34)
    first = load_dataset(spec)
    shutil.move(tmp_path / "pics", tmp_path / "moved")
    again = load_dataset(spec, tmp_path / "moved")
    assert again.held_out == first.held_out
    np.testing.assert_array_equal(again.train, first.train)
