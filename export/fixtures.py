"""``fixtures.json``: inputs → prepared tensors → restored outputs, for other implementations.

A model's preparation may be implemented again elsewhere — in JavaScript for a web page, in a
mobile app. Each model directory ships a small file of cases computed by the Python adapters
(:mod:`aeinfer.adapters`), so any other implementation can be checked against this one:

- ``input``: a picture as raw pixels (mode L, LA, RGB or RGBA; uint8, row-major, channels
  last) or a signal (float32, (C, T));
- ``prepared``: what ``prepare`` gives the model, float32 (n, *item);
- ``restored``: what ``restore`` makes of ``result`` — here the prepared tensor itself, as
  if the model reproduced its input — in the input's form.

Arrays are base64 of their little-endian bytes, with shape and dtype beside them. The tolerance
says how close another implementation must come (resampling filters differ in their last bits).
Cases are synthetic and seeded: a stroke on paper, light and dark, grey and colour, with and
without alpha, sizes that need padding; signals across the card's range.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from aeinfer.adapters import adapter_for
from aeinfer.card import IMAGE, Card
from aeinfer.pictures import Picture, read_picture
from aeinfer.signals import Signal

FORMAT = 1
SEED = 20_241_122
TOLERANCE = {"prepared_atol": 2e-3, "restored_atol": 2}
"""Float values within 2e-3, restored 8-bit pixels within 2 levels."""


def encode_array(array: np.ndarray) -> dict[str, Any]:
    little = np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<"), copy=False)
    return {
        "shape": list(array.shape),
        "dtype": array.dtype.name,
        "data": base64.b64encode(little.tobytes()).decode("ascii"),
    }


def decode_array(entry: dict[str, Any]) -> np.ndarray:
    dtype = np.dtype(entry["dtype"]).newbyteorder("<")
    raw = base64.b64decode(entry["data"])
    return np.frombuffer(raw, dtype=dtype).reshape(entry["shape"]).astype(dtype.newbyteorder("="))


def _stroke(
    size: tuple[int, int], ink: tuple[int, ...], paper: tuple[int, ...], mode: str
) -> Image.Image:
    """A '7'-like stroke of ``ink`` on ``paper``: the kind of picture users bring."""
    width, height = size
    image = Image.new(mode, size, paper)
    draw = ImageDraw.Draw(image)
    stroke = max(2, min(size) // 8)
    draw.line(
        [(width * 0.25, height * 0.2), (width * 0.75, height * 0.2), (width * 0.4, height * 0.85)],
        fill=ink,
        width=stroke,
    )
    return image


def picture_cases() -> list[tuple[str, Image.Image]]:
    rng = np.random.default_rng(SEED)
    noisy = np.clip(rng.normal(128, 40, (29, 37, 3)), 0, 255).astype(np.uint8)
    return [
        ("dark ink on light paper, grey, 40×32", _stroke((40, 32), (20,), (235,), "L")),
        ("light ink on dark, grey, 28×28", _stroke((28, 28), (250,), (5,), "L")),
        ("navy ink on beige, RGB, 45×30", _stroke((45, 30), (20, 30, 110), (240, 228, 200), "RGB")),
        (
            "black ink on transparent, RGBA, 36×36",
            _stroke((36, 36), (0, 0, 0, 255), (0, 0, 0, 0), "RGBA"),
        ),
        ("grey with alpha, LA, 24×20", _stroke((24, 20), (30, 255), (200, 128), "LA")),
        ("noise, RGB, 37×29", Image.fromarray(noisy)),
    ]


def signal_cases(card: Card) -> list[tuple[str, np.ndarray]]:
    rng = np.random.default_rng(SEED)
    channels = int(card.data.axes[0].size or 1)
    length = card.data.axes[1].size or 48
    low, high = card.data.range or (-3.0, 3.0)
    walk = np.cumsum(rng.normal(0, 1, (channels, length)), axis=1)
    walk = (walk - walk.min()) / max(float(np.ptp(walk)), 1e-6)
    return [
        ("random walk across the range", (low + (high - low) * walk).astype(np.float32)),
        (
            "a batch of two",
            (low + (high - low) * rng.random((2, channels, length))).astype(np.float32),
        ),
    ]


def _picture_json(picture: Picture) -> dict[str, Any]:
    image = picture.to_pil()
    pixels = np.asarray(image)
    return {
        "mode": image.mode,
        "width": image.width,
        "height": image.height,
        **encode_array(pixels),
    }


def build(card: Card) -> dict[str, Any]:
    """The fixtures of a model: its adapter applied to the synthetic cases."""
    adapter = adapter_for(card)
    cases: list[dict[str, Any]] = []
    if card.data.modality == IMAGE:
        for name, image in picture_cases():
            picture = read_picture(image, name)
            prepared, state = adapter.prepare(picture)
            restored = adapter.restore(prepared, state)
            cases.append({
                "name": name,
                "input": _picture_json(picture),
                "prepared": encode_array(prepared.astype(np.float32)),
                "restored": _picture_json(restored),
            })  # fmt: skip
    else:
        for name, values in signal_cases(card):
            prepared, state = adapter.prepare(Signal(values, name))
            restored = adapter.restore(prepared, state)
            cases.append({
                "name": name,
                "input": encode_array(values),
                "prepared": encode_array(prepared.astype(np.float32)),
                "restored": encode_array(restored.values),
            })  # fmt: skip
    return {
        "format": FORMAT,
        "model": card.name,
        "adapter": card.preparation.adapter,
        "version": card.preparation.version,
        "params": dict(card.preparation.params),
        "tolerance": TOLERANCE,
        "cases": cases,
    }


def write_fixtures(card: Card, path: Path) -> None:
    path.write_text(json.dumps(build(card), indent=1) + "\n", encoding="utf-8")


__all__ = ["build", "decode_array", "encode_array", "write_fixtures"]
