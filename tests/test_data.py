"""Tests for aeinfer.train.data: the IDX reader, the data-dir lookup and the (offline) download."""

from __future__ import annotations

import gzip
import struct
import urllib.error
from pathlib import Path

import numpy as np
import pytest

from aeinfer.errors import DataError
from aeinfer.train import data
from aeinfer.train.data import (
    MNIST_FILES,
    load_split,
    parse_idx,
    read_idx,
    resolve_data_dir,
    verify_content,
)

MIRRORS = ("https://mirror-a.invalid/mnist/", "https://mirror-b.invalid/mnist/")


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 array as IDX: 0x0000, type 0x08, ndim, big-endian dims, data."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def random_images(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, 28, 28), dtype=np.uint8)


def dir_listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


# --- reading --------------------------------------------------------------------------------


def test_reads_real_test_split(mnist_dir: Path) -> None:
    split = load_split("test", mnist_dir)
    assert split.images.shape == (10000, 28, 28)
    assert split.images.dtype == np.uint8
    assert split.labels.shape == (10000,)
    assert split.labels.dtype == np.uint8
    assert set(np.unique(split.labels).tolist()) == set(range(10))
    assert split.images.max() == 255 and split.images.min() == 0
    # The first MNIST test digit is a 7 (a well-known fact of the dataset).
    assert int(split.labels[0]) == 7


def test_real_files_match_published_content_md5(mnist_dir: Path) -> None:
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        verify_content(mnist_dir / name, MNIST_FILES[name])


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
@pytest.mark.parametrize("shape", [(5,), (3, 28, 28), (2, 3, 4, 5)], ids=["1d", "3d", "4d"])
def test_synthetic_idx_round_trips(tmp_path: Path, compress: bool, shape: tuple[int, ...]) -> None:
    array = np.random.default_rng(1).integers(0, 256, size=shape, dtype=np.uint8)
    payload = idx_bytes(array)
    path = tmp_path / ("x.idx.gz" if compress else "x.idx")
    path.write_bytes(gzip.compress(payload) if compress else payload)
    loaded = read_idx(path)
    assert loaded.dtype == np.uint8
    np.testing.assert_array_equal(loaded, array)


def test_gzip_detected_by_content_not_name(tmp_path: Path) -> None:
    array = random_images(2)
    path = tmp_path / "no-suffix"
    path.write_bytes(gzip.compress(idx_bytes(array)))
    np.testing.assert_array_equal(read_idx(path), array)


def test_split_from_raw_and_gz_files(tmp_path: Path) -> None:
    images, labels = random_images(6), np.arange(6, dtype=np.uint8)
    # Images decompressed, labels gzipped: both forms are found under the MNIST names.
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(idx_bytes(images))
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(labels)))
    split = load_split("test", tmp_path)
    np.testing.assert_array_equal(split.images, images)
    np.testing.assert_array_equal(split.labels, labels)


def test_bad_magic_number(tmp_path: Path) -> None:
    content = bytearray(idx_bytes(random_images(2)))
    content[2] = 0x0D  # float type code: not an unsigned-byte IDX file
    path = tmp_path / "bad-magic.idx"
    path.write_bytes(bytes(content))
    with pytest.raises(DataError, match="magic") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_nonzero_leading_bytes_are_bad_magic(tmp_path: Path) -> None:
    path = tmp_path / "png.idx"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    with pytest.raises(DataError, match="magic") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_truncated_file(tmp_path: Path) -> None:
    content = idx_bytes(random_images(4))
    path = tmp_path / "short.idx"
    path.write_bytes(content[:-100])  # header promises 4×28×28 bytes, fewer are there
    with pytest.raises(DataError, match="truncated") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_trailing_garbage_rejected(tmp_path: Path) -> None:
    path = tmp_path / "long.idx"
    path.write_bytes(idx_bytes(random_images(1)) + b"extra")
    with pytest.raises(DataError) as info:
        read_idx(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("content", [b"", b"\x00\x00", b"\x00\x00\x08\x03\x00\x00"])
def test_truncated_header(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "header.idx"
    path.write_bytes(content)
    with pytest.raises(DataError) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_truncated_gzip_stream(tmp_path: Path) -> None:
    packed = gzip.compress(idx_bytes(random_images(8)))
    path = tmp_path / "cut.idx.gz"
    path.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(DataError, match="gzip") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.idx"
    with pytest.raises(DataError, match="not found") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_wrong_label_count(tmp_path: Path) -> None:
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(random_images(5))))
    labels_path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    labels_path.write_bytes(gzip.compress(idx_bytes(np.zeros(4, dtype=np.uint8))))
    with pytest.raises(DataError, match="4 labels for 5 images") as info:
        load_split("test", tmp_path)
    assert str(labels_path) in str(info.value)


def test_wrong_image_shape(tmp_path: Path) -> None:
    images_path = tmp_path / "t10k-images-idx3-ubyte.gz"
    images_path.write_bytes(gzip.compress(idx_bytes(np.zeros((3, 27, 28), dtype=np.uint8))))
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(
        gzip.compress(idx_bytes(np.zeros(3, dtype=np.uint8)))
    )
    with pytest.raises(DataError) as info:
        load_split("test", tmp_path)
    assert str(images_path) in str(info.value)


def test_missing_split_files_name_the_fixes(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        load_split("train", tmp_path)
    message = str(info.value)
    assert str(tmp_path / "train-images-idx3-ubyte.gz") in message
    assert "--data-dir" in message and data.DATA_DIR_ENV in message


def test_unknown_split(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="unknown split"):
        load_split("validation", tmp_path)


def test_parse_idx_names_its_source() -> None:
    with pytest.raises(DataError, match="somewhere"):
        parse_idx(b"\x01\x02\x03\x04", "somewhere")


# --- locating -------------------------------------------------------------------------------


def test_resolve_data_dir_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    explicit, env, cache = tmp_path / "explicit", tmp_path / "env", tmp_path / "xdg"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.setenv(data.DATA_DIR_ENV, str(env))
    assert resolve_data_dir(explicit) == explicit
    assert resolve_data_dir() == env
    monkeypatch.delenv(data.DATA_DIR_ENV)
    assert resolve_data_dir() == cache / "aeinfer" / "mnist"
    # An empty variable counts as unset.
    monkeypatch.setenv(data.DATA_DIR_ENV, "")
    assert resolve_data_dir() == cache / "aeinfer" / "mnist"


def test_default_cache_without_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert resolve_data_dir() == tmp_path / ".cache" / "aeinfer" / "mnist"


def test_load_split_uses_env_dir(
    tmp_path: Path, mnist_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(data.DATA_DIR_ENV, str(mnist_dir))
    assert load_split("test").images.shape == (10000, 28, 28)


# --- downloading (never touches the network) ------------------------------------------------


class FakeMirrors:
    """A fetch function serving per-mirror payloads, recording every URL asked for."""

    def __init__(self, mnist_dir: Path, behaviour: dict[str, str]) -> None:
        self.mnist_dir = mnist_dir
        self.behaviour = behaviour  # mirror -> "good" | "corrupt" | "error" | "truncated"
        self.calls: list[str] = []

    def __call__(self, url: str) -> bytes:
        self.calls.append(url)
        mirror, name = url.rsplit("/", 1)
        mode = self.behaviour[mirror + "/"]
        real = (self.mnist_dir / name).read_bytes()
        if mode == "good":
            return real
        if mode == "truncated":
            return real[: len(real) // 3]
        if mode == "corrupt":
            # A valid gzip stream of the wrong content: passes decompression, fails the MD5.
            return gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x01\x07")
        raise urllib.error.URLError("connection refused")


def test_download_places_verified_files(tmp_path: Path, mnist_dir: Path) -> None:
    target = tmp_path / "cache" / "mnist"
    fetch = FakeMirrors(mnist_dir, {MIRRORS[0]: "good", MIRRORS[1]: "good"})
    announced: list[str] = []
    result = download(target, fetch, on_file=announced.append)
    assert result == target
    assert dir_listing(target) == sorted(MNIST_FILES)
    for name, md5 in MNIST_FILES.items():
        verify_content(target / name, md5)
        assert (target / name).read_bytes() == (mnist_dir / name).read_bytes()
    assert announced == list(MNIST_FILES)
    # Only the first mirror was needed.
    assert fetch.calls == [MIRRORS[0] + name for name in MNIST_FILES]
    assert load_split("test", target).images.shape == (10000, 28, 28)


@pytest.mark.parametrize("first", ["corrupt", "truncated", "error"])
def test_download_skips_a_bad_mirror(tmp_path: Path, mnist_dir: Path, first: str) -> None:
    fetch = FakeMirrors(mnist_dir, {MIRRORS[0]: first, MIRRORS[1]: "good"})
    download(tmp_path, fetch)
    assert dir_listing(tmp_path) == sorted(MNIST_FILES)
    for name, md5 in MNIST_FILES.items():
        verify_content(tmp_path / name, md5)
    assert fetch.calls == [m + name for name in MNIST_FILES for m in MIRRORS]


def test_download_all_mirrors_bad(tmp_path: Path, mnist_dir: Path) -> None:
    fetch = FakeMirrors(mnist_dir, {MIRRORS[0]: "corrupt", MIRRORS[1]: "truncated"})
    with pytest.raises(DataError) as info:
        download(tmp_path, fetch)
    message = str(info.value)
    assert "train-images-idx3-ubyte.gz" in message
    assert MIRRORS[0] in message and MIRRORS[1] in message
    # Nothing written: no target file and no temporary file left behind.
    assert dir_listing(tmp_path) == []


def test_download_failure_keeps_earlier_files(tmp_path: Path, mnist_dir: Path) -> None:
    """A failure on a later file leaves the verified earlier files and no temp files."""
    good = FakeMirrors(mnist_dir, {MIRRORS[0]: "good", MIRRORS[1]: "good"})
    failing_name = list(MNIST_FILES)[2]

    def fetch(url: str) -> bytes:
        if url.endswith(failing_name):
            raise urllib.error.URLError("unreachable")
        return good(url)

    with pytest.raises(DataError, match=failing_name):
        download(tmp_path, fetch)
    assert dir_listing(tmp_path) == sorted(list(MNIST_FILES)[:2])


def test_download_keeps_valid_files(tmp_path: Path, mnist_dir: Path) -> None:
    fetch = FakeMirrors(mnist_dir, {MIRRORS[0]: "good", MIRRORS[1]: "good"})
    download(tmp_path, fetch)
    before = {name: (tmp_path / name).stat().st_mtime_ns for name in MNIST_FILES}

    def no_network(url: str) -> bytes:
        raise AssertionError(f"fetched {url} although the local copy is valid")

    download(tmp_path, no_network)
    assert {name: (tmp_path / name).stat().st_mtime_ns for name in MNIST_FILES} == before


def test_download_replaces_a_corrupt_local_file(tmp_path: Path, mnist_dir: Path) -> None:
    for name in MNIST_FILES:
        (tmp_path / name).write_bytes((mnist_dir / name).read_bytes())
    broken = "t10k-labels-idx1-ubyte.gz"
    (tmp_path / broken).write_bytes(b"not gzip at all")
    fetch = FakeMirrors(mnist_dir, {MIRRORS[0]: "good", MIRRORS[1]: "good"})
    download(tmp_path, fetch)
    assert fetch.calls == [MIRRORS[0] + broken]
    verify_content(tmp_path / broken, MNIST_FILES[broken])
    assert dir_listing(tmp_path) == sorted(MNIST_FILES)


def test_download_uses_resolved_dir(
    tmp_path: Path, mnist_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path / "from-env"))
    fetch = FakeMirrors(mnist_dir, {MIRRORS[0]: "good", MIRRORS[1]: "good"})
    assert data.download(mirrors=MIRRORS, fetch=fetch) == tmp_path / "from-env"
    assert dir_listing(tmp_path / "from-env") == sorted(MNIST_FILES)


def download(target: Path, fetch: FakeMirrors | object, **kwargs: object) -> Path:
    return data.download(target, mirrors=MIRRORS, fetch=fetch, **kwargs)  # type: ignore[arg-type]
