"""Training data: MNIST, a folder of your own images, or a folder of signals.

A :class:`DataSpec` says what to train on (it goes into the checkpoint, so export can load the
same data again); :func:`load_dataset` turns it into a :class:`Dataset` — a training split and
a held-out split of items (N, *item) in the data's own units, plus what the card needs to say
about them. Images are brought to the model's size and channels by the very function the
runtime's ``image`` adapter uses (:func:`aeinfer.adapters.image.frame`), so a served model sees
its inputs as it saw its training data. Folders are split by file, seeded, so a held-out file
is never trained on. Signals are normalised per channel (mean and standard deviation of the
training split), and the card carries that normalisation.

The MNIST reader is :mod:`aeinfer.mnist` (runtime side); this module adds its download for
users online, verified against the published content MD5s.
"""

from __future__ import annotations

import os
import re
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from aeinfer.card import IMAGE, SIGNAL
from aeinfer.errors import AeinferError, DataError
from aeinfer.mnist import (
    DATA_DIR_ENV,
    IMAGE_PIXELS,
    IMAGE_SIZE,
    MNIST_FILES,
    SPLIT_FILES,
    Split,
    default_cache_dir,
    load_split,
    parse_idx,
    read_idx,
    resolve_data_dir,
    verify_content,
)

MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
MNIST = "mnist"
IMAGES = "images"
SIGNALS = "signals"
PHOTOS = "photos"
KINDS = (MNIST, IMAGES, SIGNALS, PHOTOS)
PHOTO_PATCH = 64
PHOTO_PATCHES_PER_EPOCH = 4096
DEFAULT_VAL_FRACTION = 0.1
SPLIT_SEED = 0
DEFAULT_CHANNELS = 3
FITS = ("stretch", "letterbox")
TRAINING_DATA = "MNIST train split (60 000 images, 28×28, uint8 scaled to [0, 1])"
MNIST_HELD_OUT = "MNIST test split (10 000 images)"
UINT8_MAX = 255.0
HELD_OUT_LISTED = 200
"""Held-out files a card lists by name at most (the count is always given)."""
STD_FLOOR = 1e-8


@dataclass(frozen=True)
class DataSpec:
    """What to train on; stored in the checkpoint as a dict."""

    kind: str = MNIST
    path: str | None = None
    """The folder (MNIST: None for the default location)."""
    size: tuple[int, int] | None = None
    """Images: (height, width) of the model."""
    channels: int | None = None
    """Images: 1 (grey) or 3 (RGB)."""
    fit: str = "stretch"
    val_fraction: float = DEFAULT_VAL_FRACTION
    seed: int = SPLIT_SEED


@dataclass(frozen=True, eq=False)
class Dataset:
    """Training and held-out items (N, *item) in the data's units, and what a card says of them."""

    train: np.ndarray
    val: np.ndarray
    modality: str
    channels: tuple[str, ...]
    value_range: tuple[float, float] | None
    preparation: dict[str, Any]
    description: str
    held_out_description: str
    held_out: tuple[str, ...] = ()
    normalization: dict[str, list[float]] | None = None
    notes: tuple[str, ...] = field(default=())
    resample: Callable[[int], np.ndarray] | None = None
    """Fresh training items for an epoch (augmented photo patches); None: ``train`` always."""

    @property
    def item(self) -> tuple[int, ...]:
        return tuple(int(s) for s in self.train.shape[1:])


def parse_size(text: str) -> tuple[int, int]:
    """``64`` → (64, 64); ``64x48`` (width × height) → (48, 64), as (height, width)."""
    match = re.fullmatch(r"\s*(\d+)\s*(?:[x×X]\s*(\d+))?\s*", text)
    if match is None or int(match.group(1)) < 1 or (match.group(2) and int(match.group(2)) < 1):
        raise DataError(f"--size {text!r}: expected a side (64) or width x height (64x48)")
    width = int(match.group(1))
    height = int(match.group(2) or width)
    return height, width


def data_spec(
    *,
    mnist: Path | None = None,
    images: Path | None = None,
    signals: Path | None = None,
    size: str | None = None,
    channels: int | None = None,
    fit: str | None = None,
    val_fraction: float | None = None,
) -> DataSpec:
    """The :class:`DataSpec` of ``aeinfer train``'s options, or one DataError line."""
    if images is not None and signals is not None:
        raise DataError("pass --images or --signals, not both")
    if (images or signals) is not None and mnist is not None:
        raise DataError("--data-dir is the MNIST folder; with --images/--signals pass only those")
    if images is None and (size is not None or channels is not None or fit is not None):
        raise DataError("--size, --channels and --fit go with --images")
    if images is None and signals is None:
        if val_fraction is not None:
            raise DataError(
                "--val-fraction goes with --images/--signals (MNIST has its test split)"
            )
        return DataSpec(MNIST, None if mnist is None else str(mnist))
    fraction = DEFAULT_VAL_FRACTION if val_fraction is None else val_fraction
    if signals is not None:
        return DataSpec(SIGNALS, str(signals), val_fraction=fraction)
    if size is None:
        raise DataError("--images needs --size (the model's size: 64, or 64x48)")
    if fit is not None and fit not in FITS:
        raise DataError(f"--fit {fit!r}: valid: {', '.join(FITS)}")
    if channels is not None and channels not in (1, 3):
        raise DataError(f"--channels {channels}: 1 (grey) or 3 (RGB)")
    return DataSpec(
        IMAGES,
        str(images),
        parse_size(size),
        channels or DEFAULT_CHANNELS,
        fit or FITS[0],
        fraction,
    )


def spec_from_dict(data: dict[str, Any]) -> DataSpec:
    size = data.get("size")
    return DataSpec(**{**data, "size": None if size is None else tuple(size)})


def _split(count: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, held-out) indices: a seeded permutation, ``fraction`` of it held out (at least
    one when any is asked for, and at least one left to train on)."""
    order = np.random.default_rng(seed).permutation(count)
    held = 0 if fraction <= 0 else min(count - 1, max(1, round(fraction * count)))
    return np.sort(order[held:]), np.sort(order[:held])


def _folder_files(folder: Path, suffixes: frozenset[str], what: str) -> list[Path]:
    from aeinfer.inputs import walk

    if not folder.is_dir():
        raise DataError(f"{folder}: no such folder of {what}")
    files = [file for file, _ in walk(folder, suffixes)]
    if len(files) < 2:
        raise DataError(f"{folder}: found {len(files)} {what} file(s); training needs at least 2")
    return files


def _unreadable(problems: list[str], folder: Path) -> None:
    if problems:
        shown = "; ".join(problems[:3]) + (
            f"; and {len(problems) - 3} more" if len(problems) > 3 else ""
        )
        raise DataError(f"{folder}: {len(problems)} file(s) could not be read: {shown}")


def _held_out(files: list[Path], indices: np.ndarray, folder: Path) -> tuple[str, ...]:
    return tuple(str(files[i].relative_to(folder)) for i in indices)


def _image_folder(spec: DataSpec, folder: Path) -> Dataset:
    from aeinfer.adapters.image import ImageParams, frame
    from aeinfer.pictures import IMAGE_SUFFIXES, read_picture

    assert spec.size is not None and spec.channels is not None
    files = _folder_files(folder, IMAGE_SUFFIXES, "image")
    params = ImageParams(fit=spec.fit)
    items, problems = [], []
    for file in files:
        try:
            items.append(frame(read_picture(file), spec.channels, spec.size, params)[0][0])
        except AeinferError as exc:
            problems.append(str(exc))
    _unreadable(problems, folder)
    stack = np.stack(items)
    train, val = _split(len(files), spec.val_fraction, spec.seed)
    height, width = spec.size
    colour = "RGB" if spec.channels == 3 else "grey"
    return Dataset(
        train=stack[train],
        val=stack[val] if len(val) else stack[train[:1]],
        modality=IMAGE,
        channels=("R", "G", "B") if spec.channels == 3 else ("L",),
        value_range=(0.0, 1.0),
        preparation={"adapter": "image", "version": 1, "params": {"fit": spec.fit, "paper": [1.0]}},
        description=f"{len(train)} images from {folder} ({spec.fit} to {width}×{height}, {colour})",
        held_out_description=f"{len(val)} images from {folder}, split by file (seed {spec.seed})",
        held_out=_held_out(files, val, folder),
    )


def _signal_folder(spec: DataSpec, folder: Path) -> Dataset:
    from aeinfer.signals import SIGNAL_SUFFIXES, read_signal

    files = _folder_files(folder, SIGNAL_SUFFIXES, "signal")
    batches, problems = [], []
    for file in files:
        try:
            batches.append(read_signal(file).batch())
        except AeinferError as exc:
            problems.append(str(exc))
    _unreadable(problems, folder)
    shapes = sorted({b.shape[1:] for b in batches})
    if len(shapes) > 1:
        raise DataError(
            f"{folder}: signals must share one (channels, time) shape to train one model; found "
            + ", ".join(str(s) for s in shapes[:5])
        )
    train_files, val_files = _split(len(files), spec.val_fraction, spec.seed)
    train = np.concatenate([batches[i] for i in train_files])
    val = np.concatenate([batches[i] for i in val_files]) if len(val_files) else train[:1]
    mean = train.mean(axis=(0, 2))
    std = np.maximum(train.std(axis=(0, 2)), STD_FLOOR)
    channels, length = shapes[0]
    return Dataset(
        train=train.astype(np.float32),
        val=val.astype(np.float32),
        modality=SIGNAL,
        channels=tuple(f"c{i}" for i in range(channels)),
        value_range=None,
        preparation={"adapter": "signal", "version": 1, "params": {}},
        description=f"{len(train)} signals ({channels} channels × {length}) from "
        f"{len(train_files)} files in {folder}",
        held_out_description=f"{len(val)} signals from {len(val_files)} files in {folder}, "
        f"split by file (seed {spec.seed})",
        held_out=_held_out(files, val_files, folder),
        normalization={"mean": [float(v) for v in mean], "std": [float(v) for v in std]},
    )


def _mnist(spec: DataSpec, location: Path | None) -> Dataset:
    from aeinfer.adapters.mnist_digit import DigitParams

    directory = location or (None if spec.path is None else Path(spec.path))
    train = load_split("train", directory).images
    test = load_split("test", directory).images
    return Dataset(
        train=(train[:, None].astype(np.float32) / UINT8_MAX),
        val=(test[:, None].astype(np.float32) / UINT8_MAX),
        modality=IMAGE,
        channels=("L",),
        value_range=(0.0, 1.0),
        preparation={"adapter": "mnist_digit", "version": 1, "params": asdict(DigitParams())},
        description=TRAINING_DATA,
        held_out_description=MNIST_HELD_OUT,
    )


def _photos(spec: DataSpec, location: Path | None) -> Dataset:
    """Natural photographs (:mod:`aeinfer.train.photos`): augmented patches of the training
    photos, drawn afresh each epoch; fixed patches of the held-out photos for validation."""
    from aeinfer.train import photos

    if location is not None:
        folder = location
    else:
        folder = Path(spec.path) if spec.path else photos.default_dir()
    patch = spec.size[0] if spec.size else PHOTO_PATCH
    train_names = tuple(n for n in photos.PHOTOS if n not in photos.TEST_PHOTOS)
    sampler = photos.PatchSampler.of(
        photos.load(folder, train_names), patch, PHOTO_PATCHES_PER_EPOCH, spec.seed
    )
    held_out = photos.validation_patches(photos.load(folder, photos.TEST_PHOTOS), patch)
    return Dataset(
        train=sampler.epoch(0),
        val=held_out,
        modality=IMAGE,
        channels=("R", "G", "B"),
        value_range=(0.0, 1.0),
        # The sampler draws every patch under one of the 8 flips and rotations: the served model
        # may average over them (aeinfer.ensemble).
        preparation={"adapter": "tiles", "version": 1, "params": {"dihedral": True}},
        description=f"{len(train_names)} photographs from the sample data of "
        f"{', '.join(photos.WHEELS)} and the source archive of "
        f"{', '.join(f'{project}=={version}' for project, version, _ in photos.SDISTS)}: "
        f"{', '.join(train_names)}; {PHOTO_PATCHES_PER_EPOCH} "
        f"augmented {patch}×{patch} patches drawn afresh each epoch (seed {spec.seed})",
        held_out_description=f"{len(held_out)} patches of the held-out photos "
        f"{', '.join(photos.TEST_PHOTOS)}",
        held_out=photos.TEST_PHOTOS,
        resample=sampler.epoch,
    )


def load_dataset(spec: DataSpec, location: Path | None = None) -> Dataset:
    """The :class:`Dataset` ``spec`` names; ``location`` overrides where its files are now."""
    if spec.kind not in KINDS:
        raise DataError(f"unknown data kind {spec.kind!r}; valid: {', '.join(KINDS)}")
    if spec.kind == MNIST:
        return _mnist(spec, location)
    if spec.kind == PHOTOS:
        return _photos(spec, location)
    folder = location or Path(spec.path or ".")
    return _image_folder(spec, folder) if spec.kind == IMAGES else _signal_folder(spec, folder)


def normalized(items: np.ndarray, normalization: dict[str, list[float]] | None) -> np.ndarray:
    """Items in the units a model trains in: per-channel (x − mean) / std, if any."""
    if normalization is None:
        return items
    shape = (1, -1) + (1,) * (items.ndim - 2)
    mean = np.asarray(normalization["mean"], np.float32).reshape(shape)
    std = np.asarray(normalization["std"], np.float32).reshape(shape)
    return ((items - mean) / std).astype(np.float32)


def _content_ok(path: Path, expected_md5: str) -> bool:
    """Whether a local copy is intact; a corrupt one is simply fetched again."""
    try:
        verify_content(path, expected_md5)
    except DataError:
        return False
    return True


Fetch = Callable[[str], bytes]


def _http_get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as response:
        return bytes(response.read())


def download(
    data_dir: Path | None = None,
    mirrors: tuple[str, ...] = MNIST_MIRRORS,
    fetch: Fetch = _http_get,
    on_file: Callable[[str], None] | None = None,
) -> Path:
    """Fetch the four MNIST files into the data directory, verifying decompressed content.

    Files already present and valid are kept. Each file is written atomically, only after its
    content checks out; a mirror that fails or serves wrong bytes is skipped for the next one.
    """
    directory = resolve_data_dir(data_dir)
    directory.mkdir(parents=True, exist_ok=True)
    for name, md5 in MNIST_FILES.items():
        target = directory / name
        if target.is_file() and _content_ok(target, md5):
            continue
        if on_file is not None:
            on_file(name)
        problems: list[str] = []
        for mirror in mirrors:
            try:
                payload = fetch(mirror + name)
            except (urllib.error.URLError, OSError, TimeoutError) as exc:
                problems.append(f"{mirror}: {exc}")
                continue
            fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")
            tmp = Path(tmp_name)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(payload)
                verify_content(tmp, md5)
                os.replace(tmp, target)
            except DataError as exc:
                problems.append(f"{mirror}: {exc}")
                continue
            except OSError as exc:
                raise DataError(f"{target}: cannot write ({exc.strerror})") from exc
            finally:
                tmp.unlink(missing_ok=True)  # gone already after a successful replace
            break
        else:
            raise DataError(f"{name}: no mirror served valid content ({'; '.join(problems)})")
    return directory


__all__ = [
    "DATA_DIR_ENV",
    "IMAGE_PIXELS",
    "IMAGE_SIZE",
    "MNIST_FILES",
    "MNIST_MIRRORS",
    "SPLIT_FILES",
    "DataSpec",
    "Dataset",
    "Split",
    "data_spec",
    "default_cache_dir",
    "download",
    "load_dataset",
    "load_split",
    "normalized",
    "parse_idx",
    "parse_size",
    "read_idx",
    "resolve_data_dir",
    "spec_from_dict",
    "verify_content",
]
