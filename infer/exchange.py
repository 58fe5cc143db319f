"""The tasks with bytes in and bytes out: what a front end that holds no files sends and gets.

The HTTP server (:mod:`aeinfer.server`) answers every request with these functions, and the
command line's jobs (:mod:`aeinfer.jobs`) draw their results with the same helpers
(:func:`per_file_result`, :func:`grid_picture`, :func:`strip_picture`,
:func:`codes_from_bytes`), so that the same input gives the same bytes through either: a
denoised PNG, a reconstruction side by side, codes as ``.npy``, a grid of samples, a strip.

The per-input tasks (reconstruct, denoise, score, encode) take a *batch* of inputs — the bodies
of several requests — run them through :mod:`aeinfer.tasks` as one list (inputs of one shape
in one model call) and return one :class:`Payload` or one :class:`~aeinfer.errors.AeinferError`
per input, in order: a bad input fails alone. The others (decode, sample, interpolate) take one
request's inputs and raise.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from aeinfer import codes_table, tasks
from aeinfer.atomic import npy_bytes
from aeinfer.card import DENOISE, RECONSTRUCT
from aeinfer.errors import AeinferError, InputError
from aeinfer.pictures import Picture, picture_bytes

if TYPE_CHECKING:
    from PIL import Image

PNG = ".png"
NPY = ".npy"
JSON = "json"
PNG_MEDIA = "image/png"
NPY_MEDIA = "application/octet-stream"
JSON_MEDIA = "application/json"
MEDIA_TYPES: Mapping[str, str] = {
    PNG: PNG_MEDIA,
    NPY: NPY_MEDIA,
    ".csv": "text/csv",
    ".wav": "audio/wav",
}
"""The media type of each kind of result file."""
FORMATS = ("png", "npy")
"""Formats of decoded items (decode, sample, interpolate): a picture, or the array."""
CODE_FORMATS = (JSON, "npy")
"""Formats of codes (encode): JSON, or the ``.npy`` the command line writes."""


@dataclass(frozen=True)
class Payload:
    """One result as a response carries it: the bytes, their media type, notes for the user
    (what the CLI prints on stderr), and details a front end may show (a seed, a shape)."""

    body: bytes
    media_type: str
    notes: tuple[str, ...] = ()
    detail: Mapping[str, Any] = field(default_factory=dict)


# --- helpers the command line's jobs share -------------------------------------------------------


def per_file_result(pipe: tasks.Pipeline, done: tasks.Done, side_by_side: bool) -> tasks.Raw:
    """What ``denoise`` and ``reconstruct --per-file`` write for one input: its result at the
    input's size and kind, with ``side_by_side`` the original beside it (pictures)."""
    if side_by_side:
        return tasks.side_by_side(pipe.adapter.original(done.state), done.output)
    return done.output


def grid_picture(pipe: tasks.Pipeline, items: np.ndarray) -> Image.Image:
    """Decoded items (N, *item) as one grid picture (``decode -o grid.png``, ``sample``): one
    item is the picture itself at its own size (a photo decoded from its code); several are
    tiles shrunk to fit :data:`aeinfer.render.THUMBNAIL` if larger."""
    from aeinfer import render

    return render.grid(render.tiles(items, pipe.card.data, fit=len(items) > 1))


def strip_picture(pipe: tasks.Pipeline, items: np.ndarray) -> Image.Image:
    """Decoded items as one strip, small items enlarged (``interpolate``)."""
    from aeinfer import render

    data = pipe.card.data
    return render.strip(render.tiles(items, data, render.enlargement(data)))


def codes_from_bytes(data: bytes, label: str) -> np.ndarray:
    """Codes from the bytes of a ``.npy`` file or of a codes table (``encode -o x.parquet``),
    with one-line errors for anything else."""
    from aeinfer.signals import NPY_MAGIC, ZIP_MAGIC

    if not data:
        raise InputError(f"{label}: empty file")
    if data.startswith(codes_table.PARQUET_MAGIC):
        return codes_table.read(data, label)[0]
    if data.startswith(ZIP_MAGIC):
        raise InputError(f"{label}: holds several arrays (.npz); expected one .npy array")
    # Without the header numpy falls back to unpickling and blames pickles; say what is wrong.
    if not data.startswith(NPY_MAGIC):
        raise InputError(
            f"{label}: not a .npy array or a codes table (codes are .npy or .parquet files)"
        )
    try:
        return np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise InputError(f"{label}: not a readable .npy array ({exc})") from exc


def file_payload(raw: tasks.Raw, label: str = "", notes: Sequence[str] = ()) -> Payload:
    """A result picture (as PNG) or signal (in its own format) as a payload."""
    if isinstance(raw, Picture):
        suffix = PNG
    else:
        from aeinfer.signals import SUFFIX_OF

        suffix = SUFFIX_OF[raw.format]
    return Payload(tasks.output_bytes(raw, suffix, label), MEDIA_TYPES[suffix], tuple(notes))


def json_bytes(document: Any) -> bytes:
    """JSON as the command line prints it (``--json``): indented by 2, one newline at the end."""
    return (json.dumps(document, indent=2) + "\n").encode()


def _check_format(value: str, valid: Sequence[str]) -> str:
    if value not in valid:
        raise InputError(f"unknown format {value!r}; valid: {', '.join(valid)}")
    return value


# --- per-input tasks, in batches -----------------------------------------------------------------


def reconstruct_bytes(
    pipe: tasks.Pipeline,
    sources: Sequence[bytes],
    labels: Sequence[str],
    *,
    task: str = RECONSTRUCT,
    side_by_side: bool | None = None,
    force: bool = False,
) -> list[Payload | AeinferError]:
    """Each input's reconstruction (or, with ``task="denoise"``, its denoised version) as the
    file ``aeinfer reconstruct --per-file`` (side by side) or ``aeinfer denoise --model NAME``
    writes. ``side_by_side`` defaults to True for reconstruct and False for denoise; ``force``
    takes inputs outside the model's domain anyway (``--force``)."""
    pair = task != DENOISE if side_by_side is None else side_by_side
    results: list[Payload | AeinferError] = []
    for outcome in tasks.reconstruct_each(pipe, sources, labels, task=task, force=force):
        if isinstance(outcome, tasks.Failed):
            results.append(outcome.error)
            continue
        try:
            raw = per_file_result(pipe, outcome, pair)
            results.append(file_payload(raw, outcome.label, outcome.notes))
        except AeinferError as exc:
            results.append(exc)
    return results


def denoise_routed_bytes(
    digits: tasks.Pipeline, photos: tasks.Pipeline | None, data: bytes, label: str
) -> Payload:
    """One input denoised as ``aeinfer denoise`` without ``--model`` writes it: by ``digits``
    when its domain check finds one digit on plain paper, else by ``photos`` (None: refused);
    the model that made it is the payload's ``detail["model"]``."""
    done = tasks.unwrap(next(tasks.denoise_routed_each(digits, photos, [data], [label])))
    payload = file_payload(per_file_result(digits, done, False), done.label, done.notes)
    return replace(payload, detail={"model": done.model})


def score_document(pipe: tasks.Pipeline, rows: Sequence[tasks.Score]) -> dict[str, Any]:
    """Scores as ``aeinfer score --json`` prints them: the rows, and the card's reference
    distribution (its metric, split, count, mean and percentiles)."""
    from aeinfer.jobs import ScoreReport

    card = pipe.card
    distribution = None if card.score is None else card.to_json()["score"]
    return ScoreReport(card.name, distribution, rows=list(rows)).as_dict()


def score_bytes(
    pipe: tasks.Pipeline, sources: Sequence[bytes], labels: Sequence[str]
) -> list[Payload | AeinferError]:
    """Each input's anomaly score as the JSON ``aeinfer score INPUT --json`` prints."""
    results: list[Payload | AeinferError] = []
    for outcome in tasks.score_each(pipe, sources, labels):
        if isinstance(outcome, tasks.Failed):
            results.append(outcome.error)
        else:
            body = json_bytes(score_document(pipe, outcome.output))
            results.append(Payload(body, JSON_MEDIA, outcome.notes))
    return results


def codes_payload(
    pipe: tasks.Pipeline, codes: np.ndarray, output_format: str = JSON, notes: Sequence[str] = ()
) -> Payload:
    """Codes (N, *latent) as ``.npy`` bytes (what ``aeinfer encode -o -`` writes) or as JSON:
    ``{"model", "shape", "codes"}`` with the float32 values as nested lists."""
    shape = [int(s) for s in codes.shape]
    detail = {"shape": shape}
    if _check_format(output_format, CODE_FORMATS) != JSON:
        return Payload(npy_bytes(codes), NPY_MEDIA, tuple(notes), detail)
    document = {"model": pipe.card.name, "shape": shape, "codes": codes.tolist()}
    return Payload(json_bytes(document), JSON_MEDIA, tuple(notes), detail)


def encode_bytes(
    pipe: tasks.Pipeline,
    sources: Sequence[bytes],
    labels: Sequence[str],
    *,
    output_format: str = JSON,
    force: bool = False,
) -> list[Payload | AeinferError]:
    """Each input's codes (N, *latent): one row for a picture, N for a signal file holding N
    (see :func:`codes_payload` for the formats); ``force`` as for :func:`reconstruct_bytes`."""
    _check_format(output_format, CODE_FORMATS)
    results: list[Payload | AeinferError] = []
    for outcome in tasks.encode_each(pipe, sources, labels, force=force):
        if isinstance(outcome, tasks.Failed):
            results.append(outcome.error)
        else:
            results.append(codes_payload(pipe, outcome.output, output_format, outcome.notes))
    return results


# --- one request's tasks --------------------------------------------------------------------------


def items_payload(
    pipe: tasks.Pipeline, items: np.ndarray, output_format: str, *, strip: bool = False
) -> Payload:
    """Decoded items as one PNG picture (a grid, or with ``strip`` one row, enlarged) or as
    ``.npy`` (N, *item)."""
    detail = {"shape": [int(s) for s in items.shape]}
    if _check_format(output_format, FORMATS) == "npy":
        return Payload(npy_bytes(items), NPY_MEDIA, detail=detail)
    picture = strip_picture(pipe, items) if strip else grid_picture(pipe, items)
    return Payload(picture_bytes(picture, PNG), PNG_MEDIA, detail=detail)


def decode_bytes(
    pipe: tasks.Pipeline, data: bytes, label: str, *, output_format: str = "png"
) -> Payload:
    """Codes (a ``.npy``) decoded: a grid picture (``aeinfer decode codes.npy -o grid.png``)
    or the items as ``.npy`` (``-o items.npy``)."""
    _check_format(output_format, FORMATS)
    items = tasks.decode(pipe, codes_from_bytes(data, label), label)
    return items_payload(pipe, items, output_format)


def sample_bytes(
    pipe: tasks.Pipeline,
    count: int,
    seed: int | None,
    *,
    output_format: str = "png",
    latents: bool = False,
) -> Payload:
    """``count`` draws from the prior, as ``aeinfer sample`` writes them: a grid, the items as
    ``.npy``, or with ``latents`` the codes. ``detail["seed"]`` is the seed used."""
    _check_format(output_format, FORMATS)
    if latents and output_format != "npy":
        raise InputError("latents=true returns the codes as an array; pass format=npy")
    drawn = tasks.sample(pipe, count, seed)
    if latents:
        payload = Payload(npy_bytes(drawn.latents), NPY_MEDIA)
    else:
        payload = items_payload(pipe, drawn.items, output_format)
    return Payload(payload.body, payload.media_type, detail={"seed": drawn.seed})


def interpolate_bytes(
    pipe: tasks.Pipeline,
    first: bytes,
    last: bytes,
    steps: int,
    labels: Sequence[str],
    *,
    output_format: str = "png",
    force: bool = False,
) -> Payload:
    """The line between two inputs' codes decoded in ``steps`` items: one strip picture (what
    ``aeinfer interpolate A B -o strip.png`` writes) or ``.npy`` (steps, *item)."""
    _check_format(output_format, FORMATS)
    items = tasks.interpolate(pipe, first, last, steps, labels, force=force)
    return items_payload(pipe, items, output_format, strip=True)


__all__ = [
    "CODE_FORMATS",
    "FORMATS",
    "MEDIA_TYPES",
    "Payload",
    "codes_from_bytes",
    "codes_payload",
    "decode_bytes",
    "denoise_routed_bytes",
    "encode_bytes",
    "file_payload",
    "grid_picture",
    "interpolate_bytes",
    "items_payload",
    "json_bytes",
    "per_file_result",
    "reconstruct_bytes",
    "sample_bytes",
    "score_bytes",
    "score_document",
    "strip_picture",
]
