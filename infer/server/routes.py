"""The HTTP routes: models, tasks, probes, metrics.

``POST /v1/models/{name}/{task}`` is the whole API: the input is the raw request body with its
Content-Type (an image, or a ``.npy``/``.csv``/``.wav`` for signal models and for codes), or a
multipart field ``file`` (interpolate: ``first`` and ``last``); options are query parameters.
The event loop only checks and reads the request: the task runs in the model's worker thread
(:mod:`aeinfer.server.batching`), through the same bytes-in/bytes-out functions as the command
line's results (:mod:`aeinfer.exchange`), so the bytes that come back are the bytes
``aeinfer`` writes for the same input:

==============  =======================================  ======================================
task            returns                                  as the command line's
==============  =======================================  ======================================
denoise         the denoised input, at its size (PNG)    ``aeinfer denoise -m NAME - -o -``
reconstruct     original | reconstruction side by side,  ``aeinfer reconstruct - --per-file -o
                at the input's size (PNG)                -``
score           JSON: the score, its percentile, the     ``aeinfer score FILE --json`` (stdout)
                card's reference distribution
encode          JSON ``{model, shape, codes}``, or       ``aeinfer encode - -o -`` (npy)
                ``?format=npy``
decode          a PNG grid, or ``?format=npy``           ``aeinfer decode - -o grid.png`` / ``-o
                                                         x.npy``
sample          a PNG grid, or ``?format=npy``           ``aeinfer sample -o grid.png``
                (``&latents=true``: the codes)
interpolate     a PNG strip, or ``?format=npy``          ``aeinfer interpolate A B -o s.png``
==============  =======================================  ======================================

A signal model's denoise/reconstruct result is in the input's own format (``.npy``, ``.csv``,
``.wav``). Notes the command line prints on stderr come back in ``X-Aeinfer-Notes`` (a JSON
list), the seed a sample used in ``X-Aeinfer-Seed``.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
import warnings
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from io import BytesIO
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any, cast

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from aeinfer import exchange, tasks
from aeinfer.card import (
    DECODE,
    DENOISE,
    ENCODE,
    FP32,
    IMAGE,
    INTERPOLATE,
    RECONSTRUCT,
    SAMPLE,
    SCORE,
    TASKS,
    Card,
)
from aeinfer.server.defaults import MAX_SAMPLES, MAX_STEPS
from aeinfer.server.limits import ApiError, error_body, error_parts
from aeinfer.server.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE

if TYPE_CHECKING:
    from aeinfer.server.app import ServerState

JSON_MEDIA = "application/json"
MULTIPART = "multipart/form-data"
OCTET = "application/octet-stream"
NPY_TYPES = frozenset({OCTET, "application/x-npy", "application/npy"})
SIGNAL_TYPES = NPY_TYPES | {"text/csv", "audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave"}
BODY_LABEL = "<body>"
CLIENT_CLOSED = 499
"""Recorded (never delivered) when the client went away before its answer."""
MAX_LABEL = 100
MULTIPART_FIELDS = 8
MULTIPART_FIELD_BYTES = 64 << 10
DEFAULT_SAMPLES = 16
DEFAULT_STEPS = 10

ANY_METHOD = ["GET", "POST", "PUT", "PATCH", "DELETE"]
PER_INPUT = (RECONSTRUCT, DENOISE, SCORE, ENCODE)
"""Tasks whose requests are batched together: one input each."""
OPTIONS: dict[str, tuple[str, ...]] = {
    ENCODE: ("precision", "format", "force"),
    DECODE: ("precision", "format"),
    RECONSTRUCT: ("precision", "force", "ensemble"),
    DENOISE: ("precision", "force", "ensemble"),
    SCORE: ("precision",),
    SAMPLE: ("precision", "n", "seed", "format", "latents"),
    INTERPOLATE: ("precision", "steps", "format", "force"),
}
"""The query parameters each task takes; any other is refused (a typo is not ignored)."""
AUTO_DENOISE_OPTIONS = ("precision", "ensemble")
"""``POST /v1/denoise`` chooses the model itself, so it takes no ``force``."""
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

Handler = Callable[[Request], Awaitable[Response]]


def handled(handler: Handler) -> Handler:
    """Every error a handler raises, as one status code and one JSON line."""

    @functools.wraps(handler)
    async def wrapper(request: Request) -> Response:
        try:
            return await handler(request)
        except ClientDisconnect:
            return Response(status_code=CLIENT_CLOSED)
        except Exception as exc:
            status, message, headers = error_parts(exc)
            return error_response(status, message, headers)

    return wrapper


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(error_body(message), status, headers=headers, media_type=JSON_MEDIA)


def json_response(document: Any, status: int = 200) -> Response:
    return Response(exchange.json_bytes(document), status, media_type=JSON_MEDIA)


def server_of(request: Request) -> ServerState:
    return cast("ServerState", request.app.state.server)


# --- models and probes ----------------------------------------------------------------------------


@handled
async def list_models(request: Request) -> Response:
    """The served models as ``aeinfer models --json`` lists them, less the folder on the
    server (``path`` is null)."""
    return json_response([{**card.summary(), "path": None} for card in server_of(request).cards])


@handled
async def model_card(request: Request) -> Response:
    """A model's card, as ``aeinfer info NAME --json`` prints it."""
    return json_response(server_of(request).card(request.path_params["name"]).to_json())


@handled
async def healthz(request: Request) -> Response:
    return json_response({"status": "ok"})


@handled
async def readyz(request: Request) -> Response:
    state = server_of(request)
    problem = state.not_ready()
    if problem is not None:
        return error_response(503, problem, {"Retry-After": "1"})
    return json_response({"status": "ready", "models": state.names})


@handled
async def metrics(request: Request) -> Response:
    state = server_of(request)
    text = state.metrics.render(state.batcher.depths)
    return Response(text, headers={"Content-Type": METRICS_CONTENT_TYPE})


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own errors (no such route, method not allowed) as JSON lines."""
    if not isinstance(exc, HTTPException):  # pragma: no cover - registered for HTTPException
        status, message, headers = error_parts(exc)
        return error_response(status, message, headers)
    messages = {404: "not found (the API is under /v1; see /docs)", 405: "method not allowed"}
    message = messages.get(exc.status_code, str(exc.detail))
    return error_response(exc.status_code, message, dict(exc.headers or {}))


# --- reading a request ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Upload:
    """One input of a request: its bytes, and the name errors and scores give it."""

    data: bytes
    label: str


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def upload_label(filename: str | None, field: str) -> str:
    """A multipart file's own name (its last part, printable, bounded), else ``<field>``."""
    name = PurePosixPath((filename or "").replace("\\", "/")).name
    name = _CONTROL.sub("", name)[:MAX_LABEL]
    return name or f"<{field}>"


class Deadline:
    """The time a request has left, from its arrival (``--timeout-s``)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._end = asyncio.get_running_loop().time() + seconds

    @property
    def left(self) -> float:
        return max(0.0, self._end - asyncio.get_running_loop().time())


async def read_body(request: Request, deadline: Deadline) -> bytes:
    try:
        return await asyncio.wait_for(request.body(), deadline.left)
    except asyncio.TimeoutError:
        raise ApiError(
            408,
            f"request body not received within {deadline.seconds:g} s (--timeout-s)",
            {"Connection": "close"},
        ) from None


def accepted_types(card: Card, task: str) -> tuple[frozenset[str] | None, str]:
    """The raw-body media types a task takes on this model (None: any ``image/*``), and how to
    say so."""
    if task == DECODE:
        return NPY_TYPES, "a .npy of codes (application/octet-stream)"
    if card.data.modality == IMAGE:
        return None, "an image (image/png, image/jpeg, ...)"
    return SIGNAL_TYPES, "a signal (.npy as application/octet-stream, text/csv or audio/wav)"


def is_accepted(kind: str, types: frozenset[str] | None) -> bool:
    if types is None:
        return kind.startswith("image/") or kind == OCTET
    return kind in types


async def uploads(
    request: Request, card: Card, task: str, fields: Sequence[str], deadline: Deadline
) -> list[Upload]:
    """The request's inputs: the raw body, or the named multipart fields."""
    kind = media_type(request)
    types, wanted = accepted_types(card, task)
    if kind != MULTIPART and (len(fields) > 1 or not is_accepted(kind, types)):
        shown = repr(kind) if kind else "none"
        if len(fields) > 1:
            raise ApiError(
                415,
                f"Content-Type {shown}: {task} takes two inputs: send multipart/form-data with "
                f"the fields {' and '.join(repr(f) for f in fields)}",
            )
        raise ApiError(
            415,
            f"unsupported Content-Type {shown} for {task}: send {wanted} as the body, or "
            f"multipart/form-data with a field {fields[0]!r}",
        )
    body = await read_body(request, deadline)
    if kind != MULTIPART:
        return [Upload(body, BODY_LABEL)]
    boundary = multipart_boundary(request)
    if boundary and b"--" + boundary + b"--" not in body:
        raise ApiError(400, "malformed multipart body (no closing boundary: truncated?)")
    try:
        form = await request.form(
            max_files=len(fields), max_fields=MULTIPART_FIELDS, max_part_size=MULTIPART_FIELD_BYTES
        )
    except HTTPException as exc:
        raise ApiError(400, f"malformed multipart body ({exc.detail})") from None
    except Exception as exc:  # python-multipart's own parse errors
        raise ApiError(400, f"malformed multipart body ({type(exc).__name__})") from None
    found = []
    try:
        for field in fields:
            item = form.get(field)
            if item is None or isinstance(item, str):
                raise ApiError(
                    422, f"multipart field {field!r} is missing or not a file (-F {field}=@FILE)"
                )
            found.append(Upload(await item.read(), upload_label(item.filename, field)))
    finally:
        await form.close()
    return found


def multipart_boundary(request: Request) -> bytes | None:
    """The boundary a multipart Content-Type names (None if it names none)."""
    for part in request.headers.get("content-type", "").split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "boundary" and value:
            return value.strip('"').encode("latin-1")
    return None


def check_pixels(upload: Upload, limit: int) -> None:
    """413 for an image whose header says it is larger than ``limit`` pixels — read before
    anything is decoded, so a decompression bomb never reaches the decoder."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(BytesIO(upload.data)) as image:
                width, height = image.size
    except Image.DecompressionBombError as exc:  # Pillow's limit is set to --max-pixels
        found = re.search(r"\((\d+) pixels\)", str(exc))
        size = f"{found.group(1)} pixels" if found else f"over {limit} pixels"
        raise ApiError(
            413,
            f"{upload.label}: image too large ({size}; this server takes at most {limit}, "
            "--max-pixels)",
        ) from None
    except Exception:  # not an image Pillow identifies: the task says why, in its words
        return
    if width * height > limit:
        raise ApiError(
            413,
            f"{upload.label}: image is {width}×{height} = {width * height} pixels; this server "
            f"takes at most {limit} (--max-pixels)",
        )


# --- options --------------------------------------------------------------------------------------


def query_options(
    request: Request, task: str, allowed: Sequence[str] | None = None
) -> dict[str, str]:
    allowed = OPTIONS[task] if allowed is None else allowed
    options = dict(request.query_params)
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ApiError(
            422,
            f"unknown query parameter {unknown[0]!r} for {task}; valid: {', '.join(allowed)}",
        )
    return options


def int_option(options: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    text = options.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise ApiError(422, f"{name} must be an integer from {low} to {high}, got {text!r}")
    return value


def bool_option(options: dict[str, str], name: str) -> bool:
    text = options.get(name, "false").lower()
    if text not in ("true", "false", "1", "0", "yes", "no"):
        raise ApiError(422, f"{name} must be true or false, got {options[name]!r}")
    return text in ("true", "1", "yes")


def format_option(options: dict[str, str], valid: Sequence[str]) -> str:
    value = options.get("format", valid[0])
    if value not in valid:
        raise ApiError(422, f"format must be one of {', '.join(valid)}, got {value!r}")
    return value


@dataclass(frozen=True)
class _CardOnly:
    """What :func:`aeinfer.tasks.require` reads of a pipeline: its card (the model need not be
    loaded to say what it cannot do)."""

    card: Card


# --- the tasks ------------------------------------------------------------------------------------


@handled
async def run_task(request: Request) -> Response:
    if request.method != "POST":
        raise ApiError(405, "method not allowed: tasks are POST", {"Allow": "POST"})
    state = server_of(request)
    deadline = Deadline(state.settings.timeout_s)
    name, task = request.path_params["name"], request.path_params["task"]
    card = state.card(name)
    if task not in TASKS:
        raise ApiError(404, f"unknown task {task!r}; valid: {', '.join(TASKS)}")
    tasks.require(cast(tasks.Pipeline, _CardOnly(card)), task)
    options = query_options(request, task)
    precision = state.check_precision(name, options.get("precision", FP32))
    if task == SAMPLE:
        count = int_option(options, "n", DEFAULT_SAMPLES, 1, MAX_SAMPLES)
        seed = options.get("seed")
        seed_value = None if seed is None else int_option(options, "seed", 0, 0, 2**63 - 1)
        fmt = format_option(options, exchange.FORMATS)
        latents = bool_option(options, "latents")
        job: Callable[[tasks.Pipeline], exchange.Payload] = functools.partial(
            _sample, count=count, seed=seed_value, fmt=fmt, latents=latents
        )
        return respond(await state.run_one(name, precision, task, job, deadline))
    fields = ("first", "last") if task == INTERPOLATE else ("file",)
    fmt = format_option(options, exchange.CODE_FORMATS if task == ENCODE else exchange.FORMATS)
    steps = int_option(options, "steps", DEFAULT_STEPS, 2, MAX_STEPS)
    force = bool_option(options, "force")
    ensemble = bool_option(options, "ensemble")
    if ensemble:  # 409 before the upload is read, as for a task the model cannot do
        tasks.check_ensemble(card)
    found = await uploads(request, card, task, fields, deadline)
    if card.data.modality == IMAGE and task != DECODE:
        for upload in found:
            check_pixels(upload, state.settings.max_pixels)
    if task in PER_INPUT:
        key = Batch(task, precision, fmt, force, ensemble)
        return respond(await state.run_batched(name, key, found[0], deadline))
    if task == DECODE:
        job = functools.partial(_decode, upload=found[0], fmt=fmt)
    else:
        job = functools.partial(
            _interpolate, first=found[0], last=found[1], steps=steps, fmt=fmt, force=force
        )
    return respond(await state.run_one(name, precision, task, job, deadline))


@handled
async def run_auto_denoise(request: Request) -> Response:
    """``POST /v1/denoise``: what ``aeinfer denoise`` does without ``--model`` — the bundled
    digit denoiser for one digit on plain paper, the photo denoiser for any other picture
    (each where this server serves it); the model that made the result in X-Aeinfer-Model."""
    from aeinfer.zoo import DENOISE_MODEL, PHOTO_MODEL

    if request.method != "POST":
        raise ApiError(405, "method not allowed: tasks are POST", {"Allow": "POST"})
    state = server_of(request)
    deadline = Deadline(state.settings.timeout_s)
    served = [name for name in (DENOISE_MODEL, PHOTO_MODEL) if name in state.names]
    if not served:
        raise ApiError(
            404,
            f"/v1/denoise needs the bundled {DENOISE_MODEL!r} or {PHOTO_MODEL!r} model; this "
            f"server serves: {', '.join(state.names)}",
        )
    options = query_options(request, DENOISE, AUTO_DENOISE_OPTIONS)
    precision = options.get("precision", FP32)
    for name in served:
        state.check_precision(name, precision)
    ensemble = bool_option(options, "ensemble")
    photos = PHOTO_MODEL if PHOTO_MODEL in served else None
    if ensemble:  # the photo model's option (the digit model is not trained on rotations)
        tasks.check_ensemble(state.card(photos or served[0]))
    found = await uploads(request, state.card(served[0]), DENOISE, ("file",), deadline)
    check_pixels(found[0], state.settings.max_pixels)

    def job(first: tasks.Pipeline) -> exchange.Payload:
        route = None
        if first.card.name == photos:  # only the photo model is served: every picture is its
            first = replace(first, ensemble=ensemble)
        elif photos is not None:  # the digit model first, as the command does
            route = replace(state.pipeline(photos, precision), ensemble=ensemble)
        return exchange.denoise_routed_bytes(first, route, found[0].data, found[0].label)

    return respond(await state.run_one(served[0], precision, DENOISE, job, deadline))


def _sample(
    pipe: tasks.Pipeline, *, count: int, seed: int | None, fmt: str, latents: bool
) -> exchange.Payload:
    return exchange.sample_bytes(pipe, count, seed, output_format=fmt, latents=latents)


def _decode(pipe: tasks.Pipeline, *, upload: Upload, fmt: str) -> exchange.Payload:
    return exchange.decode_bytes(pipe, upload.data, upload.label, output_format=fmt)


def _interpolate(
    pipe: tasks.Pipeline, *, first: Upload, last: Upload, steps: int, fmt: str, force: bool
) -> exchange.Payload:
    labels = [first.label, last.label]
    return exchange.interpolate_bytes(
        pipe, first.data, last.data, steps, labels, output_format=fmt, force=force
    )


@dataclass(frozen=True)
class Batch:
    """What requests must share to run in one batch: the task and its options."""

    task: str
    precision: str
    format: str
    force: bool
    ensemble: bool = False


def run_batch(
    pipe: tasks.Pipeline, key: Batch, batch: Sequence[Upload]
) -> list[exchange.Payload | Exception]:
    """A batch of one task's requests as one list through :mod:`aeinfer.exchange`."""
    sources = [upload.data for upload in batch]
    labels = [upload.label for upload in batch]
    results: list[Any]
    if key.task in (RECONSTRUCT, DENOISE):
        if key.ensemble:
            pipe = replace(pipe, ensemble=True)  # the card allows it: checked on the request
        results = exchange.reconstruct_bytes(pipe, sources, labels, task=key.task, force=key.force)
    elif key.task == SCORE:
        results = exchange.score_bytes(pipe, sources, labels)
    else:
        results = exchange.encode_bytes(
            pipe, sources, labels, output_format=key.format, force=key.force
        )
    return results


def respond(payload: exchange.Payload) -> Response:
    headers = {}
    if payload.notes:
        headers["X-Aeinfer-Notes"] = json.dumps(list(payload.notes))  # ASCII: \u escapes
    if "seed" in payload.detail:
        headers["X-Aeinfer-Seed"] = str(payload.detail["seed"])
    if "model" in payload.detail:
        headers["X-Aeinfer-Model"] = str(payload.detail["model"])
    return Response(payload.body, headers=headers, media_type=payload.media_type)


__all__ = [
    "OPTIONS",
    "Upload",
    "healthz",
    "http_error",
    "list_models",
    "metrics",
    "model_card",
    "readyz",
    "run_auto_denoise",
    "run_batch",
    "run_task",
]
