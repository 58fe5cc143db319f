"""The HTTP server behind ``aeinfer serve`` (needs the ``[serve]`` extra: Starlette, uvicorn,
python-multipart).

- :mod:`aeinfer.server.app` — the application: models, routes, the page at ``/``, start-up and
  graceful shutdown, and :func:`run`;
- :mod:`aeinfer.server.routes` — the routes: ``/v1/models``, ``/v1/models/{name}``,
  ``POST /v1/models/{name}/{task}``, ``/healthz``, ``/readyz``, ``/metrics``;
- :mod:`aeinfer.server.batching` — dynamic micro-batching in one worker thread per model;
- :mod:`aeinfer.server.limits` — settings, limits, the API key, and errors as status codes;
- :mod:`aeinfer.server.metrics` — Prometheus metrics, written by hand;
- :mod:`aeinfer.server.openapi` — the OpenAPI document and the ``/docs`` page.

Every result comes from :mod:`aeinfer.exchange`, the bytes-in/bytes-out form of
:mod:`aeinfer.tasks` that the command line's results share: the server answers with the bytes
``aeinfer`` writes for the same input. Nothing here is imported by ``import aeinfer`` or by the
command line until ``aeinfer serve`` runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aeinfer.server.app import Built, ServerState, build, create_app, run
    from aeinfer.server.limits import Settings

__all__ = ["Built", "ServerState", "Settings", "build", "create_app", "run"]

_LAZY = {
    "Built": "aeinfer.server.app",
    "ServerState": "aeinfer.server.app",
    "build": "aeinfer.server.app",
    "create_app": "aeinfer.server.app",
    "run": "aeinfer.server.app",
    "Settings": "aeinfer.server.limits",
}


def __getattr__(name: str) -> Any:
    # Lazy: the command line reads aeinfer.server.defaults for its --help without importing
    # Starlette or uvicorn.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'aeinfer.server' has no attribute {name!r}")
