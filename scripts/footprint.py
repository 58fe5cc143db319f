"""Installed footprint: the runtime-only install next to a torch install, in fresh venvs.

    python scripts/footprint.py [--json] [--keep DIR]

Creates two virtual environments and installs into each (needs the package index):

* ``aeinfer[cpu]`` — this checkout, not editable, so the bundled models come as package data:
  what a user on an edge device installs;
* ``torch`` (pinned by constraints.txt) with numpy and Pillow — the least needed to run the same
  models from their checkpoints in PyTorch eager mode instead.

Sizes are summed per distribution from the files each one installed (its dist-info RECORD, read
off disk), so pip and setuptools, which every venv has, are left out of both totals.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONSTRAINTS = ROOT / "constraints.txt"
BASE_TOOLS = {"pip", "setuptools", "wheel"}
MIB = 1024 * 1024
INSTALLS = {
    "aeinfer[cpu]": [f"{ROOT}[cpu]"],
    "torch (eager)": ["torch", "numpy", "pillow"],
}


def site_packages(env: Path) -> Path:
    return next(env.glob("lib/python*/site-packages"))


def sizes(env: Path) -> dict[str, int]:
    """Bytes installed per distribution, from each dist-info RECORD."""
    root = site_packages(env)
    found: dict[str, int] = {}
    for record in root.glob("*.dist-info/RECORD"):
        name = record.parent.name.removesuffix(".dist-info").rsplit("-", 1)[0]
        if name.lower() in BASE_TOOLS:
            continue
        total = 0
        with record.open(newline="", encoding="utf-8") as fh:
            for row in csv.reader(fh):
                path = (root / row[0]).resolve()
                if path.is_file():
                    total += path.stat().st_size
        found[name] = total
    return dict(sorted(found.items(), key=lambda item: -item[1]))


def install(env: Path, requirements: list[str]) -> None:
    venv.EnvBuilder(with_pip=True).create(env)
    python = env / "bin" / "python"
    command = [str(python), "-m", "pip", "install", "-q", "-c", str(CONSTRAINTS), *requirements]
    subprocess.run(command, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--keep", type=Path, default=None, help="Build the venvs here and keep.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="aeinfer-footprint-") as scratch:
        base = args.keep or Path(scratch)
        results = {}
        for label, requirements in INSTALLS.items():
            env = base / label.split()[0].replace("[", "-").replace("]", "")
            print(f"installing {label} into {env} …", file=sys.stderr, flush=True)
            install(env, requirements)
            results[label] = sizes(env)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print("| install | total | largest distributions |")
    print("|---|---|---|")
    for label, dists in results.items():
        total = sum(dists.values()) / MIB
        largest = ", ".join(f"{name} {size / MIB:.0f} MB" for name, size in list(dists.items())[:4])
        print(f"| `{label}` | {total:.0f} MB | {largest} |")
    ratio = sum(results["torch (eager)"].values()) / sum(results["aeinfer[cpu]"].values())
    print(f"\nThe torch install is {ratio:.1f}× the size of the runtime-only install.")


if __name__ == "__main__":
    main()
