"""Tests for the preparation adapters (aeinfer.adapters): parameters from the card, the MNIST
fit, fixed-size images, free-size images in seamless tiles, and signals.

Cards are built as JSON and parsed (no graphs are needed to prepare and restore), and models
are plain numpy functions, so nothing here runs ONNX Runtime.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import HEIGHT, WIDTH, dark_on_light, ink_mask, photo_rgb, u8
from PIL import Image

from aeinfer import progress
from aeinfer.adapters import ADAPTERS, adapter_for
from aeinfer.adapters import image as image_module
from aeinfer.adapters.image import ImageAdapter
from aeinfer.adapters.mnist_digit import DigitParams, MnistDigit, _median
from aeinfer.adapters.signal import SignalAdapter
from aeinfer.adapters.tiles import Tiles
from aeinfer.card import Card, parse_card, read_card
from aeinfer.card_v1 import MNIST_DIGIT_PARAMS
from aeinfer.errors import InputError, ModelIntegrityError
from aeinfer.pictures import LUMA, Picture, luma, read_picture
from aeinfer.signals import read_signal, signal_bytes

MODELS = Path(__file__).resolve().parents[1] / "infer" / "models"
WHITE = (1.0, 1.0, 1.0)


# ------------------------------------------------------------------------------------ cards


def axis(name: str, size: int | None, **extra: int) -> dict[str, Any]:
    return {"name": name, "size": size, **extra}


def tensor(name: str, axes: list[dict[str, Any]]) -> dict[str, Any]:
    return {"name": name, "dtype": "float32", "axes": [axis("batch", None), *axes]}


def card_json(
    modality: str,
    item: list[dict[str, Any]],
    latent: list[dict[str, Any]],
    adapter: str,
    params: dict[str, Any],
    *,
    channel_names: list[str],
    value_range: list[float] | None = None,
    version: int = 1,
) -> dict[str, Any]:
    """A format-2 card: one graph pair taking the item as it is, a deterministic latent."""
    graph = {"sha256": "0" * 64, "bytes": 0}
    return {
        "format_version": 2,
        "name": "toy",
        "family": "custom",
        "description": "made by a test",
        "data": {
            "modality": modality,
            "axes": item,
            "channels": channel_names,
            "range": value_range,
            "clip": value_range is not None,
            "normalization": None,
        },
        "encoder": {"inputs": [tensor("x", item)], "outputs": [tensor("latent", latent)]},
        "decoder": {"inputs": [tensor("latent", latent)], "outputs": [tensor("x", item)]},
        "latent": {"kind": "deterministic", "axes": latent, "prior": None},
        "preparation": {"adapter": adapter, "version": version, "params": params},
        "tasks": ["encode", "decode", "reconstruct", "score", "interpolate"],
        "graphs": {
            "fp32": {
                "encoder": {"file": "encoder.onnx", **graph},
                "decoder": {"file": "decoder.onnx", **graph},
            }
        },
    }


def image_card(
    adapter: str = "image",
    params: dict[str, Any] | None = None,
    *,
    channels: int = 1,
    size: tuple[int, int] | None = (28, 28),
    multiple_of: int = 1,
    version: int = 1,
) -> Card:
    """An image card: fixed (height, width) ``size``, or free sizes (a multiple of
    ``multiple_of``) with a feature-map latent at that stride."""
    if size is None:
        extra = {"multiple_of": multiple_of} if multiple_of > 1 else {}
        spatial = [axis("height", None, **extra), axis("width", None, **extra)]
        latent = [
            axis("channels", 4),
            axis("height", None, stride=multiple_of),
            axis("width", None, stride=multiple_of),
        ]
    else:
        spatial = [axis("height", size[0]), axis("width", size[1])]
        latent = [axis("features", 8)]
    data = card_json(
        "image",
        [axis("channels", channels), *spatial],
        latent,
        adapter,
        dict(params or {}),
        channel_names=["L"] if channels == 1 else ["R", "G", "B"][:channels],
        value_range=[0.0, 1.0],
        version=version,
    )
    return parse_card(data)


def signal_card(channels: int = 2, multiple_of: int = 4) -> Card:
    item = [axis("channels", channels), axis("time", None, multiple_of=multiple_of)]
    latent = [axis("channels", 3), axis("time", None, stride=multiple_of)]
    names = [f"c{i}" for i in range(channels)]
    return parse_card(card_json("signal", item, latent, "signal", {}, channel_names=names))


def digit_adapter(**changes: Any) -> MnistDigit:
    frame = changes.get("frame", 28)
    card = image_card("mnist_digit", {**MNIST_DIGIT_PARAMS, **changes}, size=(frame, frame))
    adapter = adapter_for(card)
    assert isinstance(adapter, MnistDigit)
    return adapter


def problems_of(card: Card) -> str:
    with pytest.raises(ModelIntegrityError) as info:
        adapter_for(card)
    message = str(info.value)
    assert "\n" not in message
    return message


# ---------------------------------------------------------------------------------- pictures


def gradient(channels: int, width: int = 60, height: int = 30) -> np.ndarray:
    """A smooth float (H, W, C) picture in [0.2, 0.8], colours differing per channel."""
    ys, xs = np.mgrid[0:height, 0:width] / np.array([height, width])[:, None, None]
    planes = [0.2 + 0.6 * xs, 0.3 + 0.4 * ys, 0.8 - 0.5 * xs * ys]
    return np.stack(planes[:channels], axis=-1).astype(np.float32)


def tinted(width: int, height: int) -> np.ndarray:
    """A colour (H, W, 3) picture of mid luma and moderate chroma: changing its luma within
    [0.3, 0.7] never pushes a channel out of [0, 1]."""
    ys, xs = np.mgrid[0:height, 0:width] / np.array([height, width])[:, None, None]
    planes = [0.4 + 0.2 * xs, 0.45 + 0.1 * ys, 0.6 - 0.2 * xs * ys]
    return np.stack(planes, axis=-1).astype(np.float32)


def digit_kinds() -> dict[str, Picture]:
    """The same dark 7 on light paper as pictures of several kinds."""
    grey = dark_on_light()
    mask = ink_mask()
    rgba = np.zeros((HEIGHT, WIDTH, 4), np.uint8)  # ink on transparent black
    rgba[mask] = (20, 20, 20, 255)
    la = np.zeros((HEIGHT, WIDTH, 2), np.uint8)
    la[mask] = (10, 255)
    return {
        "L": read_picture(u8(grey)),
        "RGB": read_picture(photo_rgb()),
        "RGBA": read_picture(rgba),
        "LA": read_picture(Image.fromarray(la, "LA")),
        "I;16": read_picture((grey * 65535).round().astype(np.uint16)),
        "F": read_picture(grey.astype(np.float32)),
    }


@pytest.fixture(scope="module")
def reference() -> np.ndarray:
    """The 7 fitted from a clean white-on-black 8-bit array: what every kind should give."""
    prepared, _ = digit_adapter().prepare(read_picture(u8(ink_mask().astype(np.float64))))
    return prepared[0, 0]


def assert_digit(digit: np.ndarray, reference: np.ndarray | None = None) -> None:
    assert digit.shape == (28, 28) and digit.dtype == np.float32
    assert float(digit.min()) >= 0.0 and float(digit.max()) <= 1.0
    # White on black: the frame's border dark, the ink bright.
    border = np.concatenate([digit[0], digit[-1], digit[:, 0], digit[:, -1]])
    assert border.mean() < 0.1
    assert digit.max() > 0.9
    if reference is not None:
        correlation = np.corrcoef(digit.ravel(), reference.ravel())[0, 1]
        assert correlation > 0.9, correlation


def ink_extent(digit: np.ndarray, level: float = 0.25) -> tuple[int, int]:
    rows = np.flatnonzero((digit > level).any(axis=1))
    cols = np.flatnonzero((digit > level).any(axis=0))
    return int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)


def centre_of_mass(digit: np.ndarray) -> tuple[float, float]:
    ys, xs = np.indices(digit.shape)
    total = digit.sum()
    return float((ys * digit).sum() / total), float((xs * digit).sum() / total)


# ------------------------------------------------------------------------ adapter_for problems


def test_registry_names() -> None:
    assert list(ADAPTERS) == ["mnist_digit", "image", "tiles", "signal"]
    assert {cls.name for cls in ADAPTERS.values()} == set(ADAPTERS)


DIGIT_MODELS = sorted(
    p.name
    for p in MODELS.iterdir()
    if p.is_dir() and read_card(p).preparation.adapter == MnistDigit.name
)


def test_the_zoo_is_eight_digit_models_and_a_photo_denoiser() -> None:
    assert len(DIGIT_MODELS) == 8
    others = sorted(p.name for p in MODELS.iterdir() if p.is_dir() and p.name not in DIGIT_MODELS)
    assert others == ["photo"]
    assert read_card(MODELS / "photo").preparation.adapter == "tiles"


@pytest.mark.parametrize("model", DIGIT_MODELS)
def test_bundled_cards_get_the_mnist_fit(model: str) -> None:
    card = read_card(MODELS / model)
    adapter = adapter_for(card)
    assert isinstance(adapter, MnistDigit)
    # Re-exported at the adapter's current version, every number stated in the card...
    assert card.preparation.version == MnistDigit.version
    assert set(card.preparation.params) == set(asdict(DigitParams()))
    assert adapter.params == DigitParams()
    # ...and the fit itself is still MNIST's (LeCun et al.).
    fit = ("frame", "fit", "centre", "model_polarity")
    assert {k: card.preparation.params[k] for k in fit} == {k: MNIST_DIGIT_PARAMS[k] for k in fit}


def test_unknown_adapter_lists_the_valid_ones() -> None:
    message = problems_of(image_card("magic"))
    assert message == (
        "model 'toy': unknown preparation adapter 'magic'; this aeinfer has "
        "mnist_digit, image, tiles, signal"
    )


def test_newer_adapter_version_refused() -> None:
    message = problems_of(image_card("image", version=2))
    assert "preparation 'image' version 2 is newer than this aeinfer's (1); upgrade" in message


def test_wrong_types_and_unknown_params_all_named_in_one_error() -> None:
    params = {
        **MNIST_DIGIT_PARAMS,
        "fit": "20",
        "ink_grid": 64.5,
        "border_fraction": True,
        "sharpen_max_gain": float("inf"),
        "centre": "bbox",
        "colour": "red",
        "zoom": 2,
    }
    message = problems_of(image_card("mnist_digit", params))
    assert message.startswith("model 'toy': 7 problems in the model card: ")
    for expected in (
        "preparation.params.fit: expected an integer, got '20'",
        "preparation.params.ink_grid: expected an integer, got 64.5",
        "preparation.params.border_fraction: expected a finite number, got True",
        "preparation.params.sharpen_max_gain: expected a finite number, got inf",
        "preparation.params.centre: 'bbox' is not one of mass",
        "preparation.params.colour: unknown parameter; valid: border_fraction, centre, detail_gain",
        "preparation.params.zoom: unknown parameter",
    ):
        assert expected in message


def test_mnist_digit_refused_on_other_items() -> None:
    message = problems_of(image_card("mnist_digit", channels=3))
    expected = "mnist_digit takes grey 28×28 images; the card's item is (N, 3, 28, 28)"
    assert f"preparation: {expected}" in message
    assert "mnist_digit takes grey 28×28" in problems_of(image_card("mnist_digit", size=(32, 32)))
    assert "preparation.params.fit: must lie in 1..frame" in problems_of(
        image_card("mnist_digit", {"fit": 29})
    )


def test_image_and_tiles_refuse_the_other_kind_of_card() -> None:
    free = problems_of(image_card("image", size=None, multiple_of=4))
    assert "the image adapter takes fixed-size images; the card's item is (N, 1, H%4, W%4)" in free
    fixed = problems_of(image_card("tiles", {"margin": 0}))
    assert "the tiles adapter takes images of free height and width" in fixed
    signal = signal_card()
    for name in ("image", "mnist_digit"):
        data = {**signal.to_json(), "preparation": {"adapter": name, "version": 1, "params": {}}}
        assert "problem" in problems_of(parse_card(data))
    picture = image_card("signal")
    assert "the signal adapter takes signals; the card's item is a image" in problems_of(picture)


def test_tiles_params_checked_against_the_cards_multiple() -> None:
    params = {"margin": 6, "tile": 30, "batch": 0, "pad": "wrap", "paper": [2.0]}
    message = problems_of(image_card("tiles", params, size=None, multiple_of=4))
    assert "5 problems" in message
    for expected in (
        "preparation.params.pad: 'wrap' is not one of symmetric, edge",
        "preparation.params.margin: 6 is not a multiple of 4",
        "preparation.params.tile: 30 is not a multiple of 4",
        "preparation.params.batch: must be at least 1",
        "preparation.params.paper: one value or three, each in [0, 1]",
    ):
        assert expected in message
    assert "preparation.params.margin: missing" in problems_of(
        image_card("tiles", {}, size=None, multiple_of=4)
    )


def test_image_params_checked() -> None:
    message = problems_of(image_card("image", {"fit": "crop", "paper": [0.1, 0.2]}))
    assert "preparation.params.fit: 'crop' is not one of stretch, letterbox" in message
    assert "preparation.params.paper: one value or three" in message
    assert "preparation.params.paper: expected a non-empty list" in problems_of(
        image_card("image", {"paper": 1.0})
    )


# -------------------------------------------------------------------------------- mnist_digit


def test_fit_like_mnist_centre_of_mass_and_box() -> None:
    adapter = digit_adapter()
    prepared, state = adapter.prepare(read_picture(photo_rgb()))
    assert prepared.shape == (1, 1, 28, 28) and prepared.dtype == np.float32
    digit = prepared[0, 0]
    assert_digit(digit)
    cy, cx = centre_of_mass(digit)
    assert abs(cy - 14) <= 1.0 and abs(cx - 14) <= 1.0
    assert max(ink_extent(digit)) == 20
    assert state.fitted and state.inverted and state.notes == ()
    left, top, right, bottom = state.box
    assert right - left == bottom - top
    # The box holds the ink (the 7 spans about 96..204 × 36..174 in the original).
    rows = np.flatnonzero(ink_mask().any(axis=1))
    cols = np.flatnonzero(ink_mask().any(axis=0))
    # (Located on a shrunk copy: the faint ends of an antialiased stroke may fall outside.)
    assert top <= rows[0] + 2 and bottom >= rows[-1] + 1 - 2
    assert left <= cols[0] + 2 and right >= cols[-1] + 1 - 2
    assert bottom - top <= rows[-1] - rows[0] + 1 + 8  # and not much more
    assert adapter.notes(state) == ()


def test_polarity_both_ways(reference: np.ndarray) -> None:
    adapter = digit_adapter()
    light = dark_on_light()
    from_light, light_state = adapter.prepare(read_picture(u8(light)))
    from_dark, dark_state = adapter.prepare(read_picture(u8(1.0 - light)))
    assert light_state.inverted is True and dark_state.inverted is False
    assert_digit(from_light[0, 0], reference)
    assert_digit(from_dark[0, 0], reference)
    assert np.abs(from_light - from_dark).max() < 0.05
    # gray is kept in the model's polarity either way: the paper is dark.
    assert light_state.gray[0, 0] < 0.3 and dark_state.gray[0, 0] < 0.3
    # Each restores to its own polarity.
    restored_light = adapter.restore(from_light, light_state).unit()[..., 0]
    restored_dark = adapter.restore(from_dark, dark_state).unit()[..., 0]
    mask = ink_mask()
    assert restored_light[~mask].mean() > 0.8 and restored_light[mask].mean() < 0.3
    assert restored_dark[~mask].mean() < 0.2 and restored_dark[mask].mean() > 0.7


@pytest.mark.parametrize("kind", ["L", "RGB", "RGBA", "LA", "I;16", "F"])
def test_every_kind_fits_and_restores_in_its_own_mode(kind: str, reference: np.ndarray) -> None:
    adapter = digit_adapter()
    picture = digit_kinds()[kind]
    prepared, state = adapter.prepare(picture)
    assert_digit(prepared[0, 0], reference)
    restored = adapter.restore(prepared, state)
    assert restored.size == (WIDTH, HEIGHT) and restored.label == picture.label
    assert restored.pixels.dtype == picture.pixels.dtype
    assert restored.channels == picture.channels
    if picture.alpha is None:
        assert restored.alpha is None
    else:  # strokes may move, so alpha is made opaque
        assert restored.alpha.shape == picture.alpha.shape
        assert (restored.alpha == picture.scale).all()
    # Same polarity as the input: light paper, dark ink where the 7 was.
    grey = luma(restored.unit())[..., 0]
    mask = ink_mask()
    assert grey[0].mean() > 0.6 and grey[:, -1].mean() > 0.6
    assert grey[mask].mean() < grey[~mask].mean() - 0.4
    original = adapter.original(state)
    assert original.size == restored.size and original.pixels.dtype == restored.pixels.dtype
    assert np.abs(luma(original.unit()) - luma(picture.over(WHITE))).max() < 1.5 / 255


def test_28x28_input_is_not_refitted() -> None:
    adapter = digit_adapter()
    rng = np.random.default_rng(1)
    values = np.zeros((28, 28), np.float32)
    values[3:9, 2:7] = rng.random((6, 5)).astype(np.float32)  # deliberately off-centre
    prepared, state = adapter.prepare(read_picture(values))
    assert state.fitted is False and state.box == (0, 0, 28, 28) and state.offset == (0, 0)
    np.testing.assert_array_equal(prepared[0, 0], values)
    inverted, inverted_state = adapter.prepare(read_picture(1.0 - values))
    assert inverted_state.inverted is True and inverted_state.fitted is False
    np.testing.assert_allclose(inverted[0, 0], values, atol=1e-6)
    restored = adapter.restore(inverted, inverted_state)
    assert restored.size == (28, 28) and restored.channels == 1
    np.testing.assert_allclose(restored.unit()[..., 0], 1.0 - values, atol=1e-6)


def test_blank_image_uses_the_whole_frame_and_says_so() -> None:
    adapter = digit_adapter()
    prepared, state = adapter.prepare(read_picture(np.zeros((40, 30), np.uint8)))
    assert prepared.max() == 0.0
    assert state.notes == ("no ink found: whole image used",)
    assert adapter.notes(state) == state.notes
    restored = adapter.restore(prepared, state)
    assert restored.size == (30, 40)
    assert restored.pixels.max() == 0


def test_restore_maps_the_digit_back_into_its_box() -> None:
    adapter = digit_adapter()
    source = photo_rgb()
    picture = read_picture(source)
    prepared, state = adapter.prepare(picture)
    out = adapter.restore(prepared, state)
    assert out.channels == 3 and out.size == (WIDTH, HEIGHT) and out.pixels.dtype == np.uint8
    restored = luma(out.unit())[..., 0]
    original = luma(picture.unit())[..., 0]
    mask = ink_mask()
    assert restored[mask].mean() < 0.35  # ink comes back dark
    assert restored[~mask].mean() > 0.8  # paper comes back light
    assert np.abs(restored - original).mean() < 0.1
    # Outside the box the paper's level is used, not the noisy original pixels.
    left = state.box[0]
    assert left > 0
    assert np.ptp(restored[:, :left]) < 0.01
    assert abs(restored[0, 0] - (1.0 - state.background)) < 1 / 255
    # A blank result gives the paper alone, under its own light: smooth, no stroke on it.
    blank = adapter.restore(np.zeros((1, 1, 28, 28), np.float32), state)
    paper = luma(blank.unit())[..., 0]
    assert paper.min() > 0.8
    assert np.abs(np.diff(paper, axis=0)).max() < 3 / 255
    assert np.abs(np.diff(paper, axis=1)).max() < 3 / 255
    with pytest.raises(ValueError):
        adapter.restore(np.zeros((1, 1, 20, 20), np.float32), state)


def test_fit_box_comes_from_the_card() -> None:
    picture = read_picture(photo_rgb())
    sizes = {}
    for fit in (14, 20, 24):
        prepared, state = digit_adapter(fit=fit).prepare(picture)
        sizes[fit] = max(ink_extent(prepared[0, 0]))
        # Centred by centre of mass as far as the fit box can move inside the frame.
        for centre, offset in zip(centre_of_mass(prepared[0, 0]), state.offset[::-1], strict=True):
            assert abs(centre - 14) <= 1.0 or offset in (0, 28 - fit)
    assert sizes == {14: 14, 20: 20, 24: 24}
    # A larger frame: the item, the fit box and the centre follow the card.
    adapter = digit_adapter(frame=36, fit=26)
    prepared, state = adapter.prepare(picture)
    assert prepared.shape == (1, 1, 36, 36)
    assert max(ink_extent(prepared[0, 0])) == 26
    cy, cx = centre_of_mass(prepared[0, 0])
    assert abs(cy - 18) <= 1.0 and abs(cx - 18) <= 1.0
    assert adapter.restore(prepared, state).size == (WIDTH, HEIGHT)
    # A 36×36 input is the frame itself: used as it is.
    _, as_is = adapter.prepare(read_picture(np.zeros((36, 36), np.uint8)))
    assert as_is.fitted is False


def test_ink_threshold_comes_from_the_card() -> None:
    faint = np.full((60, 60), 0.0)
    faint[20:40, 25:35] = 0.15  # faint light ink on black: below the default threshold 0.2
    picture = read_picture(faint.astype(np.float32))
    _, default = digit_adapter().prepare(picture)
    assert default.notes == ("no ink found: whole image used",)
    _, sensitive = digit_adapter(ink_threshold=0.05).prepare(picture)
    assert sensitive.notes == ()
    assert sensitive.box[2] - sensitive.box[0] == 20  # the 10×20 stroke's square box


@pytest.mark.parametrize("size", [1, 2, 7, 8, 101])
def test_median_is_numpys(size: int) -> None:
    values = np.random.default_rng(size).random(size).astype(np.float32)
    assert _median(values) == float(np.median(values))


# -------------------------------------------------------------------------------------- image


def image_adapter(channels: int = 1, **params: Any) -> ImageAdapter:
    adapter = adapter_for(image_card("image", params, channels=channels))
    assert isinstance(adapter, ImageAdapter)
    return adapter


def test_stretch_geometry() -> None:
    values = np.zeros((30, 60), np.float32)
    values[:, 30:] = 1.0  # left half black, right half white
    prepared, state = image_adapter().prepare(read_picture(values))
    assert prepared.shape == (1, 1, 28, 28) and prepared.dtype == np.float32
    assert state.box == (0, 0, 28, 28)
    np.testing.assert_allclose(prepared[0, 0, :, :13], 0.0, atol=1e-6)
    np.testing.assert_allclose(prepared[0, 0, :, 15:], 1.0, atol=1e-6)


@pytest.mark.parametrize(
    ("size", "box"),
    [((60, 30), (0, 7, 28, 21)), ((30, 60), (7, 0, 21, 28)), ((28, 28), (0, 0, 28, 28))],
)
def test_letterbox_geometry(size: tuple[int, int], box: tuple[int, int, int, int]) -> None:
    width, height = size
    adapter = image_adapter(fit="letterbox", paper=[0.25])
    picture = read_picture(np.full((height, width), 0.9, np.float32))
    prepared, state = adapter.prepare(picture)
    assert state.box == box
    left, top, right, bottom = box
    inside = np.zeros((28, 28), bool)
    inside[top:bottom, left:right] = True
    np.testing.assert_allclose(prepared[0, 0][inside], 0.9, atol=1e-6)
    np.testing.assert_allclose(prepared[0, 0][~inside], 0.25)  # the bars take the paper colour


@pytest.mark.parametrize("fit", ["stretch", "letterbox"])
@pytest.mark.parametrize("channels", [1, 3])
def test_image_restore_is_the_inverse(fit: str, channels: int) -> None:
    adapter = image_adapter(channels, fit=fit, paper=[0.0])
    source = u8(gradient(channels))
    picture = read_picture(source if channels == 3 else source[..., 0])
    prepared, state = adapter.prepare(picture)
    assert prepared.shape == (1, channels, 28, 28)
    restored = adapter.restore(prepared, state)  # an identity model
    assert restored.size == picture.size == (60, 30)
    assert restored.pixels.dtype == np.uint8 and restored.channels == channels
    assert restored.label == picture.label
    # Down to 28 pixels and back up again: smooth content survives, and black letterbox bars
    # never leak into the picture (its darkest pixel is 0.2).
    error = np.abs(restored.unit() - picture.unit())
    assert error.mean() < 0.01 and error.max() < 0.06
    assert restored.unit().min() > 0.15
    assert adapter.original(state) is picture


@pytest.mark.parametrize(("model_channels", "picture_channels"), [(3, 3), (1, 1), (3, 1), (1, 3)])
def test_results_become_pixels_in_bands_that_join_exactly(
    model_channels: int, picture_channels: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large result is turned into pixels a band of rows at a time (bounded temporaries);
    the bands give the very pixels a single pass gives, in every channel case, alpha kept."""
    rng = np.random.default_rng(4)
    pixels = rng.integers(0, 256, (53, 40, picture_channels), dtype=np.uint8)
    alpha = rng.integers(0, 256, (53, 40), dtype=np.uint8)
    picture = Picture(pixels, alpha, "bands", profile=b"p" * 128)
    result = rng.uniform(-0.1, 1.1, (model_channels, 53, 40)).astype(np.float32)
    paper = (1.0, 0.9, 0.8)
    monkeypatch.setattr(image_module, "BAND_ROWS", 1000)
    whole = image_module.picture_from_planes(result, picture, paper)
    monkeypatch.setattr(image_module, "BAND_ROWS", 7)
    banded = image_module.picture_from_planes(result, picture, paper)
    np.testing.assert_array_equal(banded.pixels, whole.pixels)
    assert banded.alpha is alpha and banded.profile == picture.profile
    assert banded.pixels.shape == pixels.shape and banded.pixels.dtype == np.uint8


def test_grey_model_on_a_colour_picture_keeps_its_chroma() -> None:
    adapter = image_adapter(1)
    values = tinted(28, 28)  # model-sized: no resampling in the way
    picture = read_picture(values)
    prepared, state = adapter.prepare(picture)
    assert prepared.shape == (1, 1, 28, 28)
    np.testing.assert_allclose(prepared[0, 0], luma(values)[..., 0], atol=1e-5)
    same = adapter.restore(prepared, state)
    assert same.channels == 3 and same.pixels.dtype == np.float32
    np.testing.assert_allclose(same.pixels, values, atol=1e-5)
    # A model that inverts brightness: luma follows the model, chroma stays the picture's.
    inverted = adapter.restore(1.0 - prepared, state).pixels
    np.testing.assert_allclose(luma(inverted), 1.0 - luma(values), atol=1e-5)
    np.testing.assert_allclose(inverted - luma(inverted), values - luma(values), atol=1e-5)


def test_colour_model_on_a_grey_picture_gives_grey() -> None:
    adapter = image_adapter(3)
    picture = read_picture(u8(gradient(1, 28, 28))[..., 0])
    prepared, state = adapter.prepare(picture)
    assert prepared.shape == (1, 3, 28, 28)
    np.testing.assert_array_equal(prepared[0, 0], prepared[0, 1])
    np.testing.assert_array_equal(prepared[0, 0], prepared[0, 2])
    red = np.zeros_like(prepared)
    red[:, 0] = 1.0
    restored = adapter.restore(red, state)
    assert restored.channels == 1
    assert np.all(restored.pixels == round(float(LUMA[0]) * 255))


def test_rgba_alpha_kept_and_composited_over_the_paper() -> None:
    adapter = image_adapter(3, paper=[1.0, 0.5, 0.0])
    colour = u8(gradient(3, 28, 28))
    alpha = np.tile(np.linspace(0, 255, 28).round().astype(np.uint8), (28, 1))
    picture = read_picture(np.dstack([colour, alpha]))
    prepared, state = adapter.prepare(picture)
    expected = picture.over((1.0, 0.5, 0.0)).transpose(2, 0, 1)
    np.testing.assert_allclose(prepared[0], expected, atol=1e-6)
    restored = adapter.restore(prepared, state)
    np.testing.assert_array_equal(restored.alpha, alpha)
    assert restored.channels == 3 and restored.pixels.dtype == np.uint8


def test_sixteen_bit_grey_keeps_its_depth() -> None:
    adapter = image_adapter(1)
    values = (gradient(1, 56, 56)[..., 0] * 65535).round().astype(np.uint16)
    picture = read_picture(values)
    prepared, state = adapter.prepare(picture)
    restored = adapter.restore(prepared, state)
    assert restored.pixels.dtype == np.uint16 and restored.size == (56, 56)
    assert restored.pixels.max() > 255
    assert np.abs(restored.unit() - picture.unit()).mean() < 0.01


# -------------------------------------------------------------------------------------- tiles


def tiles_adapter(
    multiple_of: int = 1, channels: int = 1, **params: Any
) -> Tiles:  # margin is required
    adapter = adapter_for(
        image_card("tiles", params, channels=channels, size=None, multiple_of=multiple_of)
    )
    assert isinstance(adapter, Tiles)
    return adapter


@pytest.mark.parametrize("pad", ["symmetric", "edge"])
@pytest.mark.parametrize(
    ("size", "step"), [((30, 45), 8), ((32, 48), 8), ((5, 3), 4), ((2, 3), 8), ((13, 17), 16)]
)
def test_tiles_pad_to_multiple_of_and_crop_back(size: tuple[int, int], step: int, pad: str) -> None:
    height, width = size
    adapter = tiles_adapter(step, 1, margin=0, tile=4 * step, pad=pad)
    rng = np.random.default_rng(height * width)
    values = rng.integers(0, 256, (height, width), dtype=np.uint8)
    picture = read_picture(values)
    prepared, state = adapter.prepare(picture)
    padded = (height + -height % step, width + -width % step)
    assert prepared.shape == (1, 1, *padded)
    expected = np.pad(values / 255.0, ((0, padded[0] - height), (0, padded[1] - width)), pad)
    np.testing.assert_allclose(prepared[0, 0], expected, atol=1e-6)
    restored = adapter.restore(prepared, state)
    assert restored.size == (width, height)
    np.testing.assert_array_equal(restored.pixels[..., 0], values)


def test_tiles_grey_model_keeps_a_colour_pictures_chroma() -> None:
    adapter = tiles_adapter(4, 1, margin=0)
    values = tinted(30, 21)
    picture = read_picture(values)
    prepared, state = adapter.prepare(picture)
    assert prepared.shape == (1, 1, 24, 32)
    inverted = adapter.restore(1.0 - prepared, state).pixels
    assert inverted.shape == (21, 30, 3)
    np.testing.assert_allclose(inverted - luma(inverted), values - luma(values), atol=1e-5)
    np.testing.assert_allclose(luma(inverted), 1.0 - luma(values), atol=1e-5)


def box_filter(batch: np.ndarray, radius: int) -> np.ndarray:
    """Mean over a (2r+1)² window with zero padding: a model of receptive radius r."""
    h, w = batch.shape[2:]
    padded = np.pad(batch, ((0, 0), (0, 0), (radius, radius), (radius, radius)))
    out = np.zeros_like(batch, dtype=np.float64)
    for dy in range(2 * radius + 1):
        for dx in range(2 * radius + 1):
            out += padded[:, :, dy : dy + h, dx : dx + w]
    return (out / (2 * radius + 1) ** 2).astype(np.float32)


def pool(batch: np.ndarray) -> np.ndarray:
    n, c, h, w = batch.shape
    return batch.reshape(n, c, h // 2, 2, w // 2, 2).mean(axis=(3, 5))


def upsample(batch: np.ndarray) -> np.ndarray:
    return batch.repeat(2, axis=2).repeat(2, axis=3)


def mixing(batch: np.ndarray) -> np.ndarray:
    """Channels mixed (3 in, 2 out), so a tile's channels must travel together."""
    weights = np.array([[0.5, 0.3, 0.2], [-0.2, 0.1, 1.0]], np.float32)
    return np.einsum("oc,nchw->nohw", weights, batch)


class Recorder:
    """A model function that records the shape of every batch it is given."""

    def __init__(self, fn: Callable[[np.ndarray], np.ndarray]) -> None:
        self.fn = fn
        self.shapes: list[tuple[int, ...]] = []

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        self.shapes.append(batch.shape)
        return self.fn(batch)


SEAMLESS_CASES = {
    # name: (model, scale, unit, multiple_of, receptive radius in input pixels)
    "box5": (lambda b: mixing(box_filter(b, 2)), Fraction(1), 1, 1, 2),
    "stride2": (lambda b: pool(box_filter(b, 1)), Fraction(1, 2), 1, 2, 2),
    "upsample2": (lambda b: box_filter(upsample(b), 1), Fraction(2), 2, 2, 2),
}


@pytest.mark.parametrize("case", sorted(SEAMLESS_CASES))
@pytest.mark.parametrize("extra", [0, 2, 6])
def test_tiles_are_seamless_with_enough_margin(case: str, extra: int) -> None:
    model, scale, unit, multiple_of, radius = SEAMLESS_CASES[case]
    margin = radius + extra
    tile = 16
    adapter = tiles_adapter(multiple_of, 3, margin=margin, tile=tile, batch=3)
    rng = np.random.default_rng(7)
    # Several tiles each way, and sizes that are not a multiple of the tile.
    pixels = (2 * 37 // unit, 2 * 53 // unit) if unit > 1 else (74, 106)
    batch = rng.random((2, 3, *pixels)).astype(np.float32)
    whole = model(batch)
    recorder = Recorder(model)
    tiled = adapter.run(recorder, batch, scale, unit)
    assert tiled.shape == whole.shape
    assert np.abs(tiled - whole).max() < 1e-5
    # Memory is bounded by the tile: every call is at most `batch` windows of one tile plus
    # its margins.
    window = tile // unit + 2 * -(-margin // unit)
    assert len(recorder.shapes) > 2
    for shape in recorder.shapes:
        assert shape[0] <= 3 and shape[1] == 3
        assert shape[2] <= window and shape[3] <= window


@pytest.mark.parametrize("size", [(74, 106), (40, 50), (70, 17), (33, 98)])
@pytest.mark.parametrize("windows", [1, 3])
def test_tiles_in_place_write_the_result_over_the_input(
    size: tuple[int, int], windows: int
) -> None:
    """``in_place`` (denoise): the result lands in the input's own array, each core written
    only once no window still to run reads it — the same numbers as a second array, whatever
    the picture's size (last windows moved up inside the picture read far above their core)."""
    adapter = tiles_adapter(1, 3, margin=3, tile=16, batch=windows)
    batch = np.random.default_rng(11).random((2, 3, *size)).astype(np.float32)
    expected = adapter.run(lambda b: box_filter(b, 3), batch)
    given = batch.copy()
    result = adapter.run(lambda b: box_filter(b, 3), given, in_place=True)
    assert result is given
    np.testing.assert_allclose(result, expected, atol=1e-6)
    np.testing.assert_allclose(expected, box_filter(batch, 3), atol=1e-5)  # seamless too
    # A result of another shape (3 channels in, 2 out) cannot take the input's place.
    kept = batch.copy()
    mixed = adapter.run(mixing, kept, in_place=True)
    assert mixed.shape == (2, 2, *size) and np.array_equal(kept, batch)


@pytest.mark.parametrize("case", sorted(SEAMLESS_CASES))
def test_tiles_without_margin_show_seams(case: str) -> None:
    model, scale, unit, multiple_of, _ = SEAMLESS_CASES[case]
    adapter = tiles_adapter(multiple_of, 3, margin=0, tile=16, batch=3)
    batch = np.random.default_rng(7).random((1, 3, 96 // unit, 96 // unit)).astype(np.float32)
    whole = model(batch)
    tiled = adapter.run(model, batch, scale, unit)
    assert tiled.shape == whole.shape
    assert np.abs(tiled - whole).max() > 1e-3


def test_tiles_run_a_small_picture_whole() -> None:
    adapter = tiles_adapter(1, 1, margin=4, tile=32)
    batch = np.random.default_rng(0).random((1, 1, 40, 30)).astype(np.float32)
    recorder = Recorder(lambda b: box_filter(b, 2))
    out = adapter.run(recorder, batch)
    assert recorder.shapes == [(1, 1, 40, 30)]
    np.testing.assert_array_equal(out, box_filter(batch, 2))


def test_tiles_report_their_windows_to_the_progress_hook() -> None:
    """Before each call and at the end, to the hook installed around the call (none for a
    picture run whole, nothing at all without a hook)."""
    adapter = tiles_adapter(1, 1, margin=4, tile=16, batch=3)
    batch = np.random.default_rng(0).random((2, 1, 40, 50)).astype(np.float32)
    seen: list[tuple[int, int]] = []
    recorder = Recorder(lambda b: box_filter(b, 2))
    with progress.reporting(lambda done, total: seen.append((done, total))):
        tiled = adapter.run(recorder, batch)
        adapter.run(recorder, batch[:, :, :20, :20])  # one window: run whole, not reported
    windows = 2 * 3 * 4  # two items of 3 × 4 cores
    assert seen == [(d, windows) for d in (0, 3, 6, 9, 12, 15, 18, 21, 24)]
    assert len(recorder.shapes) == 8 + 1
    np.testing.assert_array_equal(adapter.run(recorder, batch), tiled)  # no hook: the same


def test_tiles_prepare_run_restore_end_to_end() -> None:
    adapter = tiles_adapter(4, 1, margin=4, tile=16, batch=2)
    picture = read_picture(u8(dark_on_light()))
    prepared, state = adapter.prepare(picture)
    assert prepared.shape == (1, 1, 200, 300)
    result = adapter.run(lambda b: box_filter(b, 2), prepared)
    restored = adapter.restore(result, state)
    expected = box_filter(prepared, 2)[0, 0]
    assert restored.size == picture.size and restored.pixels.dtype == np.uint8
    assert np.abs(restored.unit()[..., 0] - expected).max() <= 0.5 / 255 + 1e-6


# ------------------------------------------------------------------------------------- signal


def test_signal_adapter_prepares_batches_and_restores_the_input_form(tmp_path: Path) -> None:
    adapter = adapter_for(signal_card(channels=2, multiple_of=4))
    assert isinstance(adapter, SignalAdapter)
    one = read_signal(np.arange(16, dtype=np.float32).reshape(2, 8))
    prepared, state = adapter.prepare(one)
    assert prepared.shape == (1, 2, 8)
    restored = adapter.restore(prepared * 2, state)
    assert restored.values.shape == (2, 8)
    np.testing.assert_array_equal(restored.values, one.values * 2)
    several = read_signal(np.zeros((5, 2, 12)))
    assert adapter.prepare(several)[0].shape == (5, 2, 12)
    path = tmp_path / "s.csv"
    path.write_text("a,b\n" + "".join(f"{t},{-t}\n" for t in range(4)))
    csv_signal = read_signal(path)
    prepared, state = adapter.prepare(csv_signal)
    restored = adapter.restore(prepared + 1, state)
    assert restored.format == "csv" and restored.header == ("a", "b")
    assert signal_bytes(restored).decode().splitlines()[:2] == ["a,b", "1,1"]


@pytest.mark.parametrize(
    "values", [np.zeros((3, 8)), np.zeros((2, 10)), np.zeros(8), np.zeros((4, 3, 8))]
)
def test_signal_adapter_refuses_other_shapes(values: np.ndarray) -> None:
    adapter = adapter_for(signal_card(channels=2, multiple_of=4))
    with pytest.raises(InputError) as info:
        adapter.prepare(read_signal(values, label="input.npy"))
    message = str(info.value)
    assert message.startswith(f"input.npy: has shape {values.shape}; model 'toy' takes signals")
    assert "(2, T%4)" in message
