"""``aeinfer serve``: the models over HTTP, on Starlette and uvicorn.

Why Starlette and not FastAPI: FastAPI's automatic OpenAPI comes with pydantic (and
pydantic-core, a compiled extension of several MB), which this project already keeps out of its
command line for its import cost; the API here is one task route with a handful of query
parameters, so its OpenAPI document is written by hand (:mod:`aeinfer.server.openapi`) and
served at ``/openapi.json``, with a docs page at ``/docs`` drawn on the server (no CDN, no
JavaScript). uvicorn runs with its pure-Python h11 protocol on purpose, whatever else is
installed: its limits (an incomplete request head of at most 64 KB) are then the same
everywhere.

:func:`build` resolves and reads the models' cards (an unknown ``--model`` fails here, before
anything listens); the ONNX Runtime sessions are made in a background thread at start-up, and
``/readyz`` answers 503 until they are. :func:`run` binds the socket and runs uvicorn, whose
shutdown (SIGINT, SIGTERM) stops accepting connections, lets the requests in flight finish
(up to ``--timeout-s`` more), then the lifespan's end lets every model worker finish what is
queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import importlib.util
import mimetypes
import socket
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from aeinfer import exchange, tasks
from aeinfer.card import FP32, Card, read_card
from aeinfer.errors import AeinferError, InputError, ModelNotFoundError
from aeinfer.server import openapi, routes
from aeinfer.server.batching import Batcher
from aeinfer.server.limits import LOG, ApiError, ASGIApp, Guard, Settings, scrub
from aeinfer.server.metrics import Metrics
from aeinfer.zoo import bundled_names, resolve

Say = Callable[[str], None]
SHUTDOWN_GRACE_S = 5.0
"""Added to --timeout-s for uvicorn's graceful shutdown: requests in flight may take that long."""
LOOPBACK = ("127.0.0.1", "::1", "localhost")
MAX_INCOMPLETE_HEAD = 64 << 10
"""uvicorn (h11) refuses, with a plain 400, a request head still incomplete past this many
bytes; a complete head over 16 KB reaches the app and is refused there with a JSON 431."""


class ServerState:
    """What the routes share: the served cards, their pipelines, the batcher, the metrics."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.sources: dict[str, str] = {}
        self._cards: dict[str, Card] = {}
        for source in settings.models or tuple(bundled_names()):
            card = read_card(resolve(source))
            if card.name in self._cards:
                raise InputError(f"two models are named {card.name!r}; serve one of them")
            self._cards[card.name] = card
            self.sources[card.name] = source
        if not self._cards:
            raise ModelNotFoundError("no models to serve: none is bundled; pass --model DIR")
        self.metrics = Metrics()
        self.batcher = Batcher(
            max_batch=settings.max_batch,
            max_wait=settings.max_wait_ms / 1000.0,
            max_queue=settings.max_queue,
            observe=self.metrics.batch,
        )
        self._pipelines: dict[tuple[str, str], tasks.Pipeline] = {}
        self._lock = threading.Lock()
        self._loaded = 0
        self._load_error: str | None = None
        self._ready = threading.Event()

    # --- models -----------------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        return list(self._cards)

    @property
    def cards(self) -> list[Card]:
        return list(self._cards.values())

    def card(self, name: str) -> Card:
        if name not in self._cards:
            raise ApiError(
                404, f"unknown model {name!r}; this server serves: {', '.join(self._cards)}"
            )
        return self._cards[name]

    def check_precision(self, name: str, precision: str) -> str:
        from aeinfer.model import check_precision

        return check_precision(self.card(name), precision)

    def pipeline(self, name: str, precision: str = FP32) -> tasks.Pipeline:
        """The model's pipeline at ``precision``, loaded once (in a worker thread)."""
        key = (name, precision)
        with self._lock:
            pipe = self._pipelines.get(key)
        if pipe is None:
            from aeinfer.model import load_model

            model = load_model(self.sources[name], self.settings.device, precision)
            pipe = tasks.pipeline(model)
            with self._lock:
                self._pipelines[key] = pipe
        return pipe

    def load_all(self) -> None:
        """Load every model's fp32 sessions and run one item through each (start-up)."""
        import numpy as np

        try:
            for name, card in self._cards.items():
                pipe = self.pipeline(name)
                shape = card.data.shape
                if all(size is not None for size in shape) and card.data.range is not None:
                    low = card.data.range[0]
                    pipe.model.reconstruct(np.full((1, *shape), low, np.float32))
                self._loaded += 1
        except Exception as exc:  # reported by /readyz; requests say it again
            self._load_error = f"models not loaded: {exc}"
            if not isinstance(exc, AeinferError):
                LOG.exception("loading the models failed")
        finally:
            self._ready.set()

    def not_ready(self) -> str | None:
        """Why the server is not ready (None when it is)."""
        if self._load_error is not None:
            return scrub(self._load_error)
        if not self._ready.is_set():
            return f"loading models ({self._loaded} of {len(self._cards)} loaded)"
        return None

    def wait_ready(self, timeout: float | None = None) -> bool:
        return self._ready.wait(timeout)

    # --- running ------------------------------------------------------------------------------
    async def _wait(self, future: Any, deadline: routes.Deadline) -> Any:
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), deadline.left)
        except asyncio.TimeoutError:
            future.cancel()  # skipped by the worker if it has not started
            raise ApiError(
                504, f"no answer within {deadline.seconds:g} s (--timeout-s); the server is busy"
            ) from None

    async def run_batched(
        self, name: str, key: routes.Batch, upload: routes.Upload, deadline: routes.Deadline
    ) -> exchange.Payload:
        """One input of a per-input task, batched with the other requests of the same key."""

        def runner(batch: Sequence[routes.Upload]) -> list[Any]:
            return routes.run_batch(self.pipeline(name, key.precision), key, batch)

        future = self.batcher.submit(name, key, key.task, runner, upload)
        return await self._wait(future, deadline)

    async def run_one(
        self,
        name: str,
        precision: str,
        task: str,
        job: Callable[[tasks.Pipeline], exchange.Payload],
        deadline: routes.Deadline,
    ) -> exchange.Payload:
        """A task that is never batched (decode, sample, interpolate), in the model's worker."""

        def runner(batch: Sequence[Any]) -> list[Any]:
            return [job(self.pipeline(name, precision))]

        future = self.batcher.submit(name, object(), task, runner, None)
        return await self._wait(future, deadline)


# --- the page at / ------------------------------------------------------------------------------


def web_assets(models: Sequence[str] | None = None) -> tuple[Path | None, str | None]:
    """The web page's folder for the served ``models`` (``aeinfer.web.assets()``; default every
    bundled model), or why there is none."""
    if importlib.util.find_spec("aeinfer.web") is None:
        return None, "this aeinfer has no web page (aeinfer.web is not installed)"
    from aeinfer import web  # type: ignore[attr-defined]

    try:
        return Path(web.assets(models)), None
    except AeinferError as exc:  # WebAssetsMissing: says how to build them
        return None, str(exc)


MISSING_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>aeinfer</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:42em;margin:3em auto;padding:0 1em}}
code{{background:#f3f3f3;padding:0 .2em}}</style></head>
<body><h1>aeinfer</h1><p>The web page is not available: {message}</p>
<p>The HTTP API is served: see <a href="/docs">/docs</a>.</p></body></html>
"""


def page_routes(folder: Path | None, message: str | None) -> list[BaseRoute]:
    if folder is not None:
        from starlette.staticfiles import StaticFiles

        # The page's ES modules must be served as JavaScript; some systems' mime tables lack
        # .mjs, and browsers refuse a module of any other type.
        mimetypes.add_type("text/javascript", ".mjs")

        return [Mount("/", app=StaticFiles(directory=folder, html=True), name="web")]

    async def missing(request: Request) -> Response:
        # The message may name folders on the server: the operator sees it whole at start-up.
        return HTMLResponse(MISSING_PAGE.format(message=html.escape(scrub(message or ""))))

    return [Route("/", missing, methods=["GET", "HEAD"])]


# --- the application ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Built:
    """The ASGI application to run, its shared state, and the web page's status."""

    app: ASGIApp
    state: ServerState
    web_note: str | None


def build(settings: Settings) -> Built:
    state = ServerState(settings)
    folder, web_note = web_assets(list(settings.models) or None)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        threading.Thread(target=state.load_all, name="aeinfer-load", daemon=True).start()
        yield
        # uvicorn has let the requests in flight finish; the workers finish what is queued.
        await asyncio.to_thread(state.batcher.stop, settings.timeout_s)

    async def spec(request: Request) -> Response:
        return routes.json_response(openapi.spec(state.names))

    async def docs(request: Request) -> Response:
        return HTMLResponse(openapi.docs_page(openapi.spec(state.names)))

    table: list[BaseRoute] = [
        Route("/healthz", routes.healthz, methods=["GET", "HEAD"]),
        Route("/readyz", routes.readyz, methods=["GET", "HEAD"]),
        Route("/metrics", routes.metrics, methods=["GET"]),
        Route("/openapi.json", spec, methods=["GET"]),
        Route("/docs", docs, methods=["GET"]),
        Route("/v1/models", routes.list_models, methods=["GET"]),
        Route("/v1/models/{name}", routes.model_card, methods=["GET"]),
        # Every method reaches the handler, which answers 405 but for POST: the page's static
        # mount at / matches any path, so the router would answer 404 for a GET here.
        Route("/v1/models/{name}/{task}", routes.run_task, methods=routes.ANY_METHOD),
        Route("/v1/denoise", routes.run_auto_denoise, methods=routes.ANY_METHOD),
        *page_routes(folder, web_note),
    ]
    starlette = Starlette(
        routes=table, lifespan=lifespan, exception_handlers={HTTPException: routes.http_error}
    )
    starlette.state.server = state
    return Built(Guard(starlette, settings, state.metrics), state, web_note)


def create_app(settings: Settings) -> ASGIApp:
    """The ASGI application ``aeinfer serve`` runs (for any ASGI server)."""
    return build(settings).app


def bind(host: str, port: int) -> socket.socket:
    """A listening-ready socket, or one AeinferError line (address in use, bad host)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )[0]
        # The protocol must be named: asyncio sets TCP_NODELAY on the connections only of a
        # socket whose proto is IPPROTO_TCP, and without it a response's head and body (two
        # writes) wait out the client's delayed ACK, 40 ms per request.
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind(address)
    except OSError as exc:
        raise AeinferError(f"cannot listen on {host}:{port} ({exc.strerror or exc})") from exc
    return sock


def uvicorn_config(app: ASGIApp, settings: Settings, log_level: str = "info") -> Any:
    """uvicorn's configuration for ``app``: h11 always (see the module docstring), graceful
    shutdown bounded by ``--timeout-s`` plus a grace."""
    import uvicorn

    return uvicorn.Config(
        app,
        http="h11",
        lifespan="on",
        access_log=settings.access_log,
        timeout_graceful_shutdown=int(settings.timeout_s + SHUTDOWN_GRACE_S),
        log_level=log_level,
        h11_max_incomplete_event_size=MAX_INCOMPLETE_HEAD,
    )


def run(settings: Settings, say: Say = print) -> None:
    """Serve until SIGINT or SIGTERM, then shut down gracefully."""
    import uvicorn
    from PIL import Image

    built = build(settings)
    sock = bind(settings.host, settings.port)
    # One pixel limit: Pillow's decompression-bomb guard agrees with --max-pixels.
    Image.MAX_IMAGE_PIXELS = settings.max_pixels
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    say(
        f"aeinfer: serving {', '.join(built.state.names)} on http://{shown}:{port}/ "
        f"(API docs at /docs; micro-batches of up to {settings.max_batch}"
        + (f", waiting up to {settings.max_wait_ms:g} ms)" if settings.max_wait_ms else ")")
    )
    if built.web_note:
        say(f"aeinfer: note: no web page at /: {built.web_note}")
    if settings.api_key:
        say("aeinfer: the API (/v1, /metrics) needs the API key")
    elif settings.host not in LOOPBACK:
        say(
            f"aeinfer: warning: listening on {settings.host} without an API key: anyone who "
            "can reach this port can run the models (set AEINFER_API_KEY)"
        )
    uvicorn.Server(uvicorn_config(built.app, settings)).run(sockets=[sock])


__all__ = ["Built", "ServerState", "Settings", "bind", "build", "create_app", "run"]
