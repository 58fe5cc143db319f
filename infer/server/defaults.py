"""The server's defaults and bounds: constants only, so that the command line can show them
in ``aeinfer serve --help`` without importing Starlette or uvicorn."""

from __future__ import annotations

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_MAX_BATCH = 32
DEFAULT_MAX_WAIT_MS = 0.0
"""No wait by default: a batch is whatever queued while the model was busy (measured best on 2
cores, where a timed wait costs more than it gathers; scripts/bench_server.py)."""
DEFAULT_MAX_QUEUE = 256
DEFAULT_MAX_BODY_MB = 16.0
DEFAULT_MAX_PIXELS = 4096 * 4096
DEFAULT_TIMEOUT_S = 30.0
API_KEY_ENV = "AEINFER_API_KEY"
SERVE_HINT = "the HTTP server needs its extra: pip install 'aeinfer[serve]'"
SERVE_MODULES = ("starlette", "uvicorn", "multipart", "python_multipart")
"""Top-level modules of the [serve] extra: an ImportError naming one means the extra is missing."""
MAX_SAMPLES = 1024
"""Most draws one sample request may ask for (``n``)."""
MAX_STEPS = 1024
"""Most items one interpolate request may ask for (``steps``)."""
