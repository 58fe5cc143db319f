"""Load and fault figures for ``aeinfer serve``, over loopback only, bounded in requests and time.

    python scripts/bench_server.py [--requests 400] [--seconds 10] [--memory-requests 10000]
        [--json OUT.json]

Starts ``aeinfer serve`` (``python -m aeinfer serve``) as a subprocess on a free loopback port
for each measurement and stops it with SIGTERM, and drives it from this process with one
thread per concurrent client, each on its own keep-alive connection (``http.client``). The
clients share the machine with the server: on few cores the figures are the pair's, not the
server's alone.

1. **Throughput and latency**: ``POST /v1/models/denoise/denoise`` at concurrency 1, 8 and 32,
   with micro-batching (``--max-batch 32``, waiting up to 2 ms for more requests, or not
   waiting at all: the default) and without (``--max-batch 1``), for the example digit
   ``examples/noisy-7.png`` (112×112, 8 KB) and for a photo-sized input (a 1600×1200 JPEG of a
   handwritten-looking 7 on tinted paper, made here). The three servers run side by side and
   each cell is measured in the order A B C C B A, each time for half of ``--requests``
   requests or of ``--seconds`` seconds, whichever ends first, after a warm-up; the mean batch
   comes from the servers' ``/metrics``.
2. **Memory**: the server's resident memory (``VmRSS``) after 1000 warm-up requests and after
   ``--memory-requests`` requests (concurrency 8, batching on); growth must stay ≤ 5 %.
3. **Overload**: ``--max-queue 4`` and 64 clients: every answer is 200 or a deliberate 503 with
   Retry-After; any other 5xx is counted.
4. **Faults**: while 2 clients keep sending valid requests, malformed ones are sent — a
   truncated multipart body, a wrong Content-Type, a 0-byte body, a decompression bomb (a
   20000×20000 PNG of 0.4 MB), request heads of 32 KB and 256 KB, a body trickled slower than
   ``--timeout-s``, a head never finished — and each answer is checked, as is every answer to
   the valid clients meanwhile.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import io
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench_machine import machine, markdown_table
from PIL import Image, ImageDraw, ImageFilter

REPO = Path(__file__).resolve().parents[1]
DIGIT = REPO / "examples" / "noisy-7.png"
TASK = "/v1/models/denoise/denoise"
CONCURRENCY = (1, 8, 32)
WARMUP = 20
MEMORY_WARMUP = 1000
MEMORY_CLIENTS = 8
MEMORY_LIMIT = 0.05
PHOTO_SIZE = (1600, 1200)
BOMB_SIDE = 20000
OVERLOAD_CLIENTS = 64
OVERLOAD_SECONDS = 5.0
FAULT_TIMEOUT_S = 2.0
START_TIMEOUT_S = 60.0
MS = 1e3
KB = 1024


# --- a server -------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int

    @property
    def host(self) -> str:
        return "127.0.0.1"

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / KB
        return float("nan")

    def metrics(self) -> str:
        return request(self, "GET", "/metrics").body.decode()


@contextlib.contextmanager
def serving(*options: str) -> Iterator[Server]:
    port = free_port()
    command = [sys.executable, "-m", "aeinfer", "serve", "--port", str(port), "-m", "denoise"]
    process = subprocess.Popen(
        [*command, *options], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    server = Server(process, port)
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        with contextlib.suppress(OSError):
            if request(server, "GET", "/readyz").status == 200:
                break
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"aeinfer serve {' '.join(options)} did not start")
        time.sleep(0.05)
    try:
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(START_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


def request(
    server: Server,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    connection: http.client.HTTPConnection | None = None,
) -> Reply:
    own = connection is None
    conn = connection or http.client.HTTPConnection(server.host, server.port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
    finally:
        if own:
            conn.close()


# --- load -----------------------------------------------------------------------------------------


@dataclass
class Load:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: int = 0
    wall: float = 0.0

    @property
    def count(self) -> int:
        return len(self.latencies)

    def quantile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * MS if ordered else 0.0


def drive(
    server: Server,
    body: bytes,
    kind: str,
    clients: int,
    requests: int,
    seconds: float,
    stop: threading.Event | None = None,
) -> Load:
    """``clients`` threads, each on its own connection, until ``requests`` are answered,
    ``seconds`` have passed, or ``stop`` is set."""
    load = Load()
    lock = threading.Lock()
    issued = [0]
    start = time.perf_counter()
    end = start + seconds

    def client() -> None:
        conn = http.client.HTTPConnection(server.host, server.port, timeout=60)
        while True:
            with lock:
                if issued[0] >= requests or time.perf_counter() > end:
                    break
                if stop is not None and stop.is_set():
                    break
                issued[0] += 1
            began = time.perf_counter()
            try:
                reply = request(server, "POST", TASK, body, {"Content-Type": kind}, conn)
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(server.host, server.port, timeout=60)
                with lock:
                    load.errors += 1
                continue
            took = time.perf_counter() - began
            with lock:
                load.latencies.append(took)
                load.statuses[reply.status] += 1
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    load.wall = time.perf_counter() - start
    return load


def batch_totals(text: str) -> tuple[float, float]:
    """(sum, count) of the denoise batch-size histogram in a /metrics text."""
    total = count = 0.0
    for line in text.splitlines():
        if line.startswith('aeinfer_batch_size_sum{model="denoise",task="denoise"}'):
            total = float(line.split()[-1])
        if line.startswith('aeinfer_batch_size_count{model="denoise",task="denoise"}'):
            count = float(line.split()[-1])
    return total, count


def photo() -> bytes:
    """A photo-sized JPEG: a thick handwritten-looking 7 on warm paper, with grain."""
    width, height = PHOTO_SIZE
    image = Image.new("RGB", PHOTO_SIZE, (236, 226, 205))
    draw = ImageDraw.Draw(image)
    seven = [(0.33, 0.22), (0.66, 0.22), (0.45, 0.8)]
    draw.line([(x * width, y * height) for x, y in seven], fill=(30, 30, 60), width=70)
    image = image.filter(ImageFilter.GaussianBlur(3))
    grain = Image.effect_noise(PHOTO_SIZE, 12).convert("RGB")
    image = Image.blend(image, grain, 0.08)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90)
    return out.getvalue()


@dataclass
class Cell:
    input: str
    mode: str
    clients: int
    requests: int
    per_second: float
    p50_ms: float
    p99_ms: float
    mean_batch: float
    not_200: int


def throughput(requests: int, seconds: float) -> list[Cell]:
    """The three servers run at once; every cell is measured in the order A B C C B A (half
    the requests and seconds each time), so that the machine's drift falls on all alike."""
    inputs = {
        f"digit ({DIGIT.name}, 112×112 PNG)": (DIGIT.read_bytes(), "image/png"),
        f"photo ({PHOTO_SIZE[0]}×{PHOTO_SIZE[1]} JPEG)": (photo(), "image/jpeg"),
    }
    modes = {
        "batched, 2 ms wait": ("--max-batch", "32", "--max-wait-ms", "2"),
        "batched, no wait": ("--max-batch", "32", "--max-wait-ms", "0"),
        "unbatched": ("--max-batch", "1"),
    }
    cells = []
    with contextlib.ExitStack() as stack:
        servers = {
            mode: stack.enter_context(serving("--max-queue", "1024", *options))
            for mode, options in modes.items()
        }
        order = [*modes, *reversed(modes)]
        for name, (body, kind) in inputs.items():
            for server in servers.values():
                drive(server, body, kind, 4, WARMUP, seconds)
            for clients in CONCURRENCY:
                loads = {mode: Load() for mode in modes}
                batches = {mode: [0.0, 0.0] for mode in modes}
                for mode in order:
                    server = servers[mode]
                    before = batch_totals(server.metrics())
                    part = drive(server, body, kind, clients, requests // 2, seconds / 2)
                    after = batch_totals(server.metrics())
                    load = loads[mode]
                    load.latencies += part.latencies
                    load.statuses += part.statuses
                    load.errors += part.errors
                    load.wall += part.wall
                    batches[mode][0] += after[0] - before[0]
                    batches[mode][1] += after[1] - before[1]
                for mode, load in loads.items():
                    total, count = batches[mode]
                    cells.append(
                        Cell(
                            name,
                            mode,
                            clients,
                            load.count,
                            load.count / load.wall,
                            load.quantile(0.5),
                            load.quantile(0.99),
                            total / count if count else 0.0,
                            sum(n for s, n in load.statuses.items() if s != 200) + load.errors,
                        )
                    )
                    print(f"  {cells[-1]}", file=sys.stderr)
    return cells


# --- memory and overload -------------------------------------------------------------------------


@dataclass
class Memory:
    requests: int
    warm_mb: float
    end_mb: float
    peak_mb: float
    growth: float
    not_200: int


def memory(total: int) -> Memory:
    body = DIGIT.read_bytes()
    with serving() as server:
        warm = drive(server, body, "image/png", MEMORY_CLIENTS, MEMORY_WARMUP, 3600)
        warm_mb = server.rss_mb()
        peak = [warm_mb]
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.2):
                peak[0] = max(peak[0], server.rss_mb())

        sampler = threading.Thread(target=sample)
        sampler.start()
        rest = drive(server, body, "image/png", MEMORY_CLIENTS, total - MEMORY_WARMUP, 3600)
        done.set()
        sampler.join()
        end_mb = server.rss_mb()
    failures = sum(n for s, n in (warm.statuses + rest.statuses).items() if s != 200)
    return Memory(
        warm.count + rest.count,
        warm_mb,
        end_mb,
        max(peak[0], end_mb),
        end_mb / warm_mb - 1.0,
        failures + warm.errors + rest.errors,
    )


def overload() -> dict[str, int]:
    with serving("--max-queue", "4") as server:
        load = drive(
            server, DIGIT.read_bytes(), "image/png", OVERLOAD_CLIENTS, 10**9, OVERLOAD_SECONDS
        )
    counts = {str(status): n for status, n in sorted(load.statuses.items())}
    counts["connection errors"] = load.errors
    return counts


# --- faults ---------------------------------------------------------------------------------------


def bomb_png(side: int) -> bytes:
    """A ``side``×``side`` grey PNG of zeros, compressed row by row (a few hundred KB)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    compressor = zlib.compressobj(9)
    row = b"\0" * (side + 1)
    rows = 256
    block = row * rows
    data = b"".join(compressor.compress(block) for _ in range(side // rows))
    data += compressor.compress(row * (side % rows)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


def raw_exchange(server: Server, data: bytes, trickle: float = 0.0, hold: float = 0.0) -> bytes:
    """Send ``data`` over a fresh socket (a byte every ``trickle`` s after the head if set),
    optionally wait ``hold`` s, and return what comes back (the status line and on)."""
    with socket.create_connection((server.host, server.port), timeout=30) as sock:
        if trickle:
            head, _, body = data.partition(b"\r\n\r\n")
            sock.sendall(head + b"\r\n\r\n")
            for index in range(len(body)):
                try:
                    sock.sendall(body[index : index + 1])
                except OSError:
                    break
                time.sleep(trickle)
        else:
            sock.sendall(data)
        if hold:
            time.sleep(hold)
            return b"(held open, no answer expected)"
        answer = b""
        with contextlib.suppress(OSError):
            while chunk := sock.recv(65536):
                answer += chunk
                head, found, body = answer.partition(b"\r\n\r\n")
                length = next(
                    (int(line.split(b":")[1]) for line in head.lower().split(b"\r\n")
                     if line.startswith(b"content-length:")),
                    None,
                )  # fmt: skip
                if found and length is not None and len(body) >= length:
                    break
        return answer


def http_request(path: str, headers: dict[str, str], body: bytes) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: bench", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@dataclass(frozen=True)
class Case:
    """A malformed or slow request: its bytes, and how they are sent."""

    name: str
    expected: str
    data: bytes
    trickle: float = 0.0
    hold: float = 0.0


@dataclass
class Fault:
    case: str
    expected: str
    got: str
    ok: bool


def faults() -> tuple[list[Fault], dict[str, int]]:
    digit = DIGIT.read_bytes()
    boundary = "bench"
    part = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="7.png"\r\n'
        "Content-Type: image/png\r\n\r\n"
    ).encode() + digit
    multipart = f"multipart/form-data; boundary={boundary}"
    png = {"Content-Type": "image/png"}
    text, cut = {"Content-Type": "text/plain"}, {"Content-Type": multipart}
    bomb = bomb_png(BOMB_SIDE)
    bomb_name = f"decompression bomb ({BOMB_SIDE}×{BOMB_SIDE} PNG, {len(bomb) // KB} KB)"
    head = b"POST " + TASK.encode() + b" HTTP/1.1\r\nHost: b"
    cases = [
        Case("truncated multipart", "400", http_request(TASK, cut, part[:3000])),
        Case("wrong Content-Type (text/plain)", "415", http_request(TASK, text, digit)),
        Case("0-byte body", "422", http_request(TASK, png, b"")),
        Case(bomb_name, "413", http_request(TASK, png, bomb)),
        Case(
            "32 KB request head", "431", http_request(TASK, {**png, "X-Pad": "a" * 32 * KB}, digit)
        ),
        Case(
            "1 MB request head", "400", http_request(TASK, {**png, "X-Pad": "a" * KB * KB}, digit)
        ),
        Case(
            f"body trickled past --timeout-s {FAULT_TIMEOUT_S:g}",
            "408",
            http_request(TASK, png, digit[:80]),
            trickle=0.05,
        ),
        Case("request head never finished (held 3 s)", "—", head, hold=3.0),
    ]
    results = []
    with serving("--timeout-s", str(FAULT_TIMEOUT_S)) as server:
        stop = threading.Event()
        background: list[Load] = []
        runner = threading.Thread(
            target=lambda: background.append(
                drive(server, digit, "image/png", 2, 10**9, 3600, stop)
            )
        )
        runner.start()
        for case in cases:
            answer = raw_exchange(server, case.data, case.trickle, case.hold)
            if case.hold:
                got, ok = "held open; others served", True
            else:
                status = answer.split(b" ", 2)[1].decode() if answer.startswith(b"HTTP/") else "?"
                body = answer.partition(b"\r\n\r\n")[2]
                got = f"{status} {body[:90].decode(errors='replace')}".strip()
                ok = status == case.expected
            results.append(Fault(case.name, case.expected, got, ok))
        stop.set()
        runner.join()
    load = background[0]
    served = {str(s): n for s, n in sorted(load.statuses.items())}
    served["connection errors"] = load.errors
    return results, served


# --- report ---------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=400, help="requests per cell at most")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds per cell at most")
    parser.add_argument("--memory-requests", type=int, default=10_000)
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args()

    os.chdir(REPO)
    print("## Machine\n")
    print("\n".join(machine().describe()))
    print(f"- load average at start: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")

    print("\n## Throughput and latency (denoise)\n", flush=True)
    cells = throughput(args.requests, args.seconds)
    print(
        markdown_table(
            [
                "input",
                "mode",
                "clients",
                "requests",
                "req/s",
                "p50 ms",
                "p99 ms",
                "mean batch",
                "not 200",
            ],
            [
                [
                    c.input,
                    c.mode,
                    str(c.clients),
                    str(c.requests),
                    f"{c.per_second:.1f}",
                    f"{c.p50_ms:.1f}",
                    f"{c.p99_ms:.1f}",
                    f"{c.mean_batch:.1f}",
                    str(c.not_200),
                ]
                for c in cells
            ],
        )
    )

    print(f"\n## Memory over {args.memory_requests} requests\n", flush=True)
    mem = memory(args.memory_requests)
    verdict = "ok" if mem.growth <= MEMORY_LIMIT else "OVER 5 %"
    print(
        markdown_table(
            ["requests", "RSS after 1000", "RSS at the end", "peak", "growth", "not 200"],
            [
                [
                    str(mem.requests),
                    f"{mem.warm_mb:.1f} MB",
                    f"{mem.end_mb:.1f} MB",
                    f"{mem.peak_mb:.1f} MB",
                    f"{mem.growth * 100:+.1f} % ({verdict})",
                    str(mem.not_200),
                ]
            ],
        )
    )

    print(f"\n## Overload: --max-queue 4, {OVERLOAD_CLIENTS} clients\n", flush=True)
    counts = overload()
    print(markdown_table(list(counts), [[str(n) for n in counts.values()]]))
    other_5xx = sum(n for s, n in counts.items() if s.isdigit() and int(s) >= 500 and s != "503")
    print(f"\n5xx other than the deliberate 503: {other_5xx}")

    print("\n## Malformed and slow requests, with 2 valid clients running\n", flush=True)
    results, served = faults()
    print(
        markdown_table(
            ["request", "expected", "answer", "ok"],
            [[f.case, f.expected, f"`{f.got}`", "yes" if f.ok else "NO"] for f in results],
        )
    )
    print(f"\nThe valid clients meanwhile: {served}")

    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "machine": machine().as_dict(),
                    "throughput": [asdict(c) for c in cells],
                    "memory": asdict(mem),
                    "overload": counts,
                    "faults": [asdict(f) for f in results],
                    "faults_background": served,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
