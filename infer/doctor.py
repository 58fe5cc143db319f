"""``aeinfer doctor``: what ONNX Runtime is installed, and which providers really start.

A provider that is *listed* is not one that *works*: onnxruntime-gpu lists CUDA even without
usable CUDA libraries. So each listed provider is tried on a tiny bundled graph, and the
providers the session really obtained are read back.
"""

from __future__ import annotations

import importlib
import platform
import sys
from dataclasses import dataclass, field

from aeinfer import __version__
from aeinfer.card import read_card
from aeinfer.session import INSTALL_HINT, installed_runtimes, runtime_errors, session_options
from aeinfer.zoo import MODELS_DIR, bundled_names

# Providers tried for real; others are listed but not started (they need special hardware
# and setup that a generic check cannot provide).
PROBED_PROVIDERS = ("CUDAExecutionProvider", "CPUExecutionProvider")


@dataclass
class DoctorReport:
    lines: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    ok: bool = True


def _probe(ort: object, provider: str, model_bytes: bytes) -> str:
    """Start a session on ``provider`` and say what it really obtained."""
    options = session_options(ort)  # type: ignore[arg-type]
    try:
        session = ort.InferenceSession(  # type: ignore[attr-defined]
            model_bytes, options, providers=[provider]
        )
    except runtime_errors(ort) as exc:  # type: ignore[arg-type]
        return f"fails to start ({str(exc).strip().splitlines()[0] if str(exc).strip() else exc!r})"
    obtained = session.get_providers()
    if obtained and obtained[0] == provider:
        return "starts"
    return f"listed but does not start (session fell back to {', '.join(obtained)})"


def run_checks() -> DoctorReport:
    report = DoctorReport()
    report.lines.append(
        f"aeinfer {__version__}, Python {sys.version.split()[0]}, {platform.platform()}"
    )
    runtimes = installed_runtimes()
    report.lines.append(
        "runtime packages: " + (", ".join(f"{k} {v}" for k, v in runtimes.items()) or "none")
    )
    if len(runtimes) > 1:
        report.warnings.append(
            f"{' and '.join(runtimes)} are all installed; they overwrite each other's files. "
            "Uninstall all of them, then install exactly one ('aeinfer[cpu]' or 'aeinfer[gpu]')"
        )
    try:
        ort = importlib.import_module("onnxruntime")  # doctor inspects even a conflicted install
    except ImportError:
        report.lines.append(f"onnxruntime: not importable — {INSTALL_HINT}")
        report.ok = False
        return report
    available = list(ort.get_available_providers())
    report.lines.append(f"onnxruntime {ort.__version__} (device {ort.get_device()})")
    report.lines.append(f"providers listed: {', '.join(available)}")
    names = bundled_names()
    if not names:
        report.warnings.append("no bundled model found to probe providers with")
        return report
    model_bytes = read_card(MODELS_DIR / names[0]).graph_path("encoder").read_bytes()
    for provider in available:
        if provider in PROBED_PROVIDERS:
            report.lines.append(f"  {provider}: {_probe(ort, provider, model_bytes)}")
        else:
            report.lines.append(f"  {provider}: listed (not probed)")
    if "CUDAExecutionProvider" not in available:
        report.lines.append(
            "  CUDA: not in this build (install 'aeinfer[gpu]' on an NVIDIA machine)"
        )
    return report
