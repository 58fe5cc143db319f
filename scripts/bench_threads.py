"""One shared intra-op pool against a pool per session, through ``aeinfer.load`` (see
``aeinfer.session.share_threads``), on the bundled models, in one run.

    python scripts/bench_threads.py [--models dense denoise ...] [--batches 1 64 1024]
        [--seconds 1.0] [--rounds 2]

ONNX Runtime sets its process-wide pool once per process, so each way runs in its own child
process: ``shared`` (what the aeinfer command, the server and Ray actors do, and an application
after ``share_threads()``: encoder and decoder sessions in one pool of one thread per usable
core, spinning as ONNX Runtime defaults) and ``per-session`` (the library's default, and what
everything did before: each session its own pool of as many threads, spinning off).
The children alternate, ``--rounds`` times each, and each reports
the median time of ``Model.reconstruct`` per batch size over ``--seconds`` of calls after a
warm-up; the table gives the median over rounds and the speed-up of ``shared``.

For meaningful numbers, run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

from bench_machine import machine, markdown_table  # scripts/ is on sys.path when run as a script

from aeinfer.zoo import bundled_names

BATCHES = (1, 64, 1024)
SECONDS = 1.0
ROUNDS = 2
WAYS = ("per-session", "shared")
SKIP = ("photo",)
"""Models of free size: their batch is one picture; photo_speed.py times them."""
CHILD = """
import json, sys, time
import numpy as np
import aeinfer
from aeinfer import session
way, names, batches, seconds = sys.argv[1], sys.argv[2].split(","), sys.argv[3], sys.argv[4]
if way == "shared":
    session.share_threads()  # what the aeinfer command and Ray actors do
out = {}
for name in names:
    model = aeinfer.load(name, device="cpu")
    item = tuple(int(s) for s in model.item_shape)
    for batch in map(int, batches.split(",")):
        x = np.random.default_rng(0).random((batch, *item), dtype=np.float32)
        for _ in range(5):
            model.reconstruct(x)
        times, end = [], time.perf_counter() + float(seconds)
        while time.perf_counter() < end:
            start = time.perf_counter()
            model.reconstruct(x)
            times.append(time.perf_counter() - start)
        out[f"{name}/{batch}"] = float(np.median(times)) * 1e3
print(json.dumps(out))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    names = [n for n in bundled_names() if n not in SKIP]
    parser.add_argument("--models", nargs="*", default=names)
    parser.add_argument("--batches", nargs="*", type=int, default=list(BATCHES))
    parser.add_argument("--seconds", type=float, default=SECONDS)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    args = parser.parse_args()
    print("\n".join(machine().describe()))
    runs: dict[str, list[dict[str, float]]] = {way: [] for way in WAYS}
    for index in range(args.rounds):
        for way in WAYS if index % 2 == 0 else WAYS[::-1]:
            done = subprocess.run(
                [sys.executable, "-c", CHILD, way, ",".join(args.models),
                 ",".join(map(str, args.batches)), str(args.seconds)],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            runs[way].append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(f"  round {index + 1}: {way} done", file=sys.stderr)
    rows = []
    for name in args.models:
        for batch in args.batches:
            key = f"{name}/{batch}"
            ms = {way: statistics.median(run[key] for run in runs[way]) for way in WAYS}
            speedup = ms["per-session"] / ms["shared"]
            rows.append([name, str(batch), f"{ms['per-session']:.3f}", f"{ms['shared']:.3f}",
                         f"{speedup:.2f}×"])  # fmt: skip
    header = ["model", "batch", "pool per session, ms", "shared pool, ms", "shared speed-up"]
    print(f"\nmedian ms per reconstruct call, median of {args.rounds} rounds\n")
    print(markdown_table(header, rows))


if __name__ == "__main__":
    main()
