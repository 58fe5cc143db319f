"""The free-size family (the photo denoiser), smoke-trained and exported, and the bundled model.

The family's own data are photographs from packages on the index, which tests never fetch: it is
smoke-trained on MNIST (it takes any image shape) and exported as a free-size model, served by
the ``tiles`` adapter at any resolution. The bundled ``photo`` model is checked against its card.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import aeinfer
from aeinfer.card import read_card
from aeinfer.train.registry import FAMILIES
from aeinfer.zoo import MODELS_DIR

FREE = [name for name, f in FAMILIES.items() if getattr(f, "FREE_AXES", ())]


def test_the_registry_has_a_free_size_family() -> None:
    assert FREE == ["photo"]


@pytest.mark.parametrize("family", FREE)
def test_smoke_export_is_a_free_size_tiled_model(
    family: str, smoke: Callable, tmp_path: Path
) -> None:
    model_dir = smoke(family).model_dir
    card = read_card(model_dir)
    assert card.data.describe() == "(N, 1, H%2, W%2)" and card.data.free_axes == ("height", "width")
    assert card.preparation.adapter == "tiles"
    assert card.preparation.params["margin"] > 0  # the receptive radius, measured at export
    assert "denoise" in card.tasks
    assert max(card.provenance["export"]["parity_max_abs_diff"].values()) < 1e-3
    model = aeinfer.load(model_dir)
    # Any size in, the same size out, tiles or not; an odd size is padded and cropped back.
    for size in ((28, 28), (61, 37)):
        picture = Image.fromarray(np.random.default_rng(0).integers(0, 256, size[::-1], np.uint8))
        out = model.denoise(picture)
        assert out.size == size and out.mode == "L"
    # Tensors of any even size go straight through the graphs.
    x = np.random.default_rng(1).random((2, 1, 32, 48), dtype=np.float32)
    assert model.reconstruct(x).shape == (2, 1, 32, 48)


def test_bundled_photo_model_denoises_colour_at_its_own_size() -> None:
    card = read_card(MODELS_DIR / "photo")
    assert card.data.describe() == "(N, 3, H%2, W%2)" and card.preparation.adapter == "tiles"
    model = aeinfer.load("photo")
    rng = np.random.default_rng(0)
    ys, xs = np.mgrid[0:90, 0:130]
    clean = np.stack([ys / 90, xs / 130, 0.5 + 0 * ys], -1)  # smooth colour ramps
    noisy = np.clip(clean + rng.normal(0, 25 / 255, clean.shape), 0, 1)
    out = np.asarray(model.denoise(Image.fromarray((noisy * 255).round().astype(np.uint8))))
    assert out.shape == (90, 130, 3)
    error_in = np.sqrt(np.mean((noisy - clean) ** 2))
    error_out = np.sqrt(np.mean((out / 255 - clean) ** 2))
    assert error_out < 0.5 * error_in  # the noise is mostly gone, the colours kept


def _pin_written(directory: Path, files: dict[str, bytes], monkeypatch: pytest.MonkeyPatch) -> None:
    """Write ``files`` (named as in the pinned set) into ``directory`` and pin them, in place of
    the real photos, to their own sha256: the photo set's reading and checking without fetching."""
    import hashlib

    from aeinfer.train import photos

    for name, data in files.items():
        (directory / name).write_bytes(data)
    pinned = {
        name: (photos.PHOTOS[name][0], hashlib.sha256(data).hexdigest())
        for name, data in files.items()
    }
    monkeypatch.setattr(photos, "PHOTOS", pinned)


def test_the_photo_set_reads_scipy_face_and_caps_large_photos(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without fetching: scipy's ``face.dat`` (bz2 of raw pixels) reads as an RGB photo, a
    photo's bytes are checked against the pinned sha256, and a photo larger than AREA_CAP is
    drawn from no more often than one of the cap's size."""
    import bz2

    from aeinfer.errors import DataError
    from aeinfer.train import photos

    pixels = np.random.default_rng(0).integers(0, 256, photos.FACE_SHAPE, dtype=np.uint8)
    data = bz2.compress(pixels.tobytes())
    _pin_written(tmp_path, {"face.dat": data}, monkeypatch)
    (face,) = photos.load(tmp_path, ("face.dat",))
    assert face.shape == photos.FACE_SHAPE and face.dtype == np.float32
    np.testing.assert_array_equal((face * 255).round().astype(np.uint8), pixels)
    (tmp_path / "face.dat").write_bytes(data[:-1])
    with pytest.raises(DataError, match=r"missing or altered: face\.dat"):
        photos.load(tmp_path, ("face.dat",))

    side = int(np.sqrt(photos.AREA_CAP))
    small = np.zeros((side, side, 3), np.float32)  # at the cap: black
    large = np.ones((3 * side, 3 * side, 3), np.float32)  # 9× the cap: white
    sampler = photos.PatchSampler([[small], [large]], patch=8, count=4000, seed=0)
    share_large = float((sampler.epoch(0).mean(axis=(1, 2, 3)) > 0.5).mean())
    assert 0.45 < share_large < 0.55  # in proportion to area it would be 0.9


def test_the_photo_set_reads_pywavelets_npz_and_jpeg_2000(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without fetching: PyWavelets' grey ``.npz`` arrays come back as three equal channels,
    glymur's JPEG 2000 files decode through Pillow (lossless here, so exactly), and a file whose
    bytes differ from the pin is refused."""
    import io

    from aeinfer.errors import DataError
    from aeinfer.train import photos

    rng = np.random.default_rng(1)
    grey = rng.integers(0, 256, (24, 40), dtype=np.uint8)
    npz = io.BytesIO()
    np.savez(npz, data=grey)
    colour = rng.integers(0, 256, (20, 32, 3), dtype=np.uint8)
    jp2 = io.BytesIO()
    Image.fromarray(colour).save(jp2, format="JPEG2000", irreversible=False)
    # Both names are in the real pinned set (a KeyError otherwise).
    files = {"aero.npz": npz.getvalue(), "goodstuff.j2k": jp2.getvalue()}
    _pin_written(tmp_path, files, monkeypatch)

    aero, beer = photos.load(tmp_path, ("aero.npz", "goodstuff.j2k"))
    assert aero.shape == (24, 40, 3) and aero.dtype == np.float32
    for channel in range(3):
        np.testing.assert_array_equal((aero[..., channel] * 255).round().astype(np.uint8), grey)
    assert beer.shape == (20, 32, 3)
    np.testing.assert_array_equal((beer * 255).round().astype(np.uint8), colour)

    np.savez(tmp_path / "aero.npz", data=grey[::-1])
    with pytest.raises(DataError, match=r"missing or altered: aero\.npz"):
        photos.load(tmp_path, ("aero.npz",))


def test_photos_of_a_source_archive_come_from_the_index_checked_by_sha256(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without network: OpenCV's photos are in its source archive only, read from the package
    index (``PIP_INDEX_URL`` where set) through its JSON simple API, without pip, when only they
    are missing; the archive and each photo are checked against their pins, and nothing is
    written from an archive that fails its check."""
    import hashlib
    import io
    import json
    import tarfile
    import urllib.error
    import urllib.request

    from aeinfer.errors import DataError
    from aeinfer.train import photos

    photo = b"the baboon's bytes"
    inner = f"{photos.OPENCV_DATA}/baboon.jpg"
    packed = io.BytesIO()
    with tarfile.open(fileobj=packed, mode="w:gz") as archive:
        for name, data in ((inner, photo), (f"{photos.OPENCV_DATA}/lena.jpg", b"not taken")):
            member = tarfile.TarInfo(name)
            member.size = len(data)
            archive.addfile(member, io.BytesIO(data))
    archive_bytes = packed.getvalue()
    sha = hashlib.sha256
    monkeypatch.setattr(photos, "PHOTOS", {"baboon.jpg": (inner, sha(photo).hexdigest())})
    pin = ("opencv-python", "4.10.0.84", sha(archive_bytes).hexdigest())
    monkeypatch.setattr(photos, "SDISTS", (pin,))
    monkeypatch.setenv("PIP_INDEX_URL", "https://mirror.example/simple/")

    def no_pip(command: list[str], **_: object) -> None:
        raise AssertionError(f"pip was run: {command}")

    monkeypatch.setattr(photos.subprocess, "run", no_pip)
    asked: list[str] = []
    served = {"files": [{"filename": "opencv-python-4.10.0.84.tar.gz", "url": "../../f/cv.tgz"}]}

    def index(request: urllib.request.Request | str, timeout: float) -> io.BytesIO:
        url = request if isinstance(request, str) else request.full_url
        asked.append(url)
        if url.endswith("/simple/opencv-python/"):
            assert isinstance(request, urllib.request.Request)
            assert request.get_header("Accept") == "application/vnd.pypi.simple.v1+json"
            return io.BytesIO(json.dumps(served).encode())
        return io.BytesIO(archive_bytes)

    monkeypatch.setattr(photos.urllib.request, "urlopen", index)
    target = tmp_path / "photos"
    steps: list[str] = []
    assert photos.fetch(target, steps.append) == target
    assert (target / "baboon.jpg").read_bytes() == photo and len(list(target.iterdir())) == 1
    assert asked == [
        "https://mirror.example/simple/opencv-python/",
        "https://mirror.example/f/cv.tgz",
    ]
    assert steps == ["download opencv-python-4.10.0.84.tar.gz from https://mirror.example/simple"]
    photos.fetch(target)
    assert len(asked) == 2  # a whole set is not fetched again

    (target / "baboon.jpg").unlink()
    monkeypatch.setattr(photos, "SDISTS", ((*pin[:2], "0" * 64),))
    with pytest.raises(DataError, match=r"opencv-python-4\.10\.0\.84\.tar\.gz: sha256 differs"):
        photos.fetch(target)
    assert list(target.iterdir()) == []

    served["files"] = []
    with pytest.raises(DataError, match=r"tar\.gz is not on the index"):
        photos.fetch(target)

    def offline(request: object, timeout: float) -> None:
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(photos.urllib.request, "urlopen", offline)
    with pytest.raises(DataError, match=r"cannot download opencv-python.*no route to host"):
        photos.fetch(target)
    assert list(target.iterdir()) == []


def test_int8_calibrates_on_noisy_patches_like_those_it_serves() -> None:
    """The photo family's calibration items are noisy 8-bit patches, repeatably drawn: clean
    ones clipped noisy photos' activations in the int8 graphs (1.80 dB lost at σ 25)."""
    from dataclasses import replace

    photo = FAMILIES["photo"]
    cfg = photo.Config(item=(3, 16, 16))
    clean = np.random.default_rng(0).uniform(0.2, 0.8, (32, 3, 16, 16)).astype(np.float32)
    first = photo.calibration_items(clean, cfg)
    assert first.shape == clean.shape
    assert np.array_equal(first, photo.calibration_items(clean, cfg))
    assert np.allclose(first * 255, np.round(first * 255), atol=1e-4)
    assert first.min() >= 0.0 and first.max() <= 1.0
    moved = np.abs(first - clean).reshape(len(clean), -1).std(axis=1)
    assert (moved > 5 / 255).mean() > 0.5  # most noisy, some clean (CALIBRATION_CLEAN_SHARE)
    # Training's clean share (raised to keep clean photos as they are) leaves calibration alone.
    assert np.array_equal(first, photo.calibration_items(clean, replace(cfg, clean_share=0.9)))


def _writer(graph, name: str):
    return next(node for node in graph.node if name in node.output)


@pytest.mark.parametrize("which", ["bundled", "smoke-trained"])
def test_int8_keeps_the_code_and_the_result_in_float(which: str, smoke: Callable) -> None:
    """The photo family's int8 recipe (``INT8_PERCENTILE``, ``INT8_FLOAT_ENDS``): ranges from a
    percentile of the calibrated values, and neither the code (which holds the noisy image
    itself) nor the decoder's last convolution rounded to 8 bits. The card says so."""
    import onnx

    photo = FAMILIES["photo"]
    card = read_card(MODELS_DIR / "photo" if which == "bundled" else smoke("photo").model_dir)
    method = card.graphs["int8"].method
    assert f"percentile {photo.INT8_PERCENTILE:g}" in method
    assert "the code and the decoder's last convolution in float" in method
    encoder = onnx.load(str(card.graph_path("encoder", "int8"))).graph
    assert _writer(encoder, encoder.output[0].name).op_type == "Concat"
    decoder = onnx.load(str(card.graph_path("decoder", "int8"))).graph
    last = [node for node in decoder.node if node.op_type == "Conv"][-1]
    weights = {init.name: init for init in decoder.initializer}
    assert weights[last.input[1]].data_type == onnx.TensorProto.FLOAT
    assert _writer(decoder, decoder.output[0].name).op_type != "DequantizeLinear"
    # The other convolutions are quantized: int8 weights behind a DequantizeLinear.
    quantized = [n for n in decoder.node if n.op_type == "Conv" and n is not last]
    assert quantized and all(_writer(decoder, n.input[1]).op_type == "DequantizeLinear"
                             for n in quantized)  # fmt: skip


def test_a_share_of_noisy_patches_is_seen_through_jpeg() -> None:
    """``corrupt`` saves a ``jpeg_share`` of the patches as JPEG, as a camera does: the same
    draws give the PNG patch, and its JPEG is what the model sees; a noisy one is to become the
    clean patch, a clean one to stay the JPEG it is. Through JPEG the colour noise is no longer
    white: 4:2:0 chroma shares it across 2×2 pixels, so neighbouring colour errors correlate."""
    from dataclasses import replace

    import torch

    photo = FAMILIES["photo"]
    cfg = photo.Config(item=(3, 32, 32), clean_share=0.2, grey_share=0.0)
    x = torch.full((24, 3, 32, 32), 128 / 255)  # an 8-bit grey: clean patches stay exact

    def corrupted(share: float) -> tuple[torch.Tensor, torch.Tensor]:
        generator = torch.Generator().manual_seed(3)
        return photo.corrupt(x, replace(cfg, jpeg_share=share), generator)

    (png, png_target), (jpeg, jpeg_target) = corrupted(0.0), corrupted(1.0)
    assert torch.equal(png_target, x)
    draws = torch.rand((len(x), 6), generator=torch.Generator().manual_seed(3))
    low, high = cfg.jpeg_quality
    clean = torch.all(png == x, dim=(1, 2, 3))
    assert 0 < int(clean.sum()) < len(x)
    for i in range(len(x)):
        quality = low + int(draws[i, 5] * (high - low + 1))
        torch.testing.assert_close(jpeg[i], photo.as_jpeg(png[i], quality))
        torch.testing.assert_close(jpeg_target[i], jpeg[i] if clean[i] else x[i])

    def paired_colour_correlation(noisy: torch.Tensor) -> float:
        error = (noisy - x)[~clean]
        colour = error[:, 0] - error[:, 1]  # red minus green: the colour part of the noise
        pairs = torch.stack([colour[..., 0::2].flatten(), colour[..., 1::2].flatten()])
        return float(torch.corrcoef(pairs)[0, 1])

    assert abs(paired_colour_correlation(png)) < 0.05
    assert paired_colour_correlation(jpeg) > 0.5
