"""Reading cards of format 1, the first MNIST exports, as format 2.

Format 1 described one kind of model: 28×28 grey MNIST digits (white ink on black, pixels in
[0, 1]) in one of three graph layouts — ``flat`` (N, 784), ``image`` (N, 1, 28, 28) and
``sequence`` (N, 28, 28), rows as time steps — with the MNIST fit of the user's image hard-wired
into the runtime. :func:`upgrade` states all of that explicitly as a format-2 card: the item is
a (1, 28, 28) grey image, the layouts become named graph axes, and the fit becomes the
``mnist_digit`` preparation with the numbers format 1 used. Facts the old card did not hold are
the ones format 1 implied for every model; nothing is read from a file name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aeinfer.card import (
    BATCH,
    CHANNELS,
    DECODE,
    DENOISE,
    DETERMINISTIC,
    ENCODE,
    FEATURES,
    FLOAT32,
    FORMAT_VERSION,
    FP32,
    GAUSSIAN,
    HEIGHT,
    IMAGE,
    INTERPOLATE,
    NORMAL_PRIOR,
    RECONSTRUCT,
    ROLES,
    SAMPLE,
    SCORE,
    SCORE_METRIC,
    WIDTH,
)

V1_SCORE_METRIC = "mse_per_pixel"
V1_DENOISING_FAMILY = "denoise"
MNIST_SIDE = 28

MNIST_DIGIT_PARAMS: dict[str, Any] = {
    "frame": MNIST_SIDE,
    "fit": 20,
    "centre": "mass",
    "model_polarity": "light_on_dark",
    "border_fraction": 1 / 16,
    "ink_threshold": 0.2,
    "ink_fraction": 0.3,
    "ink_grid": 64,
    "sharpen_per_scale": 2.0,
    "sharpen_max_gain": 12.0,
    "flatten": 0.0,
}
"""The MNIST fit format 1 applied to every model (LeCun et al.: the ink's bounding box scaled
to 20×20 and centred by centre of mass in 28×28), as ``mnist_digit`` parameters; uneven light
was not removed (flatten 0)."""

_LAYOUT_AXES: dict[str, list[dict[str, Any]]] = {
    "flat": [{"name": FEATURES, "size": MNIST_SIDE * MNIST_SIDE}],
    "image": [
        {"name": CHANNELS, "size": 1},
        {"name": HEIGHT, "size": MNIST_SIDE},
        {"name": WIDTH, "size": MNIST_SIDE},
    ],
    "sequence": [{"name": HEIGHT, "size": MNIST_SIDE}, {"name": WIDTH, "size": MNIST_SIDE}],
}
_BATCH = {"name": BATCH, "size": None}


def _latent_axes(shape: list[int]) -> list[dict[str, Any]]:
    """Format 1 kept only the latent's shape: a vector, or a (channels, height, width) map."""
    if len(shape) == 1:
        return [{"name": FEATURES, "size": shape[0]}]
    if len(shape) == 3:
        names = (CHANNELS, HEIGHT, WIDTH)
    else:
        names = tuple(f"dim{i}" for i in range(len(shape)))
    return [{"name": n, "size": s} for n, s in zip(names, shape, strict=True)]


def _tensor(name: str, axes: list[dict[str, Any]]) -> dict[str, Any]:
    return {"name": name, "dtype": FLOAT32, "axes": [_BATCH, *axes]}


def _graphs(card: Mapping[str, Any]) -> dict[str, Any]:
    files = card.get("files", {})

    def entry(file: str) -> dict[str, Any]:
        info = files.get(file, {})
        return {"file": file, "sha256": info.get("sha256", ""), "bytes": info.get("bytes", 0)}

    graphs: dict[str, Any] = {FP32: {role: entry(f"{role}.onnx") for role in ROLES}}
    for precision, variant in card.get("variants", {}).items():
        measured = {k: v for k, v in variant.items() if k != "method"}
        if isinstance(measured.get("speed"), Mapping):  # format 1 said images, format 2 items
            measured["speed"] = {
                key.replace("images_per_s", "items_per_s"): value
                for key, value in measured["speed"].items()
            }
        graphs[precision] = {
            **{role: entry(f"{role}.{precision}.onnx") for role in ROLES},
            "method": variant.get("method"),
            "measured": measured,
        }
    return graphs


def upgrade(card: Mapping[str, Any]) -> dict[str, Any]:
    """The format-2 card a format-1 card means. Malformed input is passed through as far as it
    goes; :func:`aeinfer.card.parse_card` then names what is missing."""
    layout = card.get("input", {}).get("layout")
    item_axes = _LAYOUT_AXES.get(layout, [])
    latent = card.get("latent", {})
    kind = latent.get("kind", DETERMINISTIC)
    code_axes = _latent_axes(list(latent.get("shape", [])))
    gaussian = kind == GAUSSIAN
    outputs = ["mean", "logvar"] if gaussian else ["latent"]
    tasks = [ENCODE, DECODE, RECONSTRUCT, SCORE, INTERPOLATE]
    if card.get("family") == V1_DENOISING_FAMILY:
        tasks.insert(3, DENOISE)
    if gaussian:
        tasks.append(SAMPLE)
    score = card.get("score")
    if isinstance(score, Mapping) and score.get("metric") == V1_SCORE_METRIC:
        score = {**score, "metric": SCORE_METRIC}
    return {
        "format_version": FORMAT_VERSION,
        "name": card.get("name"),
        "family": card.get("family"),
        "description": card.get("description", ""),
        "data": {
            "modality": IMAGE,
            "axes": [
                {"name": CHANNELS, "size": 1},
                {"name": HEIGHT, "size": MNIST_SIDE},
                {"name": WIDTH, "size": MNIST_SIDE},
            ],
            "channels": ["L"],
            "range": [0.0, 1.0],
            "clip": True,
            "normalization": None,
        },
        "encoder": {
            "inputs": [_tensor("image", item_axes)],
            "outputs": [_tensor(name, code_axes) for name in outputs],
        },
        "decoder": {
            "inputs": [_tensor("latent", code_axes)],
            "outputs": [_tensor("image", item_axes)],
        },
        "latent": {"kind": kind, "axes": code_axes, "prior": NORMAL_PRIOR if gaussian else None},
        "preparation": {"adapter": "mnist_digit", "version": 1, "params": dict(MNIST_DIGIT_PARAMS)},
        "tasks": tasks,
        "graphs": _graphs(card),
        "score": score,
        "not_made": dict(card.get("variants_not_made", {})),
        "metrics": dict(card.get("metrics", {})),
        "provenance": {
            "training": dict(card.get("training", {})),
            "export": dict(card.get("export", {})),
            "upgraded_from_format": 1,
        },
    }
