"""ONNX Runtime sessions with an explicit device choice that is checked, not assumed.

``onnxruntime-gpu`` lists ``CUDAExecutionProvider`` as available even where CUDA or cuDNN
cannot be loaded, and then silently runs on the CPU. So after a session is made, the providers
it really uses are read back with ``session.get_providers()``: ``cuda`` requested and not
obtained is an error; ``auto`` takes what it gets and says so.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
import threading
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
DIST_INFO = ".dist-info"
INSTALL_HINT = "pip install 'aeinfer[cpu]' (or 'aeinfer[gpu]' for NVIDIA GPUs)"
# Set to 1 to run anyway with several runtime distributions installed (at your own risk).
ALLOW_CONFLICT_ENV = "AEINFER_ALLOW_RUNTIME_CONFLICT"
# ORT's own warnings (e.g. about a provider falling back) are replaced by our checked report.
ORT_LOG_ERROR = 3
# Threads. A model runs two sessions, encoder then decoder. With a pool per session (ONNX
# Runtime's default) either the idle pool's threads busy-wait and take cores from the busy one
# (spinning on: 1.4-2.4× slower for denoise at batch 64-1024, 3.1× for dense at batch 1024), or,
# with spinning off (what a pool per session uses here), every operator pays for waking a
# sleeping thread (the vae's 2-wide GEMMs take 0.36 ms instead of 0.1). One process-wide pool
# (ONNX Runtime's global thread pool), spinning as ONNX Runtime defaults, has neither cost:
# scripts/bench_threads.py on 2 cores measured it 1.0-3.8× faster (vae batch 1: 3.8×, dense
# batch 1024: 1.3×; docs/benchmarks.md). But once that pool exists, ONNX Runtime refuses every
# session in the process that does not use it, the caller's own included; so only a process
# aeinfer owns makes it by itself (the aeinfer command, a Ray actor: prefer_shared_threads),
# and an application opts in with share_threads().
SPIN_CONFIG = "session.intra_op.allow_spinning"
SPIN_OFF = "0"
INTER_OP_THREADS = 1
"""Sequential execution never uses the inter-op pool; one thread is the least it takes."""
SHARED_ELSEWHERE = -1
"""The process-wide pool was made by other code in this process: its size is not known."""
_shared_lock = threading.Lock()
_shared_threads: int | None = None
"""The process-wide pool's size once it exists (SHARED_ELSEWHERE: made by other code)."""
_shared_wanted = False


def _normalized(name: str) -> str:
    """A distribution name as PEP 503 compares them: lower case, runs of -_. as one '-'."""
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_runtimes() -> dict[str, str]:
    """Installed ONNX Runtime distributions and their versions.

    Read from the ``<name>-<version>.dist-info`` folders on ``sys.path``, where pip installs
    wheels (ONNX Runtime ships only wheels). Done by hand because it runs on every model load,
    and importing :mod:`importlib.metadata` alone costs ~30 ms of each command's start-up.
    """
    wanted = {_normalized(name): name for name in RUNTIME_DISTRIBUTIONS}
    found: dict[str, str] = {}
    for entry in sys.path:
        try:
            folders = os.listdir(entry or ".")
        except OSError:  # a zip file, or a path that does not exist
            continue
        for folder in folders:
            if not folder.endswith(DIST_INFO):
                continue
            dist, _, version = folder[: -len(DIST_INFO)].partition("-")
            name = wanted.get(_normalized(dist))
            if name is not None and name not in found:  # the first on sys.path wins
                found[name] = version
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


def runtime_errors(ort: ModuleType) -> tuple[type[BaseException], ...]:
    """What ONNX Runtime raises: its own exception classes (Fail, InvalidProtobuf, … derive
    from Exception alone, not from RuntimeError) and the Python ones its wrapper raises."""
    state = getattr(getattr(ort, "capi", None), "onnxruntime_pybind11_state", None)
    own = (
        [
            value
            for value in vars(state).values()
            if isinstance(value, type) and issubclass(value, Exception)
        ]
        if state is not None
        else []
    )
    return (RuntimeError, ValueError, *own)


def cpu_threads() -> int:
    """Threads of ONNX Runtime's intra-op pool on the CPU: the cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


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


def session_options(ort: ModuleType, threads: int | None = None, free_shapes: bool = False) -> Any:
    """The SessionOptions every aeinfer session uses (``ort`` is the onnxruntime module).

    Where the process-wide pool exists (:func:`share_threads`), the session runs in it (and
    ``threads`` is that pool's business). Otherwise a pool of its own of ``threads`` intra-op
    threads (default: one per usable core; a Ray actor passes the CPUs Ray gave it, so that
    actors sharing a node do not oversubscribe it), spinning off (see SPIN_CONFIG). The rest
    are ONNX Runtime's defaults, kept because they measured best (docs/benchmarks.md, denoise
    on 2 cores): all graph optimizations (without the NCHWc layout transform the convolutions
    take 2× as long), the memory arena (without it batch 1024 is 1.8× slower) and the memory
    pattern (no difference), sequential execution (the parallel executor is 1.7-2.5× slower on
    these chain-shaped graphs, and adds ~8 ms to a batch-1 call).

    ``free_shapes``: the graph takes items of any size (free spatial axes, served in tiles of
    many shapes), so the memory pattern is off. ONNX Runtime plans and keeps one pattern of
    blocks per input shape it has seen, and a job of photos of several sizes fragments the
    arena with them. ``aeinfer denoise`` peaked at 939,936 kB on one 12-megapixel photo and at
    1,018,724 kB on a folder of 21 photos, scans and digits holding two of them (maximum RSS,
    ``/usr/bin/time -v``, 2-core VM); without the pattern at 784,552 and 864,672 kB, in the
    same time, every result byte-identical (``scripts/photo_speed.py`` measures the first).
    """
    options = ort.SessionOptions()
    options.log_severity_level = ORT_LOG_ERROR
    if free_shapes:
        options.enable_mem_pattern = False
    if threads is not None and threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    if _shared_threads is not None:
        options.use_per_session_threads = False
        return options
    options.intra_op_num_threads = threads or cpu_threads()
    options.add_session_config_entry(SPIN_CONFIG, SPIN_OFF)
    return options


def share_threads(threads: int | None = None) -> int:
    """Run every ONNX Runtime session of this process in one pool of ``threads`` intra-op
    threads (default: one per usable core), and return its size (``SHARED_ELSEWHERE`` where
    other code made it first). Call it before sessions are made; from then on ONNX Runtime
    refuses any session in the process that does not use the pool (set
    ``use_per_session_threads = False`` on your own, or make them through
    :func:`session_options`). Calling it again changes nothing."""
    global _shared_threads
    size = threads or cpu_threads()
    if size < 1:
        raise ValueError(f"threads must be at least 1, got {size}")
    with _shared_lock:
        if _shared_threads is None:
            ort = import_runtime()
            try:
                ort.set_global_thread_pool_sizes(size, INTER_OP_THREADS)
                _shared_threads = size
            except runtime_errors(ort):  # Fail: "Global thread pools have already been created"
                _shared_threads = SHARED_ELSEWHERE
        return _shared_threads


def prefer_shared_threads() -> None:
    """For a process aeinfer owns (the command line, a Ray actor): its first session makes the
    process-wide pool (:func:`share_threads`, sized by that session's threads). Imports
    nothing, so the command line can say it before it knows whether it will run a model."""
    global _shared_wanted
    _shared_wanted = True


def shared_threads() -> int | None:
    """The process-wide pool's size, ``SHARED_ELSEWHERE``, or None where there is none."""
    return _shared_threads


def create_session(
    model_bytes: bytes,
    device: str,
    label: str,
    threads: int | None = None,
    free_shapes: bool = False,
) -> tuple[Any, Placement]:
    """An InferenceSession for ``model_bytes`` on ``device`` (``threads`` intra-op threads on
    the CPU, default one per usable core; ``free_shapes`` for a graph that takes items of any
    size, see :func:`session_options`), with what it really obtained."""
    check_device(device)
    ort = import_runtime()
    requested = _requested(device, ort.get_available_providers())
    if _shared_wanted:
        share_threads(threads)
    options = session_options(ort, threads, free_shapes)
    try:
        session = ort.InferenceSession(model_bytes, options, providers=list(requested))
    except runtime_errors(ort) as exc:
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
