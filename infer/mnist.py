"""MNIST in its original IDX format: reading and locating the files (no network).

The IDX format (LeCun et al., http://yann.lecun.com/exdb/mnist/) is a big-endian header —
two zero bytes, a type code, the number of dimensions, one uint32 per dimension — followed by
the data. Files may be gzip-compressed or raw. This module needs only numpy and the standard
library: the runtime reads the test split for ``aeinfer scatter``, training reads both splits
(:mod:`aeinfer.train.data`, which also downloads them for users online).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aeinfer.errors import DataError

IDX_UBYTE = 0x08
IMAGE_SIZE = 28
IMAGE_PIXELS = IMAGE_SIZE * IMAGE_SIZE
DATA_DIR_ENV = "AEINFER_DATA"

# Decompressed-content MD5s of the four MNIST files (see shared/data/README.md). Compressed
# archives differ between mirrors (other gzip headers), so only the content is compared.
MNIST_FILES: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte.gz": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte.gz": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte.gz": "27ae3e4e09519cfbb04c329615203637",
}
SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


def _read_bytes(path: Path) -> bytes:
    """The decompressed bytes of an IDX file, gzip or raw (decided by content, not name)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise DataError(f"{path}: file not found") from exc
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from exc
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise DataError(f"{path}: corrupt or truncated gzip stream ({exc})") from exc
    return raw


def parse_idx(content: bytes, source: str = "<bytes>") -> np.ndarray:
    """Parse IDX bytes into a uint8 array, checking the magic number and the size."""
    if len(content) < 4:
        raise DataError(f"{source}: too short for an IDX header ({len(content)} bytes)")
    zero, dtype_code, ndim = struct.unpack(">HBB", content[:4])
    if zero != 0 or dtype_code != IDX_UBYTE or not 1 <= ndim <= 4:
        raise DataError(
            f"{source}: bad IDX magic number 0x{content[:4].hex()} (expected 0x000008 and 1-4 dims)"
        )
    header_end = 4 + 4 * ndim
    if len(content) < header_end:
        raise DataError(f"{source}: truncated IDX header")
    dims = struct.unpack(f">{ndim}I", content[4:header_end])
    expected = int(np.prod(dims, dtype=np.int64))
    payload = len(content) - header_end
    if payload != expected:
        raise DataError(
            f"{source}: IDX header promises {expected} bytes for shape {dims}, file holds {payload}"
            + (" (truncated)" if payload < expected else "")
        )
    return np.frombuffer(content, dtype=np.uint8, offset=header_end).reshape(dims)


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (.gz or raw) into a uint8 array."""
    return parse_idx(_read_bytes(path), str(path))


@dataclass(frozen=True)
class Split:
    """One MNIST split: images (N, 28, 28) uint8 and labels (N,) uint8."""

    images: np.ndarray
    labels: np.ndarray


def default_cache_dir() -> Path:
    """Per-user cache: $XDG_CACHE_HOME/aeinfer/mnist, else ~/.cache/aeinfer/mnist."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "aeinfer" / "mnist"


def resolve_data_dir(data_dir: Path | None = None) -> Path:
    """Explicit --data-dir, else $AEINFER_DATA, else the per-user cache."""
    if data_dir is not None:
        return data_dir
    env = os.environ.get(DATA_DIR_ENV)
    return Path(env) if env else default_cache_dir()


def _find(directory: Path, gz_name: str) -> Path:
    """The file for ``gz_name`` in ``directory``, gzipped or already decompressed."""
    for candidate in (directory / gz_name, directory / gz_name.removesuffix(".gz")):
        if candidate.is_file():
            return candidate
    raise DataError(
        f"{directory / gz_name}: MNIST file not found "
        f"(pass --data-dir, set {DATA_DIR_ENV}, or run `aeinfer data download`)"
    )


def load_split(split: str, data_dir: Path | None = None) -> Split:
    """Load the ``train`` or ``test`` split, checking image and label counts agree."""
    if split not in SPLIT_FILES:
        raise DataError(f"unknown split {split!r}; valid: {', '.join(SPLIT_FILES)}")
    directory = resolve_data_dir(data_dir)
    image_name, label_name = SPLIT_FILES[split]
    images = read_idx(_find(directory, image_name))
    labels = read_idx(_find(directory, label_name))
    if images.ndim != 3 or images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise DataError(f"{directory / image_name}: expected N×28×28 images, got {images.shape}")
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise DataError(
            f"{directory / label_name}: {labels.shape[0]} labels for {images.shape[0]} images"
        )
    return Split(images=images, labels=labels)


def verify_content(path: Path, expected_md5: str) -> None:
    """Check a file's decompressed content against its published MD5."""
    actual = hashlib.md5(_read_bytes(path), usedforsecurity=False).hexdigest()
    if actual != expected_md5:
        raise DataError(f"{path}: decompressed content MD5 {actual} != expected {expected_md5}")


def holds_mnist(directory: Path) -> bool:
    """Whether ``directory`` holds the MNIST test split (gzipped or not)."""
    name = SPLIT_FILES["test"][0]
    return any((directory / n).is_file() for n in (name, name.removesuffix(".gz")))
