"""What the benchmark scripts print about the machine: CPU, cores, clock and fp32 peak.

Shared by ``scripts/bench_throughput.py`` and ``scripts/bench_coldstart.py`` (run either script;
this module is not run on its own). The fp32 peak is worked out from what Linux says about the
CPU, with the assumptions stated next to the figure rather than hidden in it:

    peak = cores × GHz × fp32 lanes × 2 (an FMA is a multiply and an add) × FMA units per core

cores from ``os.sched_getaffinity`` (the cores this process may use), the maximum clock from
``cpufreq/cpuinfo_max_freq`` (else the largest ``cpu MHz`` in ``/proc/cpuinfo``), the vector
width from the ``/proc/cpuinfo`` flags (avx512f → 16 lanes, avx2 + fma → 8, else 4 without FMA)
and 2 FMA units per core, which is an assumption: Linux does not report it, and some parts
(e.g. some Xeon Silver/Bronze) have one AVX-512 FMA unit, which halves the peak. Sustained
AVX-512 clocks are also often below the maximum, so the peak is an upper bound.
"""

from __future__ import annotations

import datetime
import os
import platform
import sys
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")
CPUFREQ_MAX = Path("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq")
KHZ_PER_GHZ = 1e6
MHZ_PER_GHZ = 1e3
FMA_FLOPS = 2  # one fused multiply-add is two floating-point operations
FMA_UNITS = 2  # per core; an assumption (see the module docstring)
LANES_AVX512 = 16
LANES_AVX2 = 8
LANES_SSE = 4
VERSIONED = ("onnxruntime", "torch", "numpy", "pillow", "typer")


@dataclass(frozen=True)
class Machine:
    """The machine a benchmark ran on, and its fp32 peak with how it was derived."""

    cpu: str
    cores: int
    ghz: float | None
    clock_source: str
    vector_flags: str
    lanes: int
    fma: bool
    peak_gflops: float | None
    python: str
    versions: dict[str, str]
    date: str

    def describe(self) -> list[str]:
        """Lines for a report: the CPU, the peak and how it was computed."""
        versions = ", ".join(f"{name} {version}" for name, version in self.versions.items())
        lines = [
            f"- CPU: {self.cpu}; {self.cores} cores usable (os.sched_getaffinity)",
            f"- clock: {self.ghz if self.ghz is not None else '?'} GHz ({self.clock_source})",
            f"- vector flags used for the peak: {self.vector_flags} → {self.lanes} fp32 lanes"
            + ("" if self.fma else ", no FMA"),
        ]
        if self.peak_gflops is not None and self.ghz is not None:
            fma = ""
            if self.fma:
                fma = f" × {FMA_FLOPS} (FMA) × {FMA_UNITS} (FMA units/core, assumed)"
            lines.append(
                f"- fp32 peak = {self.cores} cores × {self.ghz:g} GHz × {self.lanes} lanes{fma}"
                f" = {self.peak_gflops:.0f} GFLOP/s (an upper bound: assumes {FMA_UNITS} FMA "
                "units per core and the maximum clock under vector load)"
            )
        lines.append(f"- Python {self.python}; {versions}")
        lines.append(f"- date: {self.date}")
        return lines

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _cpuinfo() -> list[str]:
    return CPUINFO.read_text(errors="replace").splitlines() if CPUINFO.is_file() else []


def _field(lines: list[str], key: str) -> list[str]:
    return [line.split(":", 1)[1].strip() for line in lines if line.split(":", 1)[0].strip() == key]


def _clock(lines: list[str]) -> tuple[float | None, str]:
    if CPUFREQ_MAX.is_file():
        return int(CPUFREQ_MAX.read_text().strip()) / KHZ_PER_GHZ, str(CPUFREQ_MAX)
    mhz = [float(value) for value in _field(lines, "cpu MHz")]
    if mhz:
        return max(mhz) / MHZ_PER_GHZ, "/proc/cpuinfo 'cpu MHz' (no cpufreq max available)"
    return None, "unknown"


def _vector(flags: set[str]) -> tuple[int, bool, str]:
    if "avx512f" in flags:
        return LANES_AVX512, "fma" in flags, "avx512f" + (" fma" if "fma" in flags else "")
    if "avx2" in flags and "fma" in flags:
        return LANES_AVX2, True, "avx2 fma"
    return LANES_SSE, False, "sse (no avx2+fma)"


def _versions() -> dict[str, str]:
    found = {}
    for name in VERSIONED:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def machine() -> Machine:
    """Describe this machine and compute its fp32 peak."""
    lines = _cpuinfo()
    names = _field(lines, "model name")
    cpu = names[0] if names else platform.processor() or platform.machine()
    flag_lines = _field(lines, "flags")
    flags = set(flag_lines[0].split()) if flag_lines else set()
    cores = len(os.sched_getaffinity(0))
    ghz, source = _clock(lines)
    lanes, fma, used = _vector(flags)
    peak = None
    if ghz is not None:
        peak = cores * ghz * lanes * (FMA_FLOPS * FMA_UNITS if fma else 1)
    return Machine(
        cpu=cpu,
        cores=cores,
        ghz=ghz,
        clock_source=source,
        vector_flags=used,
        lanes=lanes,
        fma=fma,
        peak_gflops=peak,
        python=sys.version.split()[0],
        versions=_versions(),
        date=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    )


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A GitHub markdown table; numeric-looking columns are right-aligned."""

    def numeric(column: int) -> bool:
        cells = [row[column] for row in rows if row[column] not in ("", "—")]
        return bool(cells) and all(
            cell.replace(".", "", 1).replace("×", "").replace("%", "").replace(",", "").isdigit()
            for cell in cells
        )

    align = ["---:" if numeric(i) else "---" for i in range(len(header))]
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(out)
