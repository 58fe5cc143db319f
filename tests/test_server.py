"""`aeinfer serve`: a real uvicorn on a free loopback port, spoken to over sockets.

Servers run in a thread of this process (so a test can hold a model's worker with a job of its
own) or, for the shutdown on SIGTERM, as the `aeinfer serve` command in a subprocess. Results
are compared byte for byte with what the command line writes for the same input.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import uvicorn
from helpers import icc_profile, ok
from PIL import Image

from aeinfer.server import Settings, build
from aeinfer.server.app import Built, bind, uvicorn_config

REPO = Path(__file__).resolve().parents[1]
SEVEN = REPO / "examples" / "noisy-7.png"
DIGITS = REPO / "examples" / "digits"
MODELS = ("denoise", "conv", "vae")
PNG = "image/png"
TIMEOUT = 30.0


# --- a server, and a client -----------------------------------------------------------------------


@dataclass
class Running:
    built: Built
    server: uvicorn.Server
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


@contextlib.contextmanager
def serving(**options: Any) -> Iterator[Running]:
    """A real uvicorn serving ``Settings(**options)`` on a free loopback port, in a thread."""
    settings = Settings(**{"models": MODELS, **options})
    built = build(settings)
    sock = bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn_config(built.app, settings, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + TIMEOUT
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.01)
    built.state.wait_ready(TIMEOUT)
    try:
        yield Running(built, server, *sock.getsockname()[:2])
    finally:
        server.should_exit = True
        thread.join(TIMEOUT)
        sock.close()


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def error(self) -> str:
        """The one-line error of a JSON error body (checked to be exactly that)."""
        assert self.headers["content-type"] == "application/json", self.headers
        document = self.json()
        assert list(document) == ["error"], document
        message = document["error"]
        assert "\n" not in message and "Traceback" not in message
        assert str(REPO) not in message and "site-packages" not in message
        return message


def call(
    running: Running | str,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    url = running if isinstance(running, str) else running.url
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=TIMEOUT)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        data = response.read()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
    finally:
        connection.close()


def post(running: Running | str, path: str, body: bytes, kind: str = PNG, **headers: str) -> Reply:
    return call(running, "POST", path, body, {"Content-Type": kind, **headers})


def multipart(files: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    """A multipart/form-data body of ``files`` (field → (filename, bytes)) and its type."""
    boundary = "aeinfer-test-boundary"
    out = io.BytesIO()
    for field, (filename, data) in files.items():
        out.write(f"--{boundary}\r\n".encode())
        out.write(
            f'Content-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'.encode()
        )
        out.write(b"Content-Type: application/octet-stream\r\n\r\n" + data + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def metric(text: str, name: str, **labels: str) -> float:
    """One sample's value from the Prometheus text (0 when absent)."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        series, _, value = line.rpartition(" ")
        found = dict(re.findall(r'(\w+)="([^"]*)"', series))
        if series.split("{")[0] == name and found == labels:
            return float(value)
    return 0.0


def hold_worker(running: Running, model: str) -> threading.Event:
    """Occupy ``model``'s worker with a job of the test's own until the returned gate is set."""
    gate, started = threading.Event(), threading.Event()

    def block(payloads: Any) -> list[None]:
        started.set()
        gate.wait(TIMEOUT)
        return [None for _ in payloads]

    running.built.state.batcher.submit(model, "hold", "hold", block, None)
    assert started.wait(TIMEOUT)
    return gate


def wait_for_depth(running: Running, model: str, depth: int) -> None:
    deadline = time.monotonic() + TIMEOUT
    while running.built.state.batcher.depths().get(model, 0) < depth:
        assert time.monotonic() < deadline, running.built.state.batcher.depths()
        time.sleep(0.005)


@pytest.fixture(scope="module")
def server() -> Iterator[Running]:
    with serving(max_body_mb=1, max_pixels=1_000_000, max_wait_ms=5) as running:
        yield running


@pytest.fixture(scope="module")
def seven() -> bytes:
    return SEVEN.read_bytes()


# --- models and probes ----------------------------------------------------------------------------


def test_probes_models_and_cards_match_the_command_line(server: Running) -> None:
    health = call(server, "GET", "/healthz")
    assert health.status == 200 and health.json() == {"status": "ok"}
    ready = call(server, "GET", "/readyz")
    assert ready.status == 200 and ready.json()["models"] == list(MODELS)

    listed = call(server, "GET", "/v1/models")
    assert listed.status == 200 and listed.headers["content-type"] == "application/json"
    by_name = {row["name"]: row for row in json.loads(ok("models", "--json").stdout)}
    assert listed.json() == [{**by_name[name], "path": None} for name in MODELS]

    card = call(server, "GET", "/v1/models/denoise")
    assert card.status == 200
    assert card.body == ok("info", "denoise", "--json").stdout_bytes  # byte for byte
    assert call(server, "GET", "/v1/models/nope").error.startswith("unknown model 'nope'")


def test_docs_openapi_and_isolation_headers(server: Running) -> None:
    spec = call(server, "GET", "/openapi.json")
    assert spec.status == 200 and spec.json()["openapi"].startswith("3.1")
    assert "/v1/models/{name}/{task}" in spec.json()["paths"]
    docs = call(server, "GET", "/docs")
    assert docs.status == 200 and docs.headers["content-type"].startswith("text/html")
    assert b"/v1/models/{name}/{task}" in docs.body and b"<script" not in docs.body
    for reply in (spec, docs, call(server, "GET", "/nowhere"), call(server, "GET", "/healthz")):
        assert reply.headers["cross-origin-opener-policy"] == "same-origin"
        assert reply.headers["cross-origin-embedder-policy"] == "require-corp"


def test_page_at_root_is_the_web_assets_or_says_why_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import aeinfer.server.app as app_module

    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<p>the page</p>")
    monkeypatch.setattr(app_module, "web_assets", lambda models=None: (site, None))
    with serving(models=("denoise",)) as running:
        page = call(running, "GET", "/")
        assert page.status == 200 and page.body == b"<p>the page</p>"
        assert page.headers["cross-origin-embedder-policy"] == "require-corp"
        # The API is not shadowed by the page's mount.
        assert call(running, "GET", "/v1/models/denoise/denoise").status == 405
    hint = "run `node web/build.mjs` <to build>"
    monkeypatch.setattr(app_module, "web_assets", lambda models=None: (None, hint))
    with serving(models=("denoise",)) as running:
        page = call(running, "GET", "/")
        assert page.status == 200 and page.headers["content-type"].startswith("text/html")
        assert b"run `node web/build.mjs` &lt;to build&gt;" in page.body


# --- results: byte for byte the command line's ---------------------------------------------------


def test_denoise_and_reconstruct_are_the_cli_bytes(
    server: Running, seven: bytes, tmp_path: Path
) -> None:
    ok("denoise", SEVEN, "-o", tmp_path / "d.png")
    reply = post(server, "/v1/models/denoise/denoise", seven)
    assert reply.status == 200 and reply.headers["content-type"] == PNG
    assert reply.body == (tmp_path / "d.png").read_bytes()
    # The notes the command line prints on stderr come back in a header.
    assert isinstance(json.loads(reply.headers.get("x-aeinfer-notes", "[]")), list)

    ok("reconstruct", SEVEN, "--per-file", "-o", tmp_path / "r.png", "--model", "conv")
    reply = post(server, "/v1/models/conv/reconstruct", seven)
    assert reply.status == 200 and reply.body == (tmp_path / "r.png").read_bytes()
    with Image.open(io.BytesIO(reply.body)) as picture, Image.open(SEVEN) as original:
        assert picture.size == (2 * original.width, original.height)  # side by side

    forced = post(server, "/v1/models/denoise/denoise?force=true", seven)
    assert forced.status == 200 and forced.body == (tmp_path / "d.png").read_bytes()
    # The same input as a multipart upload gives the same bytes.
    body, kind = multipart({"file": ("seven.png", seven)})
    denoised = post(server, "/v1/models/denoise/denoise", body, kind)
    assert denoised.body == (tmp_path / "d.png").read_bytes()


def test_a_picture_outside_the_domain_is_refused_in_the_terms_of_http(server: Running) -> None:
    """A digit model refuses a page of several digits with 422 and one line that says why, as
    the command line does, and what to do over HTTP: the photo model's route or force=true
    (not the command line's --model and --force)."""
    page = (REPO / "examples" / "not-digits" / "digits-row.jpg").read_bytes()
    refused = post(server, "/v1/models/denoise/denoise", page, "image/jpeg")
    assert refused.status == 422
    assert refused.error.startswith("<body>: not one digit on plain paper — ")
    assert refused.error.endswith(
        "; for a photograph use /v1/models/photo/<task>, crop one digit per picture, "
        "or add force=true"
    )
    assert "--" not in refused.error
    forced = post(server, "/v1/models/denoise/denoise?force=true", page, "image/jpeg")
    assert forced.status == 200 and forced.headers["content-type"] == PNG


def test_auto_denoise_is_the_command_without_a_model(tmp_path: Path) -> None:
    """``POST /v1/denoise`` does what ``aeinfer denoise`` does without ``--model``: a digit
    to the digit denoiser, a photo to the photo denoiser, the same bytes as the command, the
    model in X-Aeinfer-Model and the reason in X-Aeinfer-Notes; at the precision asked."""
    y, x = np.mgrid[0:96, 0:128]
    smooth = np.stack([x / 128, y / 96, (x + y) / 224], axis=-1)
    noisy = smooth + 0.08 * np.random.default_rng(5).standard_normal(smooth.shape)
    photo = tmp_path / "photo.png"
    Image.fromarray((np.clip(noisy, 0, 1) * 255 + 0.5).astype(np.uint8)).save(photo)
    seven = tmp_path / "seven.png"
    seven.write_bytes(SEVEN.read_bytes())
    ok("denoise", seven, photo, "-o", tmp_path / "out", "--precision", "int8")
    with serving(models=("denoise", "photo")) as running:
        for path, model in ((seven, "denoise"), (photo, "photo")):
            reply = post(running, "/v1/denoise?precision=int8", path.read_bytes())
            assert reply.status == 200 and reply.headers["x-aeinfer-model"] == model
            assert reply.body == (tmp_path / "out" / path.name).read_bytes()
        notes = json.loads(reply.headers["x-aeinfer-notes"])
        assert notes and notes[0].startswith("not one digit") and "denoised by photo" in notes[0]
        typo = post(running, "/v1/denoise?force=true", photo.read_bytes())
        assert typo.status == 422 and "valid: precision, ensemble" in typo.error
        assert call(running, "GET", "/v1/denoise").status == 405
        assert "/v1/denoise" in call(running, "GET", "/openapi.json").json()["paths"]
    with serving(models=("denoise",)) as running:  # no photo model: a photo is refused
        refused = post(running, "/v1/denoise", photo.read_bytes())
        assert refused.status == 422 and "not one digit" in refused.error
    with serving(models=("photo",)) as running:  # no digit model: every picture is a photo's
        reply = post(running, "/v1/denoise?precision=int8", photo.read_bytes())
        assert reply.status == 200 and reply.headers["x-aeinfer-model"] == "photo"
        assert reply.body == (tmp_path / "out" / "photo.png").read_bytes()
    with serving(models=("conv",)) as running:
        missing = post(running, "/v1/denoise", photo.read_bytes())
        assert missing.status == 404 and "'denoise' or 'photo'" in missing.error


def test_a_colour_profile_comes_back_as_the_cli_writes_it(server: Running, tmp_path: Path) -> None:
    profile = icc_profile(b"GRAY")
    with Image.open(SEVEN) as seven:
        seven.save(tmp_path / "tagged.png", icc_profile=profile)
    ok("denoise", tmp_path / "tagged.png", "-o", tmp_path / "d.png")
    reply = post(server, "/v1/models/denoise/denoise", (tmp_path / "tagged.png").read_bytes())
    assert reply.status == 200 and reply.body == (tmp_path / "d.png").read_bytes()
    with Image.open(io.BytesIO(reply.body)) as result:
        assert result.info.get("icc_profile") == profile


def test_score_is_the_cli_json(
    server: Running, seven: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("seven.png").write_bytes(seven)
    printed = ok("score", "seven.png", "--json", "--model", "conv").stdout_bytes
    body, kind = multipart({"file": ("seven.png", seven)})
    reply = post(server, "/v1/models/conv/score", body, kind)
    assert reply.status == 200 and reply.body == printed
    document = reply.json()
    assert document["scores"][0]["path"] == "seven.png"
    assert 0 <= document["scores"][0]["percentile"] <= 100
    assert document["distribution"]["split"] == "MNIST test"
    raw = post(server, "/v1/models/conv/score", seven).json()
    assert raw["scores"][0]["path"] == "<body>"
    assert raw["scores"][0]["score"] == document["scores"][0]["score"]


def test_encode_decode_sample_interpolate_are_the_cli_bytes(
    server: Running, seven: bytes, tmp_path: Path
) -> None:
    ok("encode", SEVEN, "-o", tmp_path / "codes.npy", "--model", "conv")
    codes = (tmp_path / "codes.npy").read_bytes()
    reply = post(server, "/v1/models/conv/encode?format=npy", seven)
    assert reply.status == 200 and reply.body == codes
    as_json = post(server, "/v1/models/conv/encode", seven)
    assert as_json.headers["content-type"] == "application/json"
    array = np.load(io.BytesIO(codes))
    assert as_json.json()["shape"] == list(array.shape)
    assert np.array_equal(np.asarray(as_json.json()["codes"], np.float32), array)

    ok("decode", tmp_path / "codes.npy", "-o", tmp_path / "grid.png", "--model", "conv")
    ok("decode", tmp_path / "codes.npy", "-o", tmp_path / "items.npy", "--model", "conv")
    npy = "application/octet-stream"
    grid = post(server, "/v1/models/conv/decode", codes, npy)
    assert grid.status == 200 and grid.body == (tmp_path / "grid.png").read_bytes()
    items = post(server, "/v1/models/conv/decode?format=npy", codes, npy)
    assert items.body == (tmp_path / "items.npy").read_bytes()

    ok("sample", "-o", tmp_path / "s.png", "-n", 6, "--seed", 7)
    drawn = call(server, "POST", "/v1/models/vae/sample?n=6&seed=7")
    assert drawn.status == 200 and drawn.body == (tmp_path / "s.png").read_bytes()
    assert drawn.headers["x-aeinfer-seed"] == "7"
    fresh = call(server, "POST", "/v1/models/vae/sample?n=2&format=npy")
    assert np.load(io.BytesIO(fresh.body)).shape == (2, 1, 28, 28)
    assert int(fresh.headers["x-aeinfer-seed"]) >= 0

    first, last = DIGITS / "test-0001.png", DIGITS / "test-0002.png"
    ok("interpolate", first, last, "-o", tmp_path / "i.png", "--steps", 5, "--model", "conv")
    body, kind = multipart(
        {"first": ("a.png", first.read_bytes()), "last": ("b.png", last.read_bytes())}
    )
    strip = post(server, "/v1/models/conv/interpolate?steps=5", body, kind)
    assert strip.status == 200 and strip.body == (tmp_path / "i.png").read_bytes()


# --- errors: one status, one line ---------------------------------------------------------------


def test_client_errors_are_one_json_line_with_the_right_status(
    server: Running, seven: bytes
) -> None:
    task = "/v1/models/denoise/denoise"
    form = "application/x-www-form-urlencoded"
    assert "unsupported Content-Type" in post(server, task, seven, form).error
    assert post(server, task, seven, form).status == 415
    assert post(server, "/v1/models/conv/decode", seven, PNG).status == 415
    assert post(server, "/v1/models/conv/interpolate", seven).status == 415

    truncated = post(server, task, seven[: len(seven) // 2])
    assert truncated.status == 422 and "truncated or corrupt image" in truncated.error
    empty = post(server, task, b"")
    assert empty.status == 422 and empty.error == "<body>: empty file"
    wrong = io.BytesIO()
    np.save(wrong, np.zeros((2, 3), np.float32))
    shape = post(server, "/v1/models/conv/decode", wrong.getvalue(), "application/octet-stream")
    assert shape.status == 422 and "has shape (2, 3)" in shape.error

    assert post(server, "/v1/models/nope/denoise", seven).status == 404
    unknown_task = post(server, "/v1/models/denoise/fly", seven)
    assert unknown_task.status == 404 and unknown_task.error.startswith("unknown task 'fly'")
    assert call(server, "GET", "/v1/nothing/here").status == 404
    conv = post(server, "/v1/models/conv/denoise", seven)
    assert conv.status == 409 and conv.error.startswith("model 'conv' cannot denoise")
    assert call(server, "POST", "/v1/models/conv/sample").status == 409
    assert call(server, "GET", task).status == 405

    typo = post(server, task + "?forse=1", seven)
    assert typo.status == 422 and "unknown query parameter 'forse'" in typo.error
    assert call(server, "POST", "/v1/models/vae/sample?n=0").status == 422
    assert post(server, task + "?precision=fp64", seven).status == 422
    assert call(server, "POST", "/v1/models/vae/sample?format=gif").status == 422


def test_size_limits_are_413_and_431(server: Running, tmp_path: Path) -> None:
    task = "/v1/models/denoise/denoise"
    big = post(server, task, b"\0" * (1 << 20 | 1))  # Content-Length over --max-body-mb 1
    assert big.status == 413 and "--max-body-mb" in big.error

    # Chunked: no length to refuse up front; counted while it arrives.
    connection = http.client.HTTPConnection(server.host, server.port, timeout=TIMEOUT)
    chunks = (b"\0" * 65536 for _ in range(20))
    connection.request("POST", task, body=chunks, headers={"Content-Type": PNG})
    response = connection.getresponse()
    assert response.status == 413 and b"--max-body-mb" in response.read()
    connection.close()

    # A decompression bomb: 4 MB of pixels in a few KB; refused from its header.
    bomb = io.BytesIO()
    Image.new("L", (2000, 2000)).save(bomb, format="PNG")
    assert len(bomb.getvalue()) < 20_000
    reply = post(server, task, bomb.getvalue())
    assert reply.status == 413 and "--max-pixels" in reply.error

    header = call(server, "GET", "/healthz", headers={"X-Padding": "a" * 20_000})
    assert header.status == 431 and "header" in header.error
    assert call(server, "GET", "/healthz").status == 200


def test_malformed_multipart_is_400_or_422(server: Running, seven: bytes) -> None:
    task = "/v1/models/denoise/denoise"
    body, kind = multipart({"file": ("seven.png", seven)})
    cut = post(server, task, body[: len(body) // 2], kind)
    assert cut.status == 400 and "malformed multipart" in cut.error
    assert post(server, task, body, "multipart/form-data").status == 400  # no boundary
    other, kind = multipart({"picture": ("seven.png", seven)})
    missing = post(server, task, other, kind)
    assert missing.status == 422 and "'file'" in missing.error


def test_metrics_count_requests_latency_batches_and_queue(server: Running, seven: bytes) -> None:
    route = "/v1/models/{name}/{task}"
    before = call(server, "GET", "/metrics").body.decode()
    post(server, "/v1/models/denoise/denoise", seven)
    post(server, "/v1/models/conv/denoise", seven)
    after = call(server, "GET", "/metrics")
    assert after.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = after.body.decode()
    for status in ("200", "409"):
        labels = {"route": route, "method": "POST", "status": status}
        assert metric(text, "aeinfer_requests_total", **labels) == (
            metric(before, "aeinfer_requests_total", **labels) + 1
        )
    latency = "aeinfer_request_duration_seconds_count"
    assert metric(text, latency, route=route) == metric(before, latency, route=route) + 2
    batches = "aeinfer_batch_size_count"
    labels = {"model": "denoise", "task": "denoise"}
    assert metric(text, batches, **labels) == metric(before, batches, **labels) + 1
    assert "aeinfer_queue_depth{model=" in text and "# TYPE aeinfer_queue_depth gauge" in text


# --- micro-batching -------------------------------------------------------------------------------


def test_concurrent_requests_run_as_one_batch_with_the_same_bytes(
    server: Running, seven: bytes
) -> None:
    alone = post(server, "/v1/models/denoise/denoise", seven).body
    digits = [path.read_bytes() for path in sorted(DIGITS.glob("*.png"))]
    singles = [post(server, "/v1/models/denoise/denoise", digit).body for digit in digits]
    inputs = [seven, *digits] * 4
    before = call(server, "GET", "/metrics").body.decode()
    gate = hold_worker(server, "denoise")  # requests queue up behind the held worker...
    with ThreadPoolExecutor(len(inputs)) as pool:
        replies = [pool.submit(post, server, "/v1/models/denoise/denoise", i) for i in inputs]
        wait_for_depth(server, "denoise", len(inputs))
        waiting = call(server, "GET", "/metrics").body.decode()
        assert metric(waiting, "aeinfer_queue_depth", model="denoise") == len(inputs)
        gate.set()  # ...and run together once it is free
        bodies = [reply.result().body for reply in replies]
    assert bodies == [alone, *singles] * 4
    text = call(server, "GET", "/metrics").body.decode()
    labels = {"model": "denoise", "task": "denoise"}
    ones = metric(text, "aeinfer_batch_size_bucket", **labels, le="1")
    count = metric(text, "aeinfer_batch_size_count", **labels)
    assert count - metric(before, "aeinfer_batch_size_count", **labels) < len(inputs)
    assert count > ones  # a batch of more than one was recorded
    total = metric(text, "aeinfer_batch_size_sum", **labels)
    assert total - metric(before, "aeinfer_batch_size_sum", **labels) == len(inputs)


def test_a_bad_input_fails_alone_in_its_batch(server: Running, seven: bytes) -> None:
    gate = hold_worker(server, "denoise")
    with ThreadPoolExecutor(3) as pool:
        good = pool.submit(post, server, "/v1/models/denoise/denoise", seven)
        bad = pool.submit(post, server, "/v1/models/denoise/denoise", seven[:100])
        wait_for_depth(server, "denoise", 2)
        gate.set()
        assert good.result().status == 200
        assert bad.result().status == 422


# --- overload, timeouts, keys, devices -----------------------------------------------------------


def test_full_queue_is_503_and_slow_answers_504_and_slow_bodies_408(seven: bytes) -> None:
    with serving(models=("denoise",), max_queue=2, timeout_s=1.0) as running:
        gate = hold_worker(running, "denoise")
        with ThreadPoolExecutor(2) as pool:
            queued = [
                pool.submit(post, running, "/v1/models/denoise/denoise", seven) for _ in range(2)
            ]
            wait_for_depth(running, "denoise", 2)
            full = post(running, "/v1/models/denoise/denoise", seven)
            assert full.status == 503 and full.headers["retry-after"] == "1"
            assert "--max-queue" in full.error
            # The queued requests give up after --timeout-s while the worker is held...
            for reply in queued:
                assert reply.result().status == 504
                assert "--timeout-s" in reply.result().error
            # ...and free their places at once: with the worker still held, a new request is
            # queued, not refused as if they still waited.
            text = call(running, "GET", "/metrics").body.decode()
            assert metric(text, "aeinfer_queue_depth", model="denoise") == 0
            later = pool.submit(post, running, "/v1/models/denoise/denoise", seven)
            wait_for_depth(running, "denoise", 1)
            gate.set()
            assert later.result().status == 200

        # A client that declares a body and sends a tenth of it.
        with socket.create_connection((running.host, running.port), timeout=TIMEOUT) as slow:
            slow.sendall(
                b"POST /v1/models/denoise/denoise HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: image/png\r\nContent-Length: 1000\r\n\r\n" + b"\0" * 100
            )
            answer = b""
            while chunk := slow.recv(65536):  # the server closes the connection after it
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 408") and b"--timeout-s" in answer


def test_api_key_guards_the_api_but_not_the_probes(seven: bytes) -> None:
    with serving(models=("denoise",), api_key="s3cret") as running:
        assert call(running, "GET", "/healthz").status == 200
        assert call(running, "GET", "/readyz").status == 200
        denied = call(running, "GET", "/v1/models")
        assert denied.status == 401 and "API key" in denied.error
        assert denied.headers["www-authenticate"] == "Bearer"
        assert call(running, "GET", "/metrics").status == 401
        wrong = {"Authorization": "Bearer nope"}
        assert call(running, "GET", "/v1/models", headers=wrong).status == 401
        bearer = {"Authorization": "Bearer s3cret"}
        assert call(running, "GET", "/v1/models", headers=bearer).status == 200
        assert call(running, "GET", "/metrics", headers={"X-API-Key": "s3cret"}).status == 200
        task = "/v1/models/denoise/denoise"
        assert post(running, task, seven).status == 401
        assert post(running, task, seven, **{"X-API-Key": "s3cret"}).status == 200


def test_an_unavailable_device_is_503(seven: bytes) -> None:
    with serving(models=("denoise",), device="cuda") as running:
        ready = call(running, "GET", "/readyz")
        assert ready.status == 503 and "cuda" in ready.error
        reply = post(running, "/v1/models/denoise/denoise", seven)
        assert reply.status == 503 and "cuda" in reply.error


def test_malformed_and_slow_clients_do_not_stop_the_others(server: Running, seven: bytes) -> None:
    expected = post(server, "/v1/models/denoise/denoise", seven).body
    with contextlib.ExitStack() as stack:
        # A client that sends half a request head and waits; one that sends half a body.
        head = stack.enter_context(socket.create_connection((server.host, server.port)))
        head.sendall(b"POST /v1/models/denoise/denoise HTTP/1.1\r\nHost: x\r\nContent-Ty")
        body = stack.enter_context(socket.create_connection((server.host, server.port)))
        body.sendall(
            b"POST /v1/models/denoise/denoise HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
            b"Content-Length: %d\r\n\r\n" % len(seven) + seven[:50]
        )
        garbage = stack.enter_context(socket.create_connection((server.host, server.port)))
        garbage.sendall(b"\x16\x03\x01 not http at all\r\n\r\n")
        assert garbage.recv(4096).startswith(b"HTTP/1.1 400")
        with ThreadPoolExecutor(4) as pool:
            replies = list(
                pool.map(lambda _: post(server, "/v1/models/denoise/denoise", seven), range(8))
            )
        assert all(reply.status == 200 and reply.body == expected for reply in replies)
        body.sendall(seven[50:])  # the slow body completes and is answered too
        assert body.recv(65536).startswith(b"HTTP/1.1 200")


# --- the command --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_drains_a_request_in_flight_on_sigterm(seven: bytes, tmp_path: Path) -> None:
    port = free_port()
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "aeinfer", "serve", "--port", str(port), "--model", "denoise"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "AEINFER_API_KEY": ""},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + TIMEOUT
        while True:
            with contextlib.suppress(OSError):
                if call(url, "GET", "/readyz").status == 200:
                    break
            assert process.poll() is None and time.monotonic() < deadline, "did not start"
            time.sleep(0.05)
        expected = post(url, "/v1/models/denoise/denoise", seven).body
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as client:
            client.sendall(
                b"POST /v1/models/denoise/denoise HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: image/png\r\nContent-Length: %d\r\n\r\n" % len(seven) + seven[:99]
            )
            time.sleep(0.2)
            process.send_signal(signal.SIGTERM)  # while the request is half sent
            deadline = time.monotonic() + TIMEOUT
            while True:  # the listener closes first: no new connections...
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                except OSError:
                    break
                assert time.monotonic() < deadline, "still accepting after SIGTERM"
                time.sleep(0.05)
            client.sendall(seven[99:])  # ...while the one in flight is answered
            answer = b""
            while chunk := client.recv(65536):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 200")
        assert answer.split(b"\r\n\r\n", 1)[1] == expected
        # uvicorn shuts down, then re-raises the signal it caught: killed by SIGTERM, cleanly.
        assert process.wait(TIMEOUT) in (0, -signal.SIGTERM)
    finally:
        if process.poll() is None:
            process.kill()
        log.close()
    printed = (tmp_path / "serve.log").read_text()
    assert f"aeinfer: serving denoise on http://127.0.0.1:{port}/" in printed
    assert "Waiting for connections to close" in printed or "Shutting down" in printed
    assert "Finished server process" in printed and "Traceback" not in printed


def test_without_the_extra_serve_says_which_to_install() -> None:
    code = (
        "import sys\n"
        "for name in ('starlette', 'uvicorn', 'multipart', 'python_multipart'):\n"
        "    sys.modules[name] = None  # as if the [serve] extra were not installed\n"
        "sys.argv = ['aeinfer', 'serve', '--port', '0']\n"
        "from aeinfer.cli import main\n"
        "main()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "aeinfer: error: the HTTP server needs its extra: pip install 'aeinfer[serve]'"
    )


def test_import_aeinfer_and_its_cli_leave_the_server_out() -> None:
    code = (
        "import sys, aeinfer, aeinfer.cli\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('starlette', 'uvicorn', 'multipart', 'python_multipart', 'anyio')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"


def test_ensemble_is_a_query_option_with_the_cli_bytes(tmp_path: Path) -> None:
    """``?ensemble=true`` averages the 8 flips and rotations as ``--ensemble`` does; a model
    whose card does not allow it answers 409 before its upload is read."""
    rng = np.random.default_rng(0)
    noisy = tmp_path / "noisy.png"
    Image.fromarray(rng.integers(60, 200, (40, 52, 3), dtype=np.uint8)).save(noisy)
    ok("denoise", noisy, "--model", "photo", "--ensemble", "-o", tmp_path / "e.png")
    ok("denoise", noisy, "--model", "photo", "-o", tmp_path / "s.png")
    with serving(models=("photo", "denoise")) as running:
        averaged = post(running, "/v1/models/photo/denoise?ensemble=true", noisy.read_bytes())
        assert averaged.status == 200 and averaged.body == (tmp_path / "e.png").read_bytes()
        single = post(running, "/v1/models/photo/denoise", noisy.read_bytes())
        assert single.status == 200 and single.body == (tmp_path / "s.png").read_bytes()
        refused = post(running, "/v1/models/denoise/denoise?ensemble=1", noisy.read_bytes())
        assert refused.status == 409 and "dihedral" in refused.error
