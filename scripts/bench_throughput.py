"""Throughput of the bundled models: ONNX Runtime (through aeinfer) against PyTorch eager.

    python scripts/bench_throughput.py [--runs runs/zoo] [--models denoise ...]
        [--batches 1 64 1024] [--rounds 8] [--round-seconds 0.25] [--json OUT.json]
        [--profile-ops] [--variants]

For every bundled model, the same weights run end to end (encoder then decoder, items
(N, 1, 28, 28) float32 in, items out) two ways: ``aeinfer.load(name, device="cpu")
.reconstruct(x)`` and, under ``torch.inference_mode()``, ``decoder(encoder(to_layout(x)))`` on
the torch modules, with the layout conversion and the conversion back to numpy in both, so they
do the same work. The modules' weights: the training checkpoint ``<runs>/<family>/last.pt``
(git-ignored); without it, the weights read from the bundled graphs (``graph_modules.py``);
where the exporter rewrote the graph (its weights no longer carry the modules' names), fresh
weights of the card's architecture (speed does not depend on their values). Before timing, both
outputs must agree within 1e-4; where the bundled graph holds other weights than the modules, the
modules are re-exported into a temporary folder with aeinfer's exporter (same architecture and
graph rewrites, the bundled card's item, range, preparation, latent kind and tasks), and that
folder is timed; the report says so (``--no-reexport`` skips such models instead).

Both backends are timed in interleaved rounds (ORT then torch, then torch then ORT, …) so that
drift of the machine's speed falls on both alike. Reported per batch size: images/s (all images
over all timed calls), median and p99 latency per call, and ORT/torch throughput. FLOPs per image
are counted from the torch modules (multiply-adds of Linear, Conv, ConvTranspose and LSTM layers
recorded by forward hooks, 1 MAC = 2 FLOPs; activations, pooling and resizing are not counted),
and the fraction of the machine's fp32 peak each backend reaches is printed with how the peak
was derived (see ``scripts/bench_machine.py``), next to what a large fp32 GEMM in torch reaches
on the same threads (the practical ceiling). torch runs on as many threads as ONNX Runtime's
intra-op pool: the cores this process may use.

``--variants`` also times each reduced-precision variant a model ships (fp16, int8: see
``aeinfer.export.variants``) in the same interleaved rounds, and prints its throughput against
fp32 next to its quality cost from the card (``graphs[precision].measured.cost``).

``--profile-ops`` adds, per model, where ONNX Runtime spends its time at the largest batch
size: per-node kernel time from ORT's own profiler (``enable_profiling``) on sessions made with
aeinfer's session options, summed over a few runs.

For meaningful numbers, run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from bench_machine import Machine, machine, markdown_table
from bench_timing import MS, WARMUP_CALLS, interleaved
from graph_modules import NotRebuildable, modules_from_graphs, modules_of_card
from torch import nn

import aeinfer
from aeinfer.card import FP32, ROLES, Card
from aeinfer.export.onnx_export import export_pair
from aeinfer.session import (
    CPU_PROVIDER,
    cpu_threads,
    import_runtime,
    session_options,
    share_threads,
)
from aeinfer.train.trainer import load_checkpoint, rebuild, to_layout
from aeinfer.zoo import bundled_names

DEFAULT_RUNS = Path("runs/zoo")
CHECKPOINT = "last.pt"
DEFAULT_BATCHES = (1, 64, 1024)
DEFAULT_ROUNDS = 8
DEFAULT_ROUND_SECONDS = 0.25
PARITY_BATCH = 16
PARITY_ATOL = 1e-4
GIGA = 1e9
MEGA = 1e6
SEED = 0
FLOPS_PER_MAC = 2
GEMM_SIZE = 2048
GEMM_REPEATS = 20
"""Best of this many: the VM's speed drifts, and a ceiling measured low inflates every share."""
LSTM_GATES = 4
CONVOLUTIONS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
TRANSPOSED = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
ORT = "ort"
TORCH = "torch"
PROFILE_RUNS = 10
KERNEL_SUFFIX = "_kernel_time"
US_PER_MS = 1e3


# --- FLOPs ---------------------------------------------------------------------------------
def _conv_macs(module: nn.Module, inputs: torch.Tensor, output: torch.Tensor) -> int:
    kernel = math.prod(module.kernel_size)
    if isinstance(module, TRANSPOSED):
        # Every input value is scattered through the kernel into every output channel.
        return inputs.numel() * (module.out_channels // module.groups) * kernel
    return output.numel() * (module.in_channels // module.groups) * kernel


def _lstm_macs(module: nn.LSTM, inputs: torch.Tensor) -> int:
    if module.proj_size:
        raise ValueError("LSTM with proj_size is not counted")
    steps_x_batch = inputs.numel() // inputs.shape[-1]
    directions = 2 if module.bidirectional else 1
    hidden = module.hidden_size
    total = 0
    for layer in range(module.num_layers):
        width = module.input_size if layer == 0 else hidden * directions
        total += LSTM_GATES * hidden * (width + hidden) * directions
    return steps_x_batch * total


def count_flops(modules: list[nn.Module], run: Callable[[], Any]) -> int:
    """FLOPs of one call of ``run`` through ``modules``: 2 × multiply-adds of their Linear,
    Conv, ConvTranspose and LSTM layers (biases, activations, pooling, resizing not counted)."""
    macs = 0

    def hook(module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
        nonlocal macs
        first = args[0]
        out = output[0] if isinstance(output, tuple) else output
        if isinstance(module, nn.Linear):
            macs += first.numel() // module.in_features * module.in_features * module.out_features
        elif isinstance(module, (*CONVOLUTIONS, *TRANSPOSED)):
            macs += _conv_macs(module, first, out)
        elif isinstance(module, nn.LSTM):
            macs += _lstm_macs(module, first)

    counted = (nn.Linear, *CONVOLUTIONS, *TRANSPOSED, nn.LSTM)
    handles = [
        sub.register_forward_hook(hook)
        for module in modules
        for sub in module.modules()
        if isinstance(sub, counted)
    ]
    try:
        run()
    finally:
        for handle in handles:
            handle.remove()
    return FLOPS_PER_MAC * macs


def gemm_ceiling() -> float:
    """GFLOP/s of the best of a few 2048² fp32 matrix products in torch (MKL/oneDNN), on the
    same threads: what a large, perfectly regular kernel reaches here, for scale."""
    a = torch.rand(GEMM_SIZE, GEMM_SIZE)
    b = torch.rand(GEMM_SIZE, GEMM_SIZE)
    a @ b
    best = math.inf
    for _ in range(GEMM_REPEATS):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return FLOPS_PER_MAC * GEMM_SIZE**3 / best / GIGA


# --- models --------------------------------------------------------------------------------
@dataclass
class Subject:
    """One model: the aeinfer model, the torch modules with the same weights, and notes."""

    name: str
    family: str
    layout: str
    model: aeinfer.Autoencoder
    encoder: nn.Module
    decoder: nn.Module
    notes: list[str]


def torch_reconstruct(subject: Subject, x: np.ndarray) -> np.ndarray:
    """decoder(encoder(x)) in torch, numpy items (N, *item) in and out, as aeinfer does it."""
    n = x.shape[0]
    with torch.inference_mode():
        codes = subject.encoder(to_layout(torch.from_numpy(x), subject.layout))
        code = codes[0] if isinstance(codes, tuple) else codes  # a VAE decodes its mean
        return subject.decoder(code).reshape(n, *x.shape[1:]).numpy()


def _max_diff(subject: Subject, x: np.ndarray) -> float:
    return float(np.abs(subject.model.reconstruct(x) - torch_reconstruct(subject, x)).max())


def _item(model: aeinfer.Autoencoder) -> tuple[int, ...]:
    """The model's item shape, (1, 28, 28) for the MNIST zoo; free axes cannot be timed here."""
    shape = model.item_shape
    if any(size is None for size in shape):
        raise SystemExit(f"{model.name}: item {shape} has free axes; this benchmark needs fixed")
    return tuple(int(size) for size in shape if size is not None)


def _reexport(card: Card, family: Any, encoder: nn.Module, decoder: nn.Module, tmp: Path) -> Path:
    """Export the checkpoint's modules as the bundled model was: its card's item, range,
    preparation, latent and tasks (fp32 only: variants are not made)."""
    item = tuple(int(size or 0) for size in card.data.shape)
    noise = torch.rand(2, *item, generator=torch.Generator().manual_seed(SEED))
    example = to_layout(noise, family.LAYOUT)
    prep = card.preparation
    out = tmp / card.name
    export_pair(
        encoder,
        decoder,
        example,
        out,
        name=card.name,
        family=card.family,
        description=card.description,
        item_shape=item,
        value_range=card.data.range,
        channels=card.data.channels,
        preparation={"adapter": prep.adapter, "version": prep.version, "params": prep.params},
        latent_kind=card.latent.kind,
        tasks=card.tasks,
    )
    return out


def _modules(name: str, card: Card, checkpoint: Path) -> tuple[Any, nn.Module, nn.Module, str]:
    """(family, encoder, decoder, where the weights came from): the training checkpoint; else
    the bundled graphs' weights; else, for a graph the exporter rewrote (its weights no longer
    carry the modules' names), fresh weights of the card's architecture, re-exported below
    (speed does not depend on the weights' values)."""
    if checkpoint.is_file():
        family, _, encoder, decoder = rebuild(load_checkpoint(checkpoint))
        return family, encoder, decoder, str(checkpoint)
    try:
        family, encoder, decoder = modules_from_graphs(name)
        return family, encoder, decoder, "the bundled graphs' weights (no checkpoint)"
    except NotRebuildable as why:
        torch.manual_seed(SEED)
        family, encoder, decoder = modules_of_card(card)
        return family, encoder, decoder, f"fresh weights ({why})"


def load_subject(name: str, runs: Path, tmp: Path, reexport: bool) -> Subject | None:
    """The model ``name`` and torch modules with the same weights, or None (reason printed)."""
    model = aeinfer.load(name, device="cpu")
    if any(size is None for size in model.item_shape):
        print(f"skip {name}: free-size items (scripts/photo_speed.py times it)", file=sys.stderr)
        return None
    family_name = model.family
    checkpoint = runs / family_name / CHECKPOINT
    family, encoder, decoder, source = _modules(name, model.card, checkpoint)
    subject = Subject(name, family_name, family.LAYOUT, model, encoder, decoder, [])
    if source != str(checkpoint):
        subject.notes.append(f"{name}: torch runs {source}")
    x = np.random.default_rng(SEED).random((PARITY_BATCH, *_item(model)), dtype=np.float32)
    diff = _max_diff(subject, x)
    if diff > PARITY_ATOL:
        if not reexport:
            why = f"bundled graph differs from the torch modules ({source}) by {diff:.3g}"
            print(f"skip {name}: {why}", file=sys.stderr)
            return None
        subject.model = aeinfer.load(_reexport(model.card, family, encoder, decoder, tmp), "cpu")
        subject.notes.append(
            f"{name}: the bundled graph was exported from other weights than {source} "
            f"(max |diff| {diff:.3g}); timed a fresh export of those (same architecture, same "
            "exporter, its graph rewrites included) instead"
        )
        diff = _max_diff(subject, x)
    if diff > PARITY_ATOL:
        raise SystemExit(f"{name}: ORT and torch disagree by {diff:.3g} (> {PARITY_ATOL})")
    return subject


# --- report --------------------------------------------------------------------------------
@dataclass
class Row:
    model: str
    batch: int
    flops_per_image: int
    calls: dict[str, int]
    images_per_s: dict[str, float]
    median_ms: dict[str, float]
    p99_ms: dict[str, float]
    peak_fraction: dict[str, float | None]

    @property
    def ratio(self) -> float:
        return self.images_per_s[ORT] / self.images_per_s[TORCH]


def bench(
    subject: Subject,
    batches: list[int],
    rounds: int,
    budget: float,
    host: Machine,
    variants: bool = False,
) -> list[Row]:
    rows = []
    rng = np.random.default_rng(SEED)
    item = _item(subject.model)
    one = rng.random((1, *item), dtype=np.float32)
    flops = count_flops([subject.encoder, subject.decoder], lambda: torch_reconstruct(subject, one))
    for batch in batches:
        x = rng.random((batch, *item), dtype=np.float32)
        calls = {
            ORT: lambda x=x: subject.model.reconstruct(x),
            TORCH: lambda x=x: torch_reconstruct(subject, x),
        }
        # The bundled model's variants (a re-exported subject has fp32 only; its fp32 graph is
        # the bundled one's architecture and rewrites, so its speed is the bundled fp32's).
        bundled = aeinfer.load(subject.name, device="cpu")
        for precision in bundled.precisions[1:] if variants else ():
            model = aeinfer.load(subject.name, device="cpu", precision=precision)
            calls[f"{ORT}-{precision}"] = lambda x=x, model=model: model.reconstruct(x)
        timings = interleaved(calls, batch, rounds, budget)
        peak = host.peak_gflops
        rows.append(
            Row(
                subject.name,
                batch,
                flops,
                {k: len(t.seconds) for k, t in timings.items()},
                {k: t.images_per_s for k, t in timings.items()},
                {k: t.median_ms for k, t in timings.items()},
                {k: t.p99_ms for k, t in timings.items()},
                {
                    k: (t.images_per_s * flops / (peak * GIGA) if peak else None)
                    for k, t in timings.items()
                },
            )
        )
        print(
            f"  {subject.name} b={batch}: ort {rows[-1].images_per_s[ORT]:,.0f}/s, "
            f"torch {rows[-1].images_per_s[TORCH]:,.0f}/s, ×{rows[-1].ratio:.2f}",
            file=sys.stderr,
        )
    return rows


def _sessions(card: Card, profile_dir: Path | None = None) -> list[Any]:
    """Encoder and decoder sessions made as aeinfer makes them (its options, CPU), profiling
    into ``profile_dir`` where given."""
    ort = import_runtime()
    sessions = []
    for role in ROLES:
        path = card.graph_path(role, FP32)
        options = session_options(ort)
        if profile_dir is not None:
            options.enable_profiling = True
            options.profile_file_prefix = str(profile_dir / path.name)
        sessions.append(ort.InferenceSession(path.read_bytes(), options, providers=[CPU_PROVIDER]))
    return sessions


def _bare_run(card: Card, sessions: list[Any], layout: np.ndarray) -> Callable[[], Any]:
    """encoder then decoder on graph-ready input: no checks, no layout, no clip."""
    encoder, decoder = sessions
    image_name = card.encoder.inputs[0].name
    code_name = card.encoder.outputs[0].name
    latent_name = card.decoder.inputs[0].name
    return lambda: decoder.run(
        None, {latent_name: encoder.run([code_name], {image_name: layout})[0]}
    )


def kernel_times(subject: Subject, batch: int, runs: int) -> tuple[collections.Counter[str], float]:
    """Per-node kernel µs summed over ``runs`` encoder+decoder runs (ORT's profiler, the first
    run included), and the wall ms per run under the profiler."""
    model = subject.model.model  # the tensor-level model: what its sessions are fed
    card = model.card
    x = np.random.default_rng(SEED).random((batch, *_item(subject.model)), dtype=np.float32)
    layout = model.to_graph(model.check_items(x))
    totals: collections.Counter[str] = collections.Counter()
    with tempfile.TemporaryDirectory(prefix="aeinfer-profile-") as tmp:
        sessions = _sessions(card, Path(tmp))
        run = _bare_run(card, sessions, layout)
        start = time.perf_counter()
        for _ in range(runs):
            run()
        wall_ms = (time.perf_counter() - start) / runs * MS
        for graph, session in zip(ROLES, sessions, strict=True):
            events = json.loads(Path(session.end_profiling()).read_text())
            for event in events:
                if event.get("cat") == "Node" and event["name"].endswith(KERNEL_SUFFIX):
                    node = event["name"][: -len(KERNEL_SUFFIX)]
                    key = f"{graph} | {event['args'].get('op_name', '?')} | {node}"
                    totals[key] += event["dur"]
    return totals, wall_ms


def profile_ops(subject: Subject, batch: int) -> str:
    """Per-node kernel time of the encoder and decoder at ``batch``, from ORT's profiler."""
    runs = PROFILE_RUNS
    totals, wall_ms = kernel_times(subject, batch, runs)
    all_us = sum(totals.values())
    kernel_ms = all_us / runs / US_PER_MS
    body = [
        [*key.split(" | "), f"{us / runs / US_PER_MS:.3f}", f"{100 * us / all_us:.1f}%"]
        for key, us in totals.most_common()
    ]
    head = (
        f"#### {subject.name}: ORT per-node kernel time, batch {batch} (mean of {runs} runs, "
        f"the first included; kernels {kernel_ms:.2f} ms of {wall_ms:.2f} ms wall per "
        "encoder+decoder run under the profiler)\n\n"
    )
    return head + markdown_table(["graph", "op", "node", "ms/run", "share"], body)


def call_breakdown(subject: Subject, batch: int, rounds: int, budget: float) -> list[str]:
    """Where one call's time goes at ``batch``: the API, the tensor-level Model's own work, the
    two bare session runs, against torch eager; interleaved. (Kernel times from ORT's profiler
    are not subtracted: profiling slows small kernels, and at batch 1 they read more than the
    unprofiled runs take; ``--profile-ops --batches 1`` gives their split.)"""
    model = subject.model.model
    card = model.card
    x = np.random.default_rng(SEED).random((batch, *_item(subject.model)), dtype=np.float32)
    bare = _bare_run(card, _sessions(card), model.to_graph(model.check_items(x)))
    timings = interleaved(
        {
            "api": lambda: subject.model.reconstruct(x),
            "model": lambda: model.reconstruct(x),
            "sessions": bare,
            TORCH: lambda: torch_reconstruct(subject, x),
        },
        batch,
        rounds,
        budget,
    )
    us = {key: t.median_ms * US_PER_MS for key, t in timings.items()}
    return [
        f"| {subject.name} | {batch} | {us['api']:.1f} | {us['api'] - us['model']:.1f} | "
        f"{us['model'] - us['sessions']:.1f} | {us['sessions']:.1f} | "
        f"{100 * us['sessions'] / us['api']:.0f}% | {us[TORCH]:.1f} | "
        f"{us[TORCH] / us['api']:.2f}× |"
    ]


BREAKDOWN_HEAD = (
    "| model | batch | aeinfer call µs | API layer µs | Model checks, layout, clip µs | "
    "two bare ORT runs µs | ORT share | torch eager µs | aeinfer/torch |\n"
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def table(rows: list[Row]) -> str:
    header = [
        "model",
        "batch",
        "MFLOP/img",
        "ORT img/s",
        "torch img/s",
        "ORT/torch",
        "ORT median ms",
        "torch median ms",
        "ORT p99 ms",
        "torch p99 ms",
        "ORT % peak",
        "torch % peak",
    ]
    body = [
        [
            r.model,
            str(r.batch),
            f"{r.flops_per_image / MEGA:.2f}",
            f"{r.images_per_s[ORT]:,.0f}",
            f"{r.images_per_s[TORCH]:,.0f}",
            f"{r.ratio:.2f}×",
            f"{r.median_ms[ORT]:.3f}",
            f"{r.median_ms[TORCH]:.3f}",
            f"{r.p99_ms[ORT]:.3f}",
            f"{r.p99_ms[TORCH]:.3f}",
            _pct(r.peak_fraction[ORT]),
            _pct(r.peak_fraction[TORCH]),
        ]
        for r in rows
    ]
    return markdown_table(header, body)


def _cost(card: Card, precision: str) -> str:
    """A variant's quality cost on the primary metric, as its card records it."""
    measured = card.graphs[precision].measured
    cost = (measured or {}).get("cost")
    return "—" if cost is None else f"{cost['metric']} {cost['delta']:+.4g}"


def variant_table(rows: list[Row], cards: dict[str, Card]) -> str:
    """Each variant's throughput against fp32 in the same rounds, and its card's quality cost."""
    body = []
    for r in rows:
        for backend, speed in r.images_per_s.items():
            if not backend.startswith(f"{ORT}-"):
                continue
            precision = backend.split("-", 1)[1]
            body.append(
                [
                    r.model,
                    precision,
                    str(r.batch),
                    f"{speed:,.0f}",
                    f"{r.images_per_s[ORT]:,.0f}",
                    f"{speed / r.images_per_s[ORT]:.2f}×",
                    _cost(cards[r.model], precision),
                ]
            )
    header = ["model", "precision", "batch", "img/s", "fp32 img/s", "×fp32", "cost (card)"]
    return markdown_table(header, body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=DEFAULT_RUNS, help="<runs>/<family>/last.pt")
    parser.add_argument("--models", nargs="*", help="bundled model names (default: all)")
    parser.add_argument("--batches", nargs="*", type=int, default=list(DEFAULT_BATCHES))
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS)
    parser.add_argument("--round-seconds", type=float, default=DEFAULT_ROUND_SECONDS)
    parser.add_argument("--no-reexport", action="store_true", help="skip mismatched bundles")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    parser.add_argument(
        "--profile-ops", action="store_true", help="per-node ORT profile at the largest batch"
    )
    parser.add_argument("--variants", action="store_true", help="also time fp16/int8 variants")
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="where a call's time goes at the smallest batch size: API, checks, ORT, kernels",
    )
    parser.add_argument(
        "--pools",
        choices=("shared", "per-session"),
        default="shared",
        help="ONNX Runtime threads: one process-wide pool, as the aeinfer command, the server "
        "and Ray actors run (default), or the library's default, a pool per session",
    )
    args = parser.parse_args()

    host = machine()
    threads = cpu_threads()
    torch.set_num_threads(threads)
    if args.pools == "shared":
        share_threads(threads)
    print(f"ONNX Runtime threads: {args.pools} pool(s) of {threads}", file=sys.stderr)
    rows: list[Row] = []
    notes: list[str] = []
    profiles: list[str] = []
    breakdown: list[str] = []
    cards: dict[str, Card] = {}
    with tempfile.TemporaryDirectory(prefix="aeinfer-bench-") as tmp:
        for name in args.models or bundled_names():
            subject = load_subject(name, args.runs, Path(tmp), not args.no_reexport)
            if subject is None:
                continue
            notes += subject.notes
            rows += bench(
                subject, args.batches, args.rounds, args.round_seconds, host, args.variants
            )
            cards[name] = aeinfer.load(name, device="cpu").card  # the bundled variants' costs
            if args.profile_ops:
                profiles.append(profile_ops(subject, max(args.batches)))
            if args.breakdown:
                breakdown += call_breakdown(
                    subject, min(args.batches), args.rounds, args.round_seconds
                )

    gemm = gemm_ceiling()
    of_peak = f" ({100 * gemm / host.peak_gflops:.0f}% of the peak)" if host.peak_gflops else ""
    gemm_line = f"- measured: torch fp32 GEMM {GEMM_SIZE}² reaches {gemm:.0f} GFLOP/s{of_peak}"
    threads_line = (
        f"- threads: ONNX Runtime intra-op pool {threads} (aeinfer.session.cpu_threads; "
        f"{'one process-wide pool' if args.pools == 'shared' else 'a pool per session'}), "
        f"torch.set_num_threads({torch.get_num_threads()}); {args.rounds} interleaved rounds "
        f"of ≥{args.round_seconds} s per backend and batch size, after {WARMUP_CALLS} warm-up calls"
    )
    print("\n".join(["### Machine", "", *host.describe(), gemm_line, threads_line, ""]))
    print(table(rows))
    if args.variants:
        print("\n### Reduced-precision variants (ONNX Runtime, same rounds)\n")
        print(variant_table(rows, cards))
    for note in notes:
        print(f"\nNote: {note}")
    if breakdown:
        print(f"\n### Where a call's time goes, batch {min(args.batches)} (medians)\n")
        print("\n".join([BREAKDOWN_HEAD, *breakdown]))
    for profile in profiles:
        print(f"\n{profile}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "machine": host.as_dict(),
                    "threads": {"ort_intra_op": threads, "torch": torch.get_num_threads()},
                    "gemm_ceiling_gflops": gemm,
                    "rounds": args.rounds,
                    "round_seconds": args.round_seconds,
                    "rows": [{**asdict(r), "ratio": r.ratio} for r in rows],
                    "notes": notes,
                },
                indent=2,
            )
            + "\n"
        )


if __name__ == "__main__":
    main()
