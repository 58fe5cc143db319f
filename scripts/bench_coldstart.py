"""Cold start: wall time and peak memory of whole processes, aeinfer against its floor and torch.

    python scripts/bench_coldstart.py [--runs 7] [--checkpoint runs/zoo/denoise/last.pt]
        [--image examples/noisy-7.png] [--json OUT.json] [--importtime] [--profile-run]

Each command below runs as a fresh process ``--runs`` times, in interleaved rounds (every
command once per round, so drift of the machine's speed falls on all alike), after one
warm-up round that is not counted; medians are reported. Wall time is measured around the
process; peak resident memory (RSS) comes from ``/usr/bin/time -v`` when it exists, else from
``resource.getrusage(RUSAGE_CHILDREN)`` in a small wrapper process that runs the command.

1. ``aeinfer denoise one.png -o out.png``: the whole command (``one.png`` is a copy of the
   example image; ``out.png`` is removed before every run, so each run really writes it);
2. the floor: ``python -c "import onnxruntime, numpy, PIL"``, the imports the runtime cannot do
   without;
3. the same job in torch: import torch, rebuild the denoise model from its checkpoint, fit the
   image, run it, map the result back and write the PNG (aeinfer's own preparation: the bundled
   denoise card's adapter, as ``aeinfer denoise`` uses it, so only the model side differs);
4. ``aeinfer --version`` and 5. ``aeinfer --help``.

Python modules are run from compiled bytecode, as after a normal install:
``PYTHONDONTWRITEBYTECODE`` is removed from the commands' environment and
``PYTHONPYCACHEPREFIX`` points at a temporary folder, filled by the warm-up round (so nothing is
written into the source tree). For meaningful numbers, run it on an otherwise idle machine.

``--importtime`` adds where ``aeinfer denoise`` spends its imports: one more run under
``python -X importtime``, every module's own (self) import time summed by top-level package.
``--profile-run`` adds where it spends the rest: one more run under cProfile after the floor's
imports, the cumulative time of the command's main steps.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench_machine import machine, markdown_table

DEFAULT_RUNS = 7
DEFAULT_CHECKPOINT = Path("runs/zoo/denoise/last.pt")
DEFAULT_IMAGE = Path("examples/noisy-7.png")
GNU_TIME = Path("/usr/bin/time")
MAXRSS_LINE = re.compile(r"Maximum resident set size \(kbytes\):\s*(\d+)")
KIB_PER_MB = 1024.0
MS = 1e3
FLOOR = "floor"
IMPORTTIME_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)")
IMPORT_GROUPS = 14
US_PER_MS = 1e3
FLOOR_LABEL = 'floor: python -c "import onnxruntime, numpy, PIL"'
TIMEOUT_S = 300
SCRIPTS = Path(__file__).resolve().parent

TORCH_SCRIPT = '''\
"""denoise one image with torch eager: the job `aeinfer denoise` does, on the checkpoint
(or, given "fresh", on fresh weights of the card's architecture: the same work)."""
import sys
from pathlib import Path

import torch

from aeinfer.adapters import adapter_for
from aeinfer.atomic import write_bytes_atomic
from aeinfer.card import read_card
from aeinfer.pictures import picture_bytes, read_picture
from aeinfer.train.trainer import load_checkpoint, rebuild, to_layout
from aeinfer.zoo import resolve

card = read_card(resolve("denoise"))
if sys.argv[1] == "fresh":  # no checkpoint: the card's architecture, fresh weights
    sys.path.insert(0, sys.argv[4])
    from graph_modules import modules_of_card

    family, encoder, decoder = modules_of_card(card)
else:
    family, _, encoder, decoder = rebuild(load_checkpoint(Path(sys.argv[1])))
adapter = adapter_for(card)  # the preparation `aeinfer denoise` uses
items, state = adapter.prepare(read_picture(Path(sys.argv[2])))
with torch.inference_mode():
    x = torch.as_tensor(items, dtype=torch.float32)
    result = decoder(encoder(to_layout(x, family.LAYOUT))).reshape(x.shape).numpy()
picture = adapter.restore(result, state)
write_bytes_atomic(picture_bytes(picture), Path(sys.argv[3]), overwrite=True)
'''

# The wrapper used when /usr/bin/time is missing: run the command, print its peak RSS (KiB).
RUSAGE_WRAPPER = (
    "import resource, subprocess, sys; "
    "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode; "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); "
    "sys.exit(code)"
)


@dataclass
class Command:
    """One process to time: its label, argv, and the file to remove before each run."""

    label: str
    argv: list[str]
    removes: Path | None = None
    wall_s: list[float] = field(default_factory=list)
    rss_kib: list[int] = field(default_factory=list)


def _peak_wrapped(argv: list[str]) -> tuple[list[str], str]:
    if GNU_TIME.is_file():
        return [str(GNU_TIME), "-v", *argv], "/usr/bin/time -v"
    return [sys.executable, "-c", RUSAGE_WRAPPER, *argv], "getrusage(RUSAGE_CHILDREN)"


def run_once(command: Command, env: dict[str, str], cwd: Path, record: bool) -> None:
    if command.removes is not None:
        command.removes.unlink(missing_ok=True)
    argv, _ = _peak_wrapped(command.argv)
    start = time.perf_counter()
    done = subprocess.run(
        argv,
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{command.label}: exit {done.returncode}\n{done.stderr[-2000:]}")
    match = MAXRSS_LINE.search(done.stderr)
    rss = int(match.group(1)) if match else int(done.stderr.strip().splitlines()[-1])
    if record:
        command.wall_s.append(wall)
        command.rss_kib.append(rss)


def _environment(cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(cache)
    return env


def _aeinfer() -> str:
    beside = Path(sys.executable).with_name("aeinfer")
    found = str(beside) if beside.is_file() else shutil.which("aeinfer")
    if found is None:
        raise SystemExit("the aeinfer command is not installed in this environment")
    return found


def commands(work: Path, checkpoint: Path) -> list[Command]:
    aeinfer = _aeinfer()
    script = work / "torch_denoise.py"
    script.write_text(TORCH_SCRIPT)
    return [
        Command(
            "aeinfer denoise one.png -o out.png",
            [aeinfer, "denoise", "one.png", "-o", "out.png"],
            work / "out.png",
        ),
        Command(
            FLOOR,
            [sys.executable, "-c", "import onnxruntime, numpy, PIL"],
        ),
        Command(
            "torch: rebuild denoise from checkpoint, one image, write PNG"
            if checkpoint.is_file()
            else "torch: build denoise (fresh weights), one image, write PNG",
            [
                sys.executable,
                str(script),
                str(checkpoint) if checkpoint.is_file() else "fresh",
                "one.png",
                "torch-out.png",
                str(SCRIPTS),
            ],
            work / "torch-out.png",
        ),
        Command("aeinfer --version", [aeinfer, "--version"]),
        Command("aeinfer --help", [aeinfer, "--help"]),
    ]


RUN_PROFILE = """
import cProfile, pstats, sys, time
sys.argv = ["aeinfer", "denoise", "one.png", "-o", "out.png", "--overwrite"]
from aeinfer.cli import main
import numpy, onnxruntime, PIL.Image  # the floor's imports, done before the clock starts
profile = cProfile.Profile()
start = time.perf_counter()
profile.enable()
try:
    main()
except SystemExit:
    pass
profile.disable()
total = time.perf_counter() - start
stats = pstats.Stats(profile).stats
def cumulative(suffix):
    return sum(v[3] for k, v in stats.items() if f"{k[0]}:{k[2]}".endswith(suffix)) * 1e3
print(f"TOTAL {total * 1e3:.1f}")
for label, suffix in ROWS:
    print(f"ROW {label}\t{cumulative(suffix):.1f}")
"""
RUN_ROWS = (
    ("imports made while the command runs (aeinfer's modules, Typer's parsing)", "_find_and_load"),
    ("loading the models: the digit denoiser and the photo one it routes to", "cli.py:_load"),
    (
        "  of which the Model objects (card checks, checksums, two sessions each)",
        "model.py:__init__",
    ),
    ("the digit model's preparation of the file (fit and domain check)", "mnist_digit.py:prepare"),
    ("  of which the domain diagnosis (ink regions, rank filters)", "ink.py:diagnose"),
    ("  of which Pillow's filters (rank filters)", "ImageFilter.py:filter"),
    ("running the two graphs", "model.py:_round_trip"),
    ("writing the PNG atomically", "atomic.py:write_bytes_atomic"),
)


def run_profile(env: dict[str, str], cwd: Path) -> str:
    """Where ``aeinfer denoise one.png`` spends its time once the floor's imports are done:
    cumulative times of a few functions under cProfile (which inflates them), in a child."""
    program = f"ROWS = {RUN_ROWS!r}\n{RUN_PROFILE}"
    done = subprocess.run(
        [sys.executable, "-c", program], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=TIMEOUT_S, check=True,
    )  # fmt: skip
    lines = done.stdout.splitlines()
    total = next(float(line.split()[1]) for line in lines if line.startswith("TOTAL "))
    body = [line[4:].split("\t") for line in lines if line.startswith("ROW ")]
    head = (
        "#### `aeinfer denoise one.png -o out.png` after the floor's imports (one run under "
        f"cProfile, which inflates times; {total:.0f} ms in all; cumulative, rows overlap)\n\n"
    )
    return head + markdown_table(["where", "ms"], [[label, ms] for label, ms in body])


def import_profile(command: Command, env: dict[str, str], cwd: Path) -> str:
    """Self import time of one run of ``command`` under -X importtime, by top-level package."""
    if command.removes is not None:
        command.removes.unlink(missing_ok=True)
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *command.argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=True,
    )
    by_package: collections.Counter[str] = collections.Counter()
    modules: collections.Counter[str] = collections.Counter()
    for line in done.stderr.splitlines():
        match = IMPORTTIME_LINE.match(line)
        if match:
            package = match.group(4).split(".")[0]
            by_package[package] += int(match.group(1))
            modules[package] += 1
    total = sum(by_package.values())
    top = by_package.most_common(IMPORT_GROUPS)
    rest = total - sum(us for _, us in top)
    body = [
        [name, str(modules[name]), f"{us / US_PER_MS:.1f}", f"{100 * us / total:.0f}%"]
        for name, us in top
    ]
    body.append(
        [
            f"other ({len(by_package) - len(top)} packages)",
            "",
            f"{rest / US_PER_MS:.1f}",
            f"{100 * rest / total:.0f}%",
        ]
    )
    head = (
        f"#### `{command.label}`: imports by top-level package (one run under -X importtime, "
        f"which inflates times; {total / US_PER_MS:.0f} ms of imports in all)\n\n"
    )
    return head + markdown_table(["package", "modules", "self ms", "share"], body)


def table(rows: list[Command]) -> str:
    floor = next(c for c in rows if c.label == FLOOR)
    floor_wall = statistics.median(floor.wall_s)
    floor_rss = statistics.median(floor.rss_kib)
    body = []
    for c in rows:
        wall = statistics.median(c.wall_s)
        rss = statistics.median(c.rss_kib)
        body.append(
            [
                FLOOR_LABEL if c.label == FLOOR else c.label,
                f"{wall * MS:.0f}",
                f"{min(c.wall_s) * MS:.0f}–{max(c.wall_s) * MS:.0f}",
                f"{wall / floor_wall:.2f}×",
                f"{rss / KIB_PER_MB:.1f}",
                f"{rss / floor_rss:.2f}×",
            ]
        )
    header = ["command", "wall ms (median)", "range ms", "× floor", "peak RSS MB", "× floor RSS"]
    return markdown_table(header, body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS)
    parser.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT)
    parser.add_argument("--image", type=Path, default=DEFAULT_IMAGE)
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    parser.add_argument("--importtime", action="store_true", help="import profile of denoise")
    parser.add_argument(
        "--profile-run", action="store_true", help="where denoise's time goes after imports"
    )
    args = parser.parse_args()
    checkpoint = args.checkpoint.resolve()
    if not checkpoint.is_file():
        print(f"{checkpoint}: no checkpoint; torch runs fresh weights", file=sys.stderr)

    with tempfile.TemporaryDirectory(prefix="aeinfer-coldstart-") as tmp:
        work = Path(tmp)
        shutil.copyfile(args.image, work / "one.png")
        env = _environment(work / "pycache")
        rows = commands(work, checkpoint)
        for command in rows:  # warm-up: bytecode cache, page cache
            run_once(command, env, work, record=False)
        for index in range(args.runs):
            for command in rows if index % 2 == 0 else rows[::-1]:
                run_once(command, env, work, record=True)
        profile = import_profile(rows[0], env, work) if args.importtime else None
        run = run_profile(env, work) if args.profile_run else None

    _, peak_source = _peak_wrapped([])
    print("\n".join(["### Machine", "", *machine().describe()]))
    print(
        f"- {args.runs} runs per command in interleaved rounds after one warm-up round; medians;"
        f" peak RSS from {peak_source}; Python bytecode cached (PYTHONPYCACHEPREFIX)\n"
    )
    print(table(rows))
    if profile is not None:
        print(f"\n{profile}")
    if run is not None:
        print(f"\n{run}")
    if args.json:
        payload = {
            "machine": machine().as_dict(),
            "runs": args.runs,
            "peak_rss_source": peak_source,
            "commands": [asdict(c) | {"removes": str(c.removes)} for c in rows],
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    main()
