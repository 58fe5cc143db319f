"""The API's OpenAPI 3.1 document, written by hand, and the docs page drawn from it.

Starlette makes no OpenAPI document (FastAPI would, at the price of pydantic; see
:mod:`aeinfer.server.app`). The API is small — one task route and a few reading routes — so
the document is this module's data, and ``/docs`` is plain HTML rendered from it on the server:
no CDN, no JavaScript, readable offline and behind any firewall.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from aeinfer import __version__
from aeinfer.card import TASKS
from aeinfer.names import PRECISIONS
from aeinfer.server.defaults import MAX_SAMPLES, MAX_STEPS

ERROR = {"$ref": "#/components/schemas/Error"}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ERROR}}}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


TASK_ERRORS = {
    "400": _error("Malformed multipart body."),
    "401": _error("Missing or wrong API key (when the server has one)."),
    "404": _error("Unknown model or task."),
    "408": _error("The body was not received within --timeout-s."),
    "409": _error("The model cannot do this task (its card does not list it)."),
    "413": _error("Body over --max-body-mb, or image over --max-pixels."),
    "415": _error("Content-Type not taken by this task."),
    "422": _error("Input the model cannot read or take (the library's one-line message)."),
    "503": _error("Queue full (Retry-After), shutting down, or device unavailable."),
    "504": _error("No answer within --timeout-s."),
}

TASK_DESCRIPTION = """Runs a task on the model, with the same results, byte for byte, as the
command line's for the same input:

- **denoise**: the denoised input at its own size and kind (PNG; a signal in its own format)
  — `aeinfer denoise --model NAME - -o -`.
- **reconstruct**: the original and its reconstruction side by side, at the input's size
  (PNG) — `aeinfer reconstruct - --per-file -o -`.
- **score**: JSON with the anomaly score, its percentile and the card's reference distribution
  — `aeinfer score FILE --json`.
- **encode**: the codes as JSON `{model, shape, codes}`, or `.npy` with `format=npy` —
  `aeinfer encode - -o -`.
- **decode**: a `.npy` of codes in; a PNG grid, or the items as `.npy` with `format=npy`.
- **sample**: no body; `n` draws from the prior as a PNG grid (or `.npy`); the seed used is in
  `X-Aeinfer-Seed`.
- **interpolate**: multipart `first` and `last`; `steps` items on the line between their codes
  as a PNG strip (or `.npy`).

The input is the raw body with its Content-Type (`image/*`; `application/octet-stream` for
`.npy`; `text/csv` or `audio/wav` for signal models), or the multipart field `file`. Requests
to one model and task that arrive together run as one batch. Notes (what the command line
prints on stderr) come back in `X-Aeinfer-Notes`, a JSON list."""


def spec(models: Sequence[str]) -> dict[str, Any]:
    """The OpenAPI document of a server serving ``models``."""
    model = {
        "name": "name",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "enum": list(models)},
    }
    task = {
        "name": "task",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "enum": list(TASKS)},
    }
    binary = {"schema": {"type": "string", "format": "binary"}}
    multipart = {
        "schema": {
            "type": "object",
            "properties": {
                "file": {"type": "string", "format": "binary"},
                "first": {"type": "string", "format": "binary"},
                "last": {"type": "string", "format": "binary"},
            },
        }
    }
    json_ok = {"description": "OK", "content": {"application/json": {"schema": {}}}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "aeinfer",
            "version": __version__,
            "description": "Autoencoders on ONNX Runtime over HTTP: denoise, reconstruct, "
            "score, encode, decode, sample, interpolate.",
        },
        "components": {
            "schemas": {
                "Error": {
                    "type": "object",
                    "properties": {"error": {"type": "string"}},
                    "required": ["error"],
                }
            },
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            },
        },
        "paths": {
            "/v1/models": {
                "get": {
                    "summary": "The served models (as `aeinfer models --json`, path null).",
                    "security": [{"bearer": []}, {"apiKey": []}],
                    "responses": {"200": json_ok, "401": TASK_ERRORS["401"]},
                }
            },
            "/v1/models/{name}": {
                "get": {
                    "summary": "A model's card (as `aeinfer info NAME --json`).",
                    "parameters": [model],
                    "security": [{"bearer": []}, {"apiKey": []}],
                    "responses": {
                        "200": json_ok,
                        "401": TASK_ERRORS["401"],
                        "404": _error("Unknown model."),
                    },
                }
            },
            "/v1/models/{name}/{task}": {
                "post": {
                    "summary": "Run a task on a model.",
                    "description": TASK_DESCRIPTION,
                    "parameters": [
                        model,
                        task,
                        _query(
                            "precision",
                            {"type": "string", "enum": list(PRECISIONS)},
                            "Graphs to run (fp32, or a variant the model ships).",
                        ),
                        _query(
                            "format",
                            {"type": "string", "enum": ["json", "png", "npy"]},
                            "encode: json (default) or npy; decode, sample, interpolate: "
                            "png (default) or npy.",
                        ),
                        _query(
                            "n",
                            {"type": "integer", "minimum": 1, "maximum": MAX_SAMPLES},
                            "sample: how many draws (16).",
                        ),
                        _query(
                            "seed",
                            {"type": "integer", "minimum": 0},
                            "sample: the seed (default: a fresh one, in X-Aeinfer-Seed).",
                        ),
                        _query(
                            "force",
                            {"type": "boolean"},
                            "denoise, reconstruct, encode, interpolate: take an input outside "
                            "the model's domain anyway (--force).",
                        ),
                        _query(
                            "ensemble",
                            {"type": "boolean"},
                            "denoise, reconstruct: average the 8 flips and rotations (8 passes; "
                            "models whose card allows it, such as photo; else 409) (--ensemble).",
                        ),
                        _query(
                            "latents",
                            {"type": "boolean"},
                            "sample with format=npy: the codes instead of the items.",
                        ),
                        _query(
                            "steps",
                            {"type": "integer", "minimum": 2, "maximum": MAX_STEPS},
                            "interpolate: items in the strip, both ends included (10).",
                        ),
                    ],
                    "requestBody": {
                        "required": False,
                        "content": {
                            "image/*": binary,
                            "application/octet-stream": binary,
                            "text/csv": binary,
                            "audio/wav": binary,
                            "multipart/form-data": multipart,
                        },
                    },
                    "security": [{"bearer": []}, {"apiKey": []}],
                    "responses": {
                        "200": {
                            "description": "The result: image/png, application/json, or "
                            "application/octet-stream (.npy), text/csv, audio/wav.",
                        },
                        **TASK_ERRORS,
                    },
                }
            },
            "/v1/denoise": {
                "post": {
                    "summary": "Denoise a picture with the model made for it, as `aeinfer "
                    "denoise` does without --model.",
                    "description": "One digit on plain paper goes to the digit denoiser "
                    "(`denoise`), any other picture to the photo denoiser (`photo`) at its "
                    "own size, each where this server serves it; the result is the PNG the "
                    "command writes, the model that made it in `X-Aeinfer-Model`, and why a "
                    "picture went to the photo model in `X-Aeinfer-Notes`.",
                    "parameters": [
                        _query(
                            "precision",
                            {"type": "string", "enum": list(PRECISIONS)},
                            "Graphs to run, in both models (--precision).",
                        ),
                        _query(
                            "ensemble",
                            {"type": "boolean"},
                            "The photo model averages the 8 flips and rotations (--ensemble).",
                        ),
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {"image/*": binary, "multipart/form-data": multipart},
                    },
                    "security": [{"bearer": []}, {"apiKey": []}],
                    "responses": {
                        "200": {"description": "The denoised picture, image/png."},
                        **TASK_ERRORS,
                    },
                }
            },
            "/healthz": {
                "get": {"summary": "Alive (never needs the key).", "responses": {"200": json_ok}}
            },
            "/readyz": {
                "get": {
                    "summary": "Ready: every model loaded (503 until then).",
                    "responses": {"200": json_ok, "503": _error("Still loading, or failed.")},
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics: requests by route and status, latency and "
                    "batch-size histograms, queue depth.",
                    "security": [{"bearer": []}, {"apiKey": []}],
                    "responses": {"200": {"description": "Prometheus text format 0.0.4."}},
                }
            },
        },
    }


def _cell(text: Any) -> str:
    return html.escape(str(text))


def docs_page(document: dict[str, Any]) -> str:
    """The OpenAPI document as one HTML page (no scripts, no external resources)."""
    info = document["info"]
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{_cell(info['title'])} API</title><style>",
        "body{font:15px/1.5 system-ui,sans-serif;max-width:58em;margin:2em auto;padding:0 1em}",
        "code,pre{background:#f4f4f4;padding:0 .25em}pre{padding:.6em;white-space:pre-wrap}",
        "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;",
        "padding:.2em .5em;text-align:left;vertical-align:top}h2{margin-top:1.6em}",
        ".m{font-weight:bold;color:#05a}</style></head><body>",
        f"<h1>{_cell(info['title'])} {_cell(info['version'])}</h1>",
        f"<p>{_cell(info['description'])} The machine-readable document is at",
        " <a href='/openapi.json'>/openapi.json</a>. Errors are always",
        ' <code>{"error": "one line"}</code>. With an API key, send',
        " <code>Authorization: Bearer KEY</code> or <code>X-API-Key: KEY</code>.</p>",
    ]
    for path, methods in document["paths"].items():
        for method, op in methods.items():
            parts.append(
                f"<h2><span class='m'>{method.upper()}</span> <code>{_cell(path)}</code></h2>"
            )
            parts.append(f"<p>{_cell(op['summary'])}</p>")
            if "description" in op:
                parts.append(f"<pre>{_cell(op['description'])}</pre>")
            if op.get("parameters"):
                parts.append(
                    "<table><tr><th>parameter</th><th>in</th><th>values</th><th>what</th></tr>"
                )
                for p in op["parameters"]:
                    schema = p["schema"]
                    values = schema.get("enum") or schema.get("type", "")
                    if isinstance(values, list):
                        values = ", ".join(map(str, values))
                    parts.append(
                        f"<tr><td><code>{_cell(p['name'])}</code></td><td>{_cell(p['in'])}</td>"
                        f"<td>{_cell(values)}</td><td>{_cell(p.get('description', ''))}</td></tr>"
                    )
                parts.append("</table>")
            if "requestBody" in op:
                kinds = ", ".join(op["requestBody"]["content"])
                parts.append(f"<p>Body: {_cell(kinds)}</p>")
            parts.append("<table><tr><th>status</th><th>meaning</th></tr>")
            for status, response in op["responses"].items():
                parts.append(
                    f"<tr><td>{_cell(status)}</td><td>{_cell(response['description'])}</td></tr>"
                )
            parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


__all__ = ["docs_page", "spec"]
