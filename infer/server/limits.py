"""The server's settings, its limits, and every error as one status code and one JSON line.

Every error a client gets is ``{"error": "<one line>"}`` — the library's own message where the
client caused it (as the command line prints it, without ``aeinfer: error:``), never a
traceback or a path on the server. Typed errors map to status codes in one place,
:func:`status_for`:

==========================================  ======  ==========================================
what                                        status  raised by
==========================================  ======  ==========================================
body over ``--max-body-mb``                 413     :class:`Guard` (Content-Length, or counted)
header fields over 16 KB                    431     :class:`Guard`
image over ``--max-pixels``                 413     the routes, from the image header
wrong Content-Type for the route            415     the routes
malformed multipart body                    400     the routes
input the model cannot read or take         422     :class:`~aeinfer.errors.InputError`
unknown model, task or URL                  404     :class:`~aeinfer.errors.ModelNotFoundError`
task the model cannot do                    409     :class:`~aeinfer.errors.CapabilityError`
no or wrong API key                         401     :class:`Guard`
body not sent within ``--timeout-s``        408     the routes
device or runtime unavailable               503     ``DeviceUnavailableError``, runtime missing
queue full (``--max-queue``), shutting down 503     + ``Retry-After``
answer not ready within ``--timeout-s``     504     the routes
anything else                               500     logged on the server, a generic line sent
==========================================  ======  ==========================================

:class:`Guard` is the outermost layer (pure ASGI): it checks the API key, refuses bodies over
the limit before reading them (by Content-Length) and while reading them (counted, for chunked
uploads), adds the cross-origin isolation headers the web page needs for WebAssembly threads
to every response, and records every request in the metrics.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from aeinfer.errors import (
    AeinferError,
    CapabilityError,
    DeviceUnavailableError,
    InputError,
    ModelIntegrityError,
    ModelNotFoundError,
    OutOfDomainError,
    RuntimeMissingError,
)
from aeinfer.server.batching import QueueFull, Stopped
from aeinfer.server.defaults import (
    API_KEY_ENV,
    DEFAULT_HOST,
    DEFAULT_MAX_BATCH,
    DEFAULT_MAX_BODY_MB,
    DEFAULT_MAX_PIXELS,
    DEFAULT_MAX_QUEUE,
    DEFAULT_MAX_WAIT_MS,
    DEFAULT_PORT,
    DEFAULT_TIMEOUT_S,
)
from aeinfer.server.metrics import Metrics

LOG = logging.getLogger("aeinfer.server")

RETRY_AFTER_S = 1
MEGABYTE = 1 << 20
MAX_HEAD_BYTES = 16 << 10
"""A request's header fields together at most (431 past it); uvicorn's h11 refuses, with a
plain 400, a head it has not completed within 64 KB (see aeinfer.server.app)."""
DRAIN_FACTOR = 4
"""A body refused for its size is still read and dropped by uvicorn (keeping the connection, so
the client sees the 413 instead of a reset), unless it declares more than this many times the
limit: then the connection is closed after the answer."""

ISOLATION_HEADERS = (
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-embedder-policy", b"require-corp"),
    (b"x-content-type-options", b"nosniff"),
)
"""Sent with every response: the page at / uses WebAssembly threads (SharedArrayBuffer), which
browsers allow only in a cross-origin isolated page."""

PROTECTED_PREFIXES = ("/v1/", "/metrics")
"""With an API key, these need it: the models' API and the metrics. The probes (/healthz,
/readyz), the docs and the static page run no model and hold no data, and stay open (a browser
cannot send a key to load a page; a load balancer's probe often cannot either)."""


@dataclass(frozen=True)
class Settings:
    """What ``aeinfer serve`` was told (see ``aeinfer serve --help``)."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    models: tuple[str, ...] = ()
    """Bundled names or model directories; none: every bundled model."""
    device: str = "auto"
    max_batch: int = DEFAULT_MAX_BATCH
    max_wait_ms: float = DEFAULT_MAX_WAIT_MS
    max_queue: int = DEFAULT_MAX_QUEUE
    max_body_mb: float = DEFAULT_MAX_BODY_MB
    max_pixels: int = DEFAULT_MAX_PIXELS
    timeout_s: float = DEFAULT_TIMEOUT_S
    api_key: str | None = field(default=None, repr=False)
    access_log: bool = False

    @property
    def max_body_bytes(self) -> int:
        return int(self.max_body_mb * MEGABYTE)


class ApiError(Exception):
    """An error the server answers with ``status`` and ``{"error": message}``."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.headers = dict(headers or {})


class BodyTooLarge(ApiError):
    def __init__(self, limit: int) -> None:
        super().__init__(
            413, f"request body too large: over {limit / MEGABYTE:g} MB (--max-body-mb)"
        )


STATUS_OF: tuple[tuple[type[BaseException], int], ...] = (
    (InputError, 422),
    (CapabilityError, 409),
    (ModelNotFoundError, 404),
    (DeviceUnavailableError, 503),
    (RuntimeMissingError, 503),
    (QueueFull, 503),
    (Stopped, 503),
)
"""Typed errors → status codes, first match wins (ApiError carries its own)."""
_RETRY = (QueueFull, Stopped)
_PATH = re.compile(r"(?<![\w.~-])(?:~|\.{1,2})?/(?:[\w.@+-]+/)+[\w.@+-]*")
"""Two or more path components after a slash that follows no word: /a/b, ./a/b, ~/a/b."""


def scrub(message: str) -> str:
    """One line, with anything that looks like a path on the server replaced."""
    line = message.strip().splitlines()[0] if message.strip() else "error"
    return _PATH.sub("<server path>", line)


def status_for(exc: BaseException) -> int:
    if isinstance(exc, ApiError):
        return exc.status
    for kind, status in STATUS_OF:
        if isinstance(exc, kind):
            return status
    return 500


def error_parts(exc: BaseException) -> tuple[int, str, dict[str, str]]:
    """(status, one-line message, headers) for any exception; unexpected ones are logged with
    their traceback here and sent as a generic line."""
    status = status_for(exc)
    headers = dict(exc.headers) if isinstance(exc, ApiError) else {}
    if isinstance(exc, _RETRY):
        headers.setdefault("Retry-After", str(RETRY_AFTER_S))
    if isinstance(exc, ApiError):
        return status, str(exc), headers
    if isinstance(exc, OutOfDomainError):
        # What to do, in the terms of HTTP (the library's message says only why).
        use = f"for a photograph use /v1/models/{exc.instead}/<task>, " if exc.instead else ""
        line = f"{scrub(str(exc))}; {use}crop one digit per picture, or add force=true"
        return status, line, headers
    if status < 500 or isinstance(exc, _RETRY):
        return status, scrub(str(exc)), headers
    if isinstance(exc, (DeviceUnavailableError, RuntimeMissingError)):
        return status, scrub(str(exc)), headers
    if isinstance(exc, ModelIntegrityError):
        LOG.error("model failed to load: %s", exc)
        return 500, "a model's files failed to load on the server (see its log)", headers
    if isinstance(exc, AeinferError):
        LOG.error("request failed: %s", exc)
    else:
        LOG.exception("unexpected error", exc_info=exc)
    return 500, "internal server error (see the server's log)", headers


def error_body(message: str) -> bytes:
    return json.dumps({"error": message}).encode()


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


async def send_error(send: Send, status: int, message: str, headers: Mapping[str, str]) -> None:
    """A JSON error response, sent straight through ASGI."""
    body = error_body(message)
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def route_of(path: str) -> str:
    """The route template a path falls under: the metrics' label (bounded in number)."""
    if path.startswith("/v1/models/"):
        rest = path[len("/v1/models/") :].strip("/")
        return "/v1/models/{name}/{task}" if "/" in rest else "/v1/models/{name}"
    if path in (
        "/v1/models", "/v1/denoise", "/healthz", "/readyz", "/metrics", "/docs",
        "/openapi.json", "/",
    ):  # fmt: skip
        return path
    return "/{static}"


def _presented_key(headers: list[tuple[bytes, bytes]]) -> bytes | None:
    for name, value in headers:
        if name == b"x-api-key":
            return value.strip()
        if name == b"authorization" and value[:7].lower() == b"bearer ":
            return value[7:].strip()
    return None


class Guard:
    """The outermost ASGI layer: API key, body size, isolation headers, metrics."""

    def __init__(self, app: ASGIApp, settings: Settings, metrics: Metrics) -> None:
        self.app = app
        self.limit = settings.max_body_bytes
        self.key = settings.api_key.encode() if settings.api_key else None
        self.metrics = metrics

    def _authorized(self, scope: Scope) -> bool:
        if self.key is None or not scope["path"].startswith(PROTECTED_PREFIXES):
            return True
        presented = _presented_key(scope.get("headers", []))
        return presented is not None and hmac.compare_digest(presented, self.key)

    def _declared_length(self, scope: Scope) -> int | None:
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    return int(value)
                except ValueError:
                    return None
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def send_isolated(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                message["headers"] = [*message.get("headers", []), *ISOLATION_HEADERS]
            await send(message)

        received = 0

        async def receive_counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        self.metrics.started()
        try:
            if not self._authorized(scope):
                await send_error(
                    send_isolated,
                    401,
                    "missing or wrong API key (send 'Authorization: Bearer KEY' or 'X-API-Key')",
                    {"WWW-Authenticate": "Bearer"},
                )
                return
            head = sum(len(k) + len(v) + 4 for k, v in scope.get("headers", []))
            if head > MAX_HEAD_BYTES:
                message = (
                    f"request header fields too large ({head} bytes; at most {MAX_HEAD_BYTES})"
                )
                await send_error(send_isolated, 431, message, {"Connection": "close"})
                return
            declared = self._declared_length(scope)
            if declared is not None and declared > self.limit:
                # Refused unread; a huge body also closes the connection (see DRAIN_FACTOR).
                close = {"Connection": "close"} if declared > DRAIN_FACTOR * self.limit else {}
                await send_error(send_isolated, 413, str(BodyTooLarge(self.limit)), close)
                return
            await self.app(scope, receive_counted, send_isolated)
        finally:
            seconds = time.perf_counter() - started
            self.metrics.finished(route_of(scope["path"]), scope["method"], status[0], seconds)


__all__ = [
    "API_KEY_ENV",
    "ApiError",
    "BodyTooLarge",
    "Guard",
    "Settings",
    "error_body",
    "error_parts",
    "route_of",
    "scrub",
    "status_for",
]
