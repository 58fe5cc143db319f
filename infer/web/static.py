"""A small static file server for a site, with the headers that let the page use threads.

    python -m aeinfer.web.static DIR [--port 8000] [--host 127.0.0.1] [--no-isolation]

Serves DIR (e.g. what ``aeinfer web DIR`` wrote) with the right types for ES modules
(``.mjs``, ``.js``) and WebAssembly, ``Cache-Control: no-cache``, and — unless
``--no-isolation`` — ``Cross-Origin-Opener-Policy: same-origin`` and
``Cross-Origin-Embedder-Policy: require-corp``, which make the page cross-origin isolated so
ONNX Runtime Web may run threads. Standard library only; for trying the page and for the tests
(``aeinfer serve`` serves the page itself).
"""

from __future__ import annotations

import argparse
import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

from aeinfer.web import ISOLATION_HEADERS

TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".wasm": "application/wasm",
    ".onnx": "application/octet-stream",
    ".png": "image/png",
}


class SiteHandler(SimpleHTTPRequestHandler):
    """Static files with module and WASM types, no caching, and optionally COOP/COEP."""

    extensions_map: ClassVar[dict[str, str]] = {**SimpleHTTPRequestHandler.extensions_map, **TYPES}
    isolation = True

    def end_headers(self) -> None:
        if self.isolation:
            for name, value in ISOLATION_HEADERS.items():
                self.send_header(name, value)
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: requests are not logged."""


def make_server(
    directory: Path, host: str = "127.0.0.1", port: int = 0, *, isolation: bool = True
) -> ThreadingHTTPServer:
    """A server for ``directory`` (port 0: any free port; ``server.server_address`` says)."""
    handler = type("Handler", (SiteHandler,), {"isolation": isolation})
    return ThreadingHTTPServer((host, port), functools.partial(handler, directory=str(directory)))


@contextmanager
def serving(directory: Path, *, isolation: bool = True) -> Iterator[str]:
    """Serve ``directory`` on a free local port in a thread; yields the base URL."""
    server = make_server(directory, isolation=isolation)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host}:{port}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve an aeinfer site (aeinfer web DIR).")
    parser.add_argument("directory", type=Path)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--no-isolation", action="store_true", help="Leave out COOP/COEP (the page then runs "
        "single-threaded)."
    )  # fmt: skip
    args = parser.parse_args()
    server = make_server(args.directory, args.host, args.port, isolation=not args.no_isolation)
    print(f"serving {args.directory} at http://{args.host}:{server.server_address[1]}/ (Ctrl-C)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
