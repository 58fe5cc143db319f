"""aeinfer.train.data: the IDX reader, the data-dir lookup, the (offline) download, the data
spec the training options make, and datasets read from folders of images and signals."""

from __future__ import annotations

import gzip
import json
import struct
import urllib.error
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from aeinfer.adapters.image import ImageParams, frame
from aeinfer.card import IMAGE, SIGNAL
from aeinfer.errors import DataError
from aeinfer.pictures import read_picture
from aeinfer.train import data
from aeinfer.train.data import (
    DEFAULT_VAL_FRACTION,
    IMAGES,
    MNIST,
    MNIST_FILES,
    SIGNALS,
    DataSpec,
    data_spec,
    load_dataset,
    load_split,
    normalized,
    parse_idx,
    parse_size,
    read_idx,
    resolve_data_dir,
    spec_from_dict,
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


# --- the data spec of `aeinfer train`'s options ---------------------------------------------

FOLDER = object()
"""Stands for tmp_path in parametrized options."""


def test_data_spec_defaults_to_mnist(tmp_path: Path) -> None:
    assert data_spec() == DataSpec(MNIST, None)
    assert data_spec(mnist=tmp_path) == DataSpec(MNIST, str(tmp_path))


def test_data_spec_of_folders(tmp_path: Path) -> None:
    images = data_spec(images=tmp_path, size="64x48")
    assert images == DataSpec(IMAGES, str(tmp_path), (48, 64), 3, "stretch", DEFAULT_VAL_FRACTION)
    grey = data_spec(images=tmp_path, size="32", channels=1, fit="letterbox", val_fraction=0.25)
    assert grey == DataSpec(IMAGES, str(tmp_path), (32, 32), 1, "letterbox", 0.25)
    signals = data_spec(signals=tmp_path, val_fraction=0.5)
    assert signals == DataSpec(SIGNALS, str(tmp_path), val_fraction=0.5)
    # A spec goes into the checkpoint (and a card) as plain data and comes back equal.
    for spec in (images, grey, signals, data_spec(), data_spec(mnist=tmp_path)):
        assert spec_from_dict(asdict(spec)) == spec
        assert spec_from_dict(json.loads(json.dumps(asdict(spec)))) == spec


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"images": FOLDER, "signals": FOLDER}, "not both"),
        ({"images": FOLDER, "mnist": FOLDER, "size": "8"}, "--data-dir is the MNIST folder"),
        ({"signals": FOLDER, "mnist": FOLDER}, "--data-dir is the MNIST folder"),
        ({"size": "8"}, "go with --images"),
        ({"signals": FOLDER, "channels": 1}, "go with --images"),
        ({"mnist": FOLDER, "fit": "letterbox"}, "go with --images"),
        ({"val_fraction": 0.2}, "--val-fraction goes with"),
        ({"images": FOLDER}, "--images needs --size"),
        ({"images": FOLDER, "size": "8", "fit": "crop"}, "--fit 'crop'"),
        ({"images": FOLDER, "size": "8", "channels": 2}, "--channels 2"),
        ({"images": FOLDER, "size": "8x"}, "--size '8x'"),
    ],
    ids=[
        "images-and-signals",
        "images-and-mnist",
        "signals-and-mnist",
        "size-alone",
        "channels-with-signals",
        "fit-with-mnist",
        "val-fraction-with-mnist",
        "images-without-size",
        "unknown-fit",
        "two-channels",
        "bad-size",
    ],
)
def test_data_spec_refuses_in_one_line(
    tmp_path: Path, options: dict[str, object], match: str
) -> None:
    kwargs = {key: tmp_path if value is FOLDER else value for key, value in options.items()}
    with pytest.raises(DataError, match=match) as info:
        data_spec(**kwargs)  # type: ignore[arg-type]
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("text", "size"),
    [("64", (64, 64)), ("64x48", (48, 64)), (" 64 × 48 ", (48, 64)), ("7X3", (3, 7))],
)
def test_parse_size(text: str, size: tuple[int, int]) -> None:
    """One side, or width x height; the result is (height, width)."""
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "0", "64x0", "abc", "64x", "-3", "1.5", "x48", "2x3x4"])
def test_parse_size_refuses(text: str) -> None:
    with pytest.raises(DataError, match="--size") as info:
        parse_size(text)
    assert "\n" not in str(info.value) and repr(text) in str(info.value)


# --- datasets from folders --------------------------------------------------------------------


def write_pictures(folder: Path) -> list[Path]:
    """Ten distinct pictures of two sizes, grey and RGB, one in a subfolder."""
    rng = np.random.default_rng(5)
    (folder / "sub").mkdir(parents=True)
    files = []
    for i in range(10):
        size = (14, 10) if i % 2 else (9, 13)  # (width, height) as PIL counts
        if i % 3:
            pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
            image = Image.fromarray(pixels, "RGB")
        else:
            image = Image.fromarray(rng.integers(0, 256, size[::-1], dtype=np.uint8), "L")
        path = folder / ("sub" if i == 4 else "") / f"pic{i}.png"
        image.save(path)
        files.append(path)
    return files


def write_signals(folder: Path) -> dict[str, np.ndarray]:
    """Signal files of one (2, 64) shape: two .npy, a .csv (rows are time steps) and a batch
    .npy of three; returns each file's items (N, 2, 64)."""
    rng = np.random.default_rng(6)
    folder.mkdir(parents=True)
    items = {
        "a.npy": rng.normal(3.0, 2.0, (1, 2, 64)),
        "b.npy": rng.normal(-1.0, 0.5, (1, 2, 64)),
        "batch.npy": rng.normal(0.0, 1.0, (3, 2, 64)),
        "c.csv": rng.normal(5.0, 1.0, (1, 2, 64)),
    }
    items = {name: values.astype(np.float32) for name, values in items.items()}
    for name, values in items.items():
        if name.endswith(".csv"):
            np.savetxt(folder / name, values[0].T, delimiter=",", fmt="%.9g")
        else:
            np.save(folder / name, values[0] if len(values) == 1 else values)
    return items


def test_image_folder_is_framed_as_served_and_split_by_file(tmp_path: Path) -> None:
    files = write_pictures(tmp_path / "pics")
    spec = DataSpec(IMAGES, str(tmp_path / "pics"), (12, 16), 3, "letterbox", 0.3, seed=2)
    dataset = load_dataset(spec)
    assert dataset.train.shape == (7, 3, 12, 16) and dataset.val.shape == (3, 3, 12, 16)
    assert dataset.train.dtype == np.float32 and dataset.item == (3, 12, 16)
    assert dataset.modality == IMAGE and dataset.channels == ("R", "G", "B")
    assert dataset.value_range == (0.0, 1.0)
    assert dataset.preparation["adapter"] == "image"
    assert dataset.preparation["params"]["fit"] == "letterbox"
    names = {str(p.relative_to(tmp_path / "pics")): p for p in files}
    assert len(dataset.held_out) == 3 and set(dataset.held_out) <= set(names)
    assert "sub/pic4.png" in names
    # Every item is the runtime's own framing of its file; held-out files are never trained on.
    framed = {
        name: frame(read_picture(path), 3, (12, 16), ImageParams(fit="letterbox"))[0][0]
        for name, path in names.items()
    }
    trained = sorted(set(names) - set(dataset.held_out), key=lambda n: Path(n).parts)
    for item, name in zip(dataset.train, trained, strict=True):
        np.testing.assert_array_equal(item, framed[name])
    for item, name in zip(dataset.val, dataset.held_out, strict=True):
        np.testing.assert_array_equal(item, framed[name])
    # The split is seeded: the same seed gives the same files, another seed others.
    assert load_dataset(spec).held_out == dataset.held_out
    other = load_dataset(DataSpec(IMAGES, spec.path, (12, 16), 3, "letterbox", 0.3, seed=3))
    assert other.held_out != dataset.held_out
    # Grey: one channel, the same files.
    grey = load_dataset(DataSpec(IMAGES, spec.path, (12, 16), 1, seed=2, val_fraction=0.3))
    assert grey.item == (1, 12, 16) and grey.channels == ("L",)
    assert grey.held_out == dataset.held_out


def test_signal_folder_is_split_by_file_and_normalised_on_training_files(tmp_path: Path) -> None:
    items = write_signals(tmp_path / "sig")
    spec = DataSpec(SIGNALS, str(tmp_path / "sig"), val_fraction=0.25, seed=0)
    dataset = load_dataset(spec)
    assert dataset.modality == SIGNAL and dataset.item == (2, 64)
    assert dataset.channels == ("c0", "c1") and dataset.value_range is None
    assert dataset.preparation["adapter"] == "signal"
    assert len(dataset.held_out) == 1 and dataset.held_out[0] in items
    held = dataset.held_out[0]
    trained = [name for name in sorted(items) if name != held]
    train_values = np.concatenate([items[name] for name in trained])
    np.testing.assert_allclose(dataset.train, train_values, rtol=1e-6)
    np.testing.assert_allclose(dataset.val, items[held], rtol=1e-6)
    assert len(dataset.train) + len(dataset.val) == 6  # the batch file gives three items
    # The normalisation comes from the training files alone.
    norm = dataset.normalization
    assert norm is not None
    np.testing.assert_allclose(norm["mean"], train_values.mean(axis=(0, 2)), rtol=1e-5)
    np.testing.assert_allclose(norm["std"], train_values.std(axis=(0, 2)), rtol=1e-5)
    scaled = normalized(dataset.train, norm)
    np.testing.assert_allclose(scaled.mean(axis=(0, 2)), 0.0, atol=1e-5)
    np.testing.assert_allclose(scaled.std(axis=(0, 2)), 1.0, atol=1e-5)
    assert scaled.dtype == np.float32
    assert normalized(dataset.train, None) is dataset.train


def test_mnist_dataset_and_its_location(mnist_dir: Path) -> None:
    moved = DataSpec(MNIST, "/no/longer/here")
    dataset = load_dataset(moved, mnist_dir)
    assert dataset.train.shape == (60000, 1, 28, 28) and dataset.val.shape == (10000, 1, 28, 28)
    assert dataset.train.dtype == np.float32
    assert float(dataset.val.max()) == 1.0 and float(dataset.val.min()) == 0.0
    assert dataset.preparation["adapter"] == "mnist_digit" and dataset.held_out == ()
    assert dataset.normalization is None and dataset.value_range == (0.0, 1.0)


def test_load_dataset_refuses_a_missing_folder(tmp_path: Path) -> None:
    for kind, what in ((IMAGES, "image"), (SIGNALS, "signal")):
        spec = DataSpec(kind, str(tmp_path / "absent"), (8, 8) if kind == IMAGES else None, 1)
        with pytest.raises(DataError, match=f"no such folder of {what}") as info:
            load_dataset(spec)
        assert str(tmp_path / "absent") in str(info.value) and "\n" not in str(info.value)


def test_load_dataset_needs_two_files(tmp_path: Path) -> None:
    folder = tmp_path / "one"
    folder.mkdir()
    Image.new("L", (5, 5)).save(folder / "only.png")
    (folder / "notes.txt").write_text("not a picture")
    with pytest.raises(DataError, match=r"found 1 image file\(s\); training needs at least 2"):
        load_dataset(DataSpec(IMAGES, str(folder), (8, 8), 1))
    np.save(folder / "x.npy", np.zeros((2, 8)))
    with pytest.raises(DataError, match=r"found 1 signal file\(s\)"):
        load_dataset(DataSpec(SIGNALS, str(folder)))


def test_load_dataset_lists_unreadable_files(tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    for i in range(2):
        Image.new("RGB", (6, 6), (i, 0, 0)).save(folder / f"good{i}.png")
    broken = [f"broken{i}.png" for i in range(4)]
    for name in broken:
        (folder / name).write_bytes(b"not a png at all")
    with pytest.raises(DataError) as info:
        load_dataset(DataSpec(IMAGES, str(folder), (8, 8), 3))
    message = str(info.value)
    assert "\n" not in message
    assert "4 file(s) could not be read" in message and "and 1 more" in message
    assert sum(name in message for name in broken) == 3
    assert "good0.png" not in message


def test_load_dataset_refuses_signals_of_different_shapes(tmp_path: Path) -> None:
    folder = tmp_path / "sig"
    folder.mkdir()
    np.save(folder / "a.npy", np.zeros((2, 64), np.float32))
    np.save(folder / "b.npy", np.zeros((3, 2, 64), np.float32))
    np.save(folder / "c.npy", np.zeros((3, 64), np.float32))
    with pytest.raises(DataError, match="share one") as info:
        load_dataset(DataSpec(SIGNALS, str(folder)))
    message = str(info.value)
    assert "(2, 64)" in message and "(3, 64)" in message and "\n" not in message
    (folder / "c.npy").unlink()
    (folder / "d.npy").write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(DataError, match="1 file") as info:
        load_dataset(DataSpec(SIGNALS, str(folder)))
    assert "d.npy" in str(info.value)


def test_load_dataset_refuses_an_unknown_kind(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="unknown data kind 'audio'"):
        load_dataset(DataSpec("audio", str(tmp_path)))
