"""ONNX Runtime sessions with an explicit device choice that is checked, not assumed.

``onnxruntime-gpu`` lists ``CUDAExecutionProvider`` as available even where CUDA or cuDNN
cannot be loaded, and then silently runs on the CPU. So after a session is made, the providers
it really uses are read back with ``session.get_providers()``: ``cuda`` requested and not
obtained is an error; ``auto`` takes what it gets and says so.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from aeinfer.errors import (
    DeviceUnavailableError,
    ModelIntegrityError,
    RuntimeConflictError,
    RuntimeMissingError,
)

DEVICES = ("auto", "cpu", "cuda")
CPU_PROVIDER = "CPUExecutionProvider"
CUDA_PROVIDER = "CUDAExecutionProvider"
# Distributions that install the `onnxruntime` import package; any two overwrite each other.
RUNTIME_DISTRIBUTIONS = (
    "onnxruntime",
    "onnxruntime-gpu",
    "onnxruntime-directml",
    "onnxruntime-openvino",
    "onnxruntime-qnn",
)
INSTALL_HINT = "pip install 'aeinfer[cpu]' (or 'aeinfer[gpu]' for NVIDIA GPUs)"
# Set to 1 to run anyway with several runtime distributions installed (at your own risk).
ALLOW_CONFLICT_ENV = "AEINFER_ALLOW_RUNTIME_CONFLICT"
# ORT's own warnings (e.g. about a provider falling back) are replaced by our checked report.
ORT_LOG_ERROR = 3


def installed_runtimes() -> dict[str, str]:
    """Installed ONNX Runtime distributions and their versions."""
    found: dict[str, str] = {}
    for name in RUNTIME_DISTRIBUTIONS:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return found


def check_runtime_conflict() -> None:
    """Raise RuntimeConflictError when two ONNX Runtime distributions are installed.

    They install the same ``onnxruntime`` package into one folder, so whichever was installed
    last silently replaced parts of the other: the result may lack CUDA or crash.
    """
    runtimes = installed_runtimes()
    if len(runtimes) > 1 and os.environ.get(ALLOW_CONFLICT_ENV) != "1":
        names = " and ".join(runtimes)
        raise RuntimeConflictError(
            f"{names} are both installed and overwrite each other; run `pip uninstall -y "
            f"{' '.join(runtimes)}` then install one: {INSTALL_HINT} "
            f"(or set {ALLOW_CONFLICT_ENV}=1 to go on anyway)"
        )


def import_runtime() -> ModuleType:
    """Import onnxruntime, or raise RuntimeMissingError naming the extra to install."""
    check_runtime_conflict()
    try:
        return importlib.import_module("onnxruntime")
    except ImportError as exc:
        raise RuntimeMissingError(f"ONNX Runtime is not installed: {INSTALL_HINT}") from exc


def check_device(device: str) -> None:
    if device not in DEVICES:
        raise DeviceUnavailableError(f"unknown device {device!r}; valid: {', '.join(DEVICES)}")


@dataclass(frozen=True)
class Placement:
    """Which providers were asked for and which a session really uses, and a note for users."""

    device: str
    requested: tuple[str, ...]
    obtained: tuple[str, ...]
    note: str

    @property
    def on_cuda(self) -> bool:
        return bool(self.obtained) and self.obtained[0] == CUDA_PROVIDER


def _requested(device: str, available: list[str]) -> tuple[str, ...]:
    if device == "cpu":
        return (CPU_PROVIDER,)
    if device == "cuda" and CUDA_PROVIDER not in available:
        runtimes = ", ".join(f"{k} {v}" for k, v in installed_runtimes().items()) or "none"
        raise DeviceUnavailableError(
            "--device cuda: this ONNX Runtime build has no CUDAExecutionProvider "
            f"(installed: {runtimes}); install 'aeinfer[gpu]' on a machine with an NVIDIA GPU"
        )
    if CUDA_PROVIDER in available:
        return (CUDA_PROVIDER, CPU_PROVIDER)
    return (CPU_PROVIDER,)


def create_session(model_bytes: bytes, device: str, label: str) -> tuple[Any, Placement]:
    """An InferenceSession for ``model_bytes`` on ``device``, with what it really obtained."""
    check_device(device)
    ort = import_runtime()
    requested = _requested(device, ort.get_available_providers())
    options = ort.SessionOptions()
    options.log_severity_level = ORT_LOG_ERROR
    try:
        session = ort.InferenceSession(model_bytes, options, providers=list(requested))
    except (RuntimeError, ValueError) as exc:  # ORT's InvalidProtobuf / Fail derive from these
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelIntegrityError(
            f"{label}: ONNX Runtime cannot load this graph ({first})"
        ) from exc
    obtained = tuple(session.get_providers())
    if device == "cuda" and obtained[0] != CUDA_PROVIDER:
        raise DeviceUnavailableError(
            f"--device cuda: ONNX Runtime lists CUDA but could not start it for {label} and "
            "fell back to the CPU (CUDA or cuDNN libraries missing or mismatched; run "
            "`aeinfer doctor`)"
        )
    if device == "auto":
        got = "CUDA" if obtained[0] == CUDA_PROVIDER else "CPU"
        why = "" if got == "CUDA" or CUDA_PROVIDER not in requested else " (CUDA failed to start)"
        note = f"device auto: using {got}{why}"
    else:
        note = f"device {device}: using {'CUDA' if obtained[0] == CUDA_PROVIDER else 'CPU'}"
    return session, Placement(device, requested, obtained, note)
