"""Export an (encoder, decoder) pair of any shape: two ONNX graphs and a card, checked.

One call does it::

    export_pair(encoder, decoder, example, Path("mine"))

The example batch says the modality, channels and size (see :mod:`aeinfer.export.spec`), the
folder's name is the model's, and everything else is a keyword: free axes, value range,
preparation, latent kind, tasks, metrics. Export uses the dynamo-based ``torch.onnx.export``
with a dynamic batch axis (and dynamic free axes), folds nearest-upsample + 3×3 conv pairs into
sub-pixel convolutions (:mod:`aeinfer.export.optimize`), and then refuses to write anything when

- the card it would write does not parse, or disagrees with the graphs' own inputs and outputs
  (the runtime's own checks, :func:`aeinfer.card.parse_card` and
  :func:`aeinfer.card.graph_problems`), or with its preparation adapter;
- the graphs differ from torch beyond ``Tolerance`` (elementwise ``|onnx − torch| ≤ atol +
  rtol·|torch|``) — for the encoder, the decoder, the decoder on perturbed codes and the round
  trip, at batch sizes 1 and 7, at a second size along free axes, and on real inputs;
- decoder(encoder(x)) leaves the declared value range on the real inputs (declare a wider range,
  or end the decoder in a squashing function: it is said here, not clipped silently later);
- the name is not a safe model name.

For a fully convolutional model the receptive radius is measured (:mod:`aeinfer.export.receptive`)
and becomes the ``tiles`` adapter's margin. The model directory is assembled in a temporary
sibling — graphs, ``card.json`` and ``fixtures.json`` (inputs → prepared tensors, for other
languages' implementations of the preparation) — and renamed into place, so it is never
half-written. ONNX Runtime checks the graphs where installed, else ONNX's reference evaluator
(:mod:`aeinfer.export.runner`): ``aeinfer[train]`` alone can export.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import shutil
import tempfile
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from torch import nn

from aeinfer.card import (
    CARD_FILE,
    DECODE,
    DETERMINISTIC,
    ENCODE,
    FEATURES,
    FLOAT32,
    FORMAT_VERSION,
    FP32,
    GAUSSIAN,
    IMAGE,
    INTERPOLATE,
    LATENT_KINDS,
    NAME_PATTERN,
    NORMAL_PRIOR,
    RECONSTRUCT,
    SAMPLE,
    SCORE,
    Card,
    graph_problems,
    metadata_props,
    parse_card,
    read_card,
)
from aeinfer.errors import AeinferError, ExportError
from aeinfer.export.optimize import SUBPIXEL_REWRITE, fold_upsample_conv
from aeinfer.export.receptive import receptive_radius
from aeinfer.export.runner import GraphRunner, proto_io
from aeinfer.export.spec import Layout, axis_json, latent_axes, layout_of
from aeinfer.scores import score_distribution, score_per_item

OPSET = 18
"""Opset 18 runs on every ONNX Runtime since 1.14, which matters for edge devices that lag."""
PARITY_BATCHES = (1, 7)
"""Parity is checked at several batch sizes to prove the batch axis really is dynamic."""
MODEL_DIR_MODE = 0o755
SCORE_BATCH = 256
TILE = 512
TILE_BATCH = 1
"""The tiles a free-size export is served in, one at a time. The tile sweep of
``scripts/photo_speed.py`` (the photo denoiser, 30-pixel margin, 2-core VM): 512-pixel tiles
denoise a 12 MP PNG in 12.9 s at 908 MB peak and reach 0.81 of the whole-picture throughput on
2048²; 256-pixel ones 0.68 at 669 MB (their margins are 52 % extra work, 25 % at 512); 1024-pixel
ones 0.88 but peak at 1787 MB, over the 1 GB a 12 MP photo is allowed."""
RANGE_SLACK = 1e-5
"""How far past the declared range a reconstruction may reach (float rounding)."""
FIXTURES_FILE = "fixtures.json"
INPUT_NAMES = {IMAGE: "image", "signal": "signal"}
LATENT_NAME = "latent"
GAUSSIAN_OUTPUTS = ("mean", "logvar")
DEFAULT_TASKS = (ENCODE, DECODE, RECONSTRUCT, SCORE, INTERPOLATE)
PLACEHOLDER_SHA = "0" * 64


@dataclass(frozen=True)
class Tolerance:
    """Elementwise tolerance of the graphs against torch: |onnx − torch| ≤ atol + rtol·|torch|."""

    atol: float = 1e-4
    rtol: float = 1e-3


@dataclass(frozen=True)
class ScoreData:
    """Reference items for the card's score distribution: (N, *item) in the data's units, and
    the name of where they come from (e.g. "MNIST test")."""

    items: np.ndarray
    split: str


# --- torch → ONNX ---------------------------------------------------------------------------------


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Silence the exporter's chatter that says nothing about this model."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.filterwarnings("ignore", message=".*were assigned during export.*")
            yield
    finally:
        logger.setLevel(level)


def _dynamic_shapes(axes: Sequence[Any], prefix: str) -> dict[int, Any]:
    """torch.export dimensions: the batch axis, and free axes as multiples of their step."""
    dims: dict[int, Any] = {0: torch.export.Dim("batch", min=1)}
    for index, axis in enumerate(axes, start=1):
        if axis.size is None:
            base = torch.export.Dim(f"{axis.name}_{prefix}", min=1)
            dims[index] = base * axis.multiple_of if axis.multiple_of > 1 else base
    return dims


@dataclass(frozen=True)
class Units:
    """Between the data's units (the card's range) and the graphs' (after normalisation)."""

    mean: np.ndarray | None = None
    std: np.ndarray | None = None

    @classmethod
    def of(cls, normalization: Mapping[str, Sequence[float]] | None, layout: Layout) -> Units:
        """Per-channel statistics laid out to broadcast over a batch in the graph's layout: the
        item as it is, without its size-1 axes, or flattened channels first (a dense model's
        (N, C·T))."""
        if normalization is None:
            return cls()
        return cls(
            _per_channel(normalization["mean"], layout), _per_channel(normalization["std"], layout)
        )

    def to_data(self, graph: np.ndarray) -> np.ndarray:
        return graph if self.mean is None else graph * self.std + self.mean

    def to_graph(self, data: np.ndarray) -> np.ndarray:
        return data if self.mean is None else (data - self.mean) / self.std


def _per_channel(values: Sequence[float], layout: Layout) -> np.ndarray:
    """One value per channel, shaped to broadcast over a (N, *graph) batch."""
    per_channel = np.asarray(values, np.float32)
    if layout.graph[0].name == FEATURES:
        # Flattened channels first: each channel's value repeated over its other axes.
        spread = math.prod(int(axis.size or 1) for axis in layout.item[1:])
        return np.repeat(per_channel, spread).reshape(1, -1)
    kept = {axis.name for axis in layout.graph}
    shape = [per_channel.size if i == 0 else 1 for i in range(len(layout.item))]
    return per_channel.reshape(
        1, *(size for axis, size in zip(layout.item, shape, strict=True) if axis.name in kept)
    )


def graph_batch(items: np.ndarray, layout: Layout) -> np.ndarray:
    """An item batch (N, *item) as the encoder takes it: as it is, without the item's size-1
    axes, or flattened."""
    if layout.graph == layout.item:
        return items
    if layout.graph[0].name == FEATURES:
        return items.reshape(len(items), -1)
    kept = {axis.name for axis in layout.graph}
    sizes = (s for axis, s in zip(layout.item, items.shape[1:], strict=True) if axis.name in kept)
    return items.reshape(len(items), *sizes)


def to_proto(
    module: nn.Module,
    example: torch.Tensor,
    inputs: list[str],
    outputs: list[str],
    dynamic: dict[int, Any],
) -> onnx.ModelProto:
    """Dynamo-export ``module`` to an in-memory ModelProto with dynamic axes ``dynamic``."""
    try:
        with _quiet_exporter():
            program = torch.onnx.export(
                module,
                (example,),
                input_names=inputs,
                output_names=outputs,
                dynamic_shapes=(dynamic,),
                opset_version=OPSET,
                dynamo=True,
                external_data=False,
                verbose=False,
            )
    except (torch.onnx.errors.OnnxExporterError, RuntimeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        hint = " (free axes: check multiple_of)" if len(dynamic) > 1 else ""
        raise ExportError(
            f"torch.onnx.export failed for {type(module).__name__}: {first}{hint}"
        ) from exc
    if program is None:
        raise ExportError(f"torch.onnx.export returned nothing for {type(module).__name__}")
    return program.model_proto


def _as_tuple(value: torch.Tensor | tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    return value if isinstance(value, tuple) else (value,)


# --- the parity gate ------------------------------------------------------------------------------


def _compare(
    what: str, got: np.ndarray, torch_out: torch.Tensor, tol: Tolerance, report: dict[str, float]
) -> None:
    expected = torch_out.detach().numpy()
    if got.shape != expected.shape:
        raise ExportError(f"parity: {what} shape {got.shape} != torch {expected.shape}")
    diff = np.abs(got - expected)
    report[what] = max(report.get(what, 0.0), float(diff.max(initial=0.0)))
    bad = diff > tol.atol + tol.rtol * np.abs(expected)
    if bad.any():
        raise ExportError(
            f"parity: {what} differs from torch beyond atol={tol.atol}, rtol={tol.rtol} "
            f"(max |diff| {diff.max():.3g} at {int(bad.sum())} of {bad.size} values)"
        )


def check_parity(
    encoder: nn.Module,
    decoder: nn.Module,
    runners: tuple[GraphRunner, GraphRunner],
    inputs: list[torch.Tensor],
    tol: Tolerance,
) -> dict[str, float]:
    """Run both graphs on each input batch and compare with torch; raise ExportError on a
    mismatch. Returns the largest absolute difference seen per check."""
    enc, dec = runners
    report: dict[str, float] = {}
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for x in inputs:
            torch_codes = _as_tuple(encoder(x))
            codes = enc.run({enc.inputs[0]: x.numpy()})
            for name, got, want in zip(enc.outputs, codes, torch_codes, strict=True):
                _compare(f"encoder.{name}", got, want, tol, report)
            code = torch_codes[0]
            _compare(
                "decoder", dec.run({dec.inputs[0]: code.numpy()})[0], decoder(code), tol, report
            )
            # A code off the data manifold exercises the decoder where training never went.
            off = code + torch.randn(code.shape, generator=generator)
            _compare(
                "decoder.perturbed",
                dec.run({dec.inputs[0]: off.numpy()})[0],
                decoder(off),
                tol,
                report,
            )
            round_trip = dec.run({dec.inputs[0]: codes[0]})[0]
            _compare("decoder(encoder(x))", round_trip, decoder(code), tol, report)
    return report


def _parity_inputs(
    example: torch.Tensor,
    layout: Layout,
    real: torch.Tensor | None,
    value_range: tuple[float, float] | None,
    units: Units,
) -> list[torch.Tensor]:
    """Random batches across the value range (in the graphs' units) at batch sizes 1 and 7, a
    batch at another size along free axes, and the real inputs."""
    gen = torch.Generator().manual_seed(0)
    low, high = value_range or (-1.0, 1.0)
    shape = tuple(example.shape[1:])
    sizes = [(n, *shape) for n in PARITY_BATCHES]
    if layout.free:
        # Another size along every free axis proves those axes really are dynamic.
        other = list(shape)
        for index, axis in enumerate(layout.graph):
            if axis.size is None:
                other[index] += axis.multiple_of
        sizes.append((2, *other))
    batches = [
        torch.from_numpy(
            units.to_graph((low + (high - low) * torch.rand(size, generator=gen)).numpy())
        )
        for size in sizes
    ]
    if real is not None:
        batches.append(real.float())
    return batches


# --- the card -------------------------------------------------------------------------------------


def _tensor(name: str, axes: list[dict[str, object]]) -> dict[str, Any]:
    return {"name": name, "dtype": FLOAT32, "axes": axes}


def default_preparation(layout: Layout, margin: int | None) -> dict[str, Any]:
    """The adapter a model of this layout gets unless told otherwise."""
    if layout.modality != IMAGE:
        return {"adapter": "signal", "version": 1, "params": {}}
    if not layout.free:
        return {"adapter": "image", "version": 1, "params": {"fit": "stretch", "paper": [1.0]}}
    step = next(a.multiple_of for a in layout.item if a.size is None)
    tile = TILE + (-TILE % step)
    return {
        "adapter": "tiles",
        "version": 1,
        "params": {"margin": margin or 0, "tile": tile, "batch": TILE_BATCH},
    }


def _check_name(name: str) -> None:
    if not NAME_PATTERN.match(name):
        raise ExportError(
            f"{name!r} is not a safe model name (lower-case letters, digits, '.', '_', '-'; "
            "starting with a letter or digit; at most 64): rename the folder or pass name="
        )


def _range_problem(outputs: np.ndarray, value_range: tuple[float, float] | None) -> str | None:
    if value_range is None or outputs.size == 0:
        return None
    low, high = value_range
    slack = RANGE_SLACK * max(1.0, high - low)
    got_low, got_high = float(outputs.min()), float(outputs.max())
    if got_low < low - slack or got_high > high + slack:
        return (
            "the decoder's reconstructions of the real inputs span "
            f"[{got_low:.4g}, {got_high:.4g}], "
            f"outside the declared value range [{low:g}, {high:g}]: declare a wider value_range "
            "(or None), or end the decoder in a squashing function (a sigmoid for [0, 1])"
        )
    return None


# --- export ---------------------------------------------------------------------------------------


def export_pair(
    encoder: nn.Module,
    decoder: nn.Module,
    example: torch.Tensor,
    directory: Path,
    *,
    name: str | None = None,
    family: str = "custom",
    description: str = "",
    item_shape: Sequence[int] | None = None,
    free_axes: Sequence[str] = (),
    multiple_of: int = 1,
    value_range: tuple[float, float] | None = (0.0, 1.0),
    clip: bool | None = None,
    normalization: Mapping[str, Sequence[float]] | None = None,
    channels: Sequence[str] | None = None,
    preparation: Mapping[str, Any] | None = None,
    latent_kind: str = DETERMINISTIC,
    tasks: Sequence[str] | None = None,
    metrics: Mapping[str, Any] | None = None,
    training: Mapping[str, Any] | None = None,
    not_made: Mapping[str, str] | None = None,
    real_inputs: torch.Tensor | None = None,
    tolerance: Tolerance = Tolerance(),
    score_data: ScoreData | None = None,
    receptive_field: int | None = None,
) -> Card:
    """Export ``encoder`` and ``decoder`` into the model directory ``directory``; returns its
    card. See the module docstring for what is inferred and what is refused.

    ``example`` is one batch in the encoder's input layout, in the data's units; ``real_inputs``
    a batch of real ones (same per-item shape) for the parity and range checks; ``score_data``
    gives the card its reference score distribution. ``preparation`` is ``{"adapter": name,
    "params": {...}}`` (default: ``image`` for fixed-size images, ``tiles`` for free-size ones,
    ``signal`` for signals). ``tasks`` defaults to encode, decode, reconstruct, score and
    interpolate, plus sample for a gaussian latent; add ``"denoise"`` for a denoiser.
    ``not_made`` names reduced precisions that will not be made, and why (the card goes into the
    graphs' metadata, so it must be said before they are written).
    """
    directory = Path(directory)
    name = name or directory.resolve().name
    _check_name(name)
    if latent_kind not in LATENT_KINDS:
        raise ExportError(f"unknown latent kind {latent_kind!r}; valid: {', '.join(LATENT_KINDS)}")
    encoder, decoder = encoder.eval(), decoder.eval()
    example = example.detach().float().contiguous()
    layout = layout_of(example.shape, item_shape, free_axes, multiple_of, channels)
    units = Units.of(normalization, layout)
    value_range = None if value_range is None else (float(value_range[0]), float(value_range[1]))
    if value_range is not None:
        values = units.to_data(example.numpy())
        if values.min() < value_range[0] or values.max() > value_range[1]:
            raise ExportError(
                f"the example's values span [{values.min():.4g}, {values.max():.4g}], outside the "
                f"declared value_range [{value_range[0]:g}, {value_range[1]:g}]"
            )
    with torch.no_grad():
        codes = _as_tuple(encoder(example))
    outputs = list(GAUSSIAN_OUTPUTS) if latent_kind == GAUSSIAN else [LATENT_NAME]
    if len(codes) != len(outputs):
        raise ExportError(
            f"encoder returns {len(codes)} tensor(s); a {latent_kind} latent needs {len(outputs)} "
            f"({', '.join(outputs)})"
        )
    code_axes = latent_axes(codes[0].shape[1:], example.shape, layout)
    input_name = INPUT_NAMES[layout.modality]

    enc_proto, enc_folded = fold_upsample_conv(
        to_proto(encoder, example, [input_name], outputs, _dynamic_shapes(layout.graph, "in"))
    )
    dec_proto, dec_folded = fold_upsample_conv(
        to_proto(decoder, codes[0], [LATENT_NAME], [input_name], _dynamic_shapes(code_axes, "code"))
    )
    runners = GraphRunner(enc_proto), GraphRunner(dec_proto)
    parity_inputs = _parity_inputs(example, layout, real_inputs, value_range, units)
    parity = check_parity(encoder, decoder, runners, parity_inputs, tolerance)
    real = (real_inputs if real_inputs is not None else example).float()
    reconstructed = runners[1].run({LATENT_NAME: runners[0].run({input_name: real.numpy()})[0]})[0]
    problem = _range_problem(units.to_data(reconstructed), value_range)
    if problem is not None:
        raise ExportError(problem)

    margin = receptive_field
    if layout.free and margin is None:
        step = max(a.multiple_of for a in layout.item if a.size is None)
        radius = receptive_radius(
            encoder, decoder, int(layout.item[0].size or 1), step, len(layout.free)
        )
        margin = radius + (-radius % step)
    code_json = [axis_json(a) for a in code_axes]
    card: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "name": name,
        "family": family,
        "description": description,
        "data": {
            "modality": layout.modality,
            "axes": [axis_json(a) for a in layout.item],
            "channels": list(layout.channels),
            "range": None if value_range is None else list(value_range),
            "clip": value_range is not None if clip is None else clip,
            "normalization": None
            if normalization is None
            else {k: list(v) for k, v in normalization.items()},
        },
        "encoder": {
            "inputs": [_tensor(input_name, layout.tensor_axes())],
            "outputs": [_tensor(n, [{"name": "batch", "size": None}, *code_json]) for n in outputs],
        },
        "decoder": {
            "inputs": [_tensor(LATENT_NAME, [{"name": "batch", "size": None}, *code_json])],
            "outputs": [_tensor(input_name, layout.tensor_axes())],
        },
        "latent": {
            "kind": latent_kind,
            "axes": code_json,
            "prior": NORMAL_PRIOR if latent_kind == GAUSSIAN else None,
        },
        "preparation": _preparation(preparation, layout, margin),
        "tasks": list(tasks)
        if tasks is not None
        else [*DEFAULT_TASKS, *([SAMPLE] if latent_kind == GAUSSIAN else [])],
        "graphs": {},
        "score": None,
        "domain": None,  # a digit model's check is calibrated after export (calibrate_domain)
        "not_made": dict(not_made or {}),
        "metrics": dict(metrics or {}),
        "provenance": {
            "training": dict(training or {}),
            "export": {
                "opset": OPSET,
                "exporter": f"torch.onnx dynamo, torch {torch.__version__}, "
                f"onnx {onnx.__version__}",
                "graph_rewrites": {SUBPIXEL_REWRITE: enc_folded + dec_folded},
                "tolerance": asdict(tolerance),
                "parity_checked_with": runners[0].engine,
                "parity_max_abs_diff": parity,
                **({"receptive_radius": margin} if layout.free else {}),
            },
        },
    }
    protos = {"encoder": enc_proto, "decoder": dec_proto}
    _validate(card, protos)
    if score_data is not None:
        clip_to = value_range if card["data"]["clip"] else None
        scores = measure_scores(runners, score_data.items, layout, input_name, units, clip_to)
        card["score"] = score_distribution(
            scores,
            score_data.split,
            f"{runners[0].engine} on the exported graphs, decoder(encoder(x))",
        )
    write_model_dir(directory, card, protos)
    return read_card(directory)


def _preparation(
    given: Mapping[str, Any] | None, layout: Layout, margin: int | None
) -> dict[str, Any]:
    if given is None:
        return default_preparation(layout, margin)
    out = {
        "adapter": given.get("adapter"),
        "version": int(given.get("version", 1)),
        "params": dict(given.get("params", {})),
    }
    if out["adapter"] == "tiles" and layout.free:
        # What the caller did not say comes from the measured defaults (TILE, TILE_BATCH).
        defaults = default_preparation(layout, margin)["params"]
        if margin is None:
            del defaults["margin"]  # no receptive field measured: the caller's margin stands
        for key, value in defaults.items():
            out["params"].setdefault(key, value)
    return out


def _validate(card: dict[str, Any], protos: Mapping[str, onnx.ModelProto]) -> None:
    """The runtime's own checks of a card, before anything is written: it parses, its graphs'
    inputs and outputs are what it says, and its preparation adapter accepts it."""
    from aeinfer.adapters import adapter_for

    draft = {
        **card,
        "graphs": {
            FP32: {
                role: {"file": f"{role}.onnx", "sha256": PLACEHOLDER_SHA, "bytes": 0}
                for role in protos
            }
        },
    }
    try:
        parsed = parse_card(json.loads(json.dumps(draft)), None, "the card export would write")
        adapter_for(parsed)
    except AeinferError as exc:
        raise ExportError(str(exc)) from exc
    for role, proto in protos.items():
        spec = parsed.encoder if role == "encoder" else parsed.decoder
        problems = graph_problems(spec, *proto_io(proto))
        if problems:
            raise ExportError(f"the {role} graph disagrees with the card: {'; '.join(problems)}")


def measure_scores(
    runners: tuple[GraphRunner, GraphRunner],
    items: np.ndarray,
    layout: Layout,
    input_name: str,
    units: Units = Units(),
    clip_to: tuple[float, float] | None = None,
) -> np.ndarray:
    """Per-item score of decoder(encoder(x)) through the exported graphs, as ``aeinfer score``
    computes it (the first encoder output is the code: the mean for a variational model)."""
    enc, dec = runners
    scores = []
    for start in range(0, len(items), SCORE_BATCH):
        chunk = np.ascontiguousarray(items[start : start + SCORE_BATCH], dtype=np.float32)
        code = enc.run({input_name: units.to_graph(graph_batch(chunk, layout))})[0]
        recon = units.to_data(dec.run({LATENT_NAME: code})[0]).reshape(chunk.shape)
        if clip_to is not None:  # as the runtime clips what it decodes
            recon = np.clip(recon, *clip_to)
        scores.append(score_per_item(recon, chunk))
    return np.concatenate(scores)


def write_model_dir(
    directory: Path, card: dict[str, Any], protos: Mapping[str, onnx.ModelProto]
) -> None:
    """Stamp the card into each graph's metadata_props, write graphs, card and fixtures into a
    temporary sibling, then swap it into place."""
    from aeinfer.export.fixtures import write_fixtures

    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    staging.chmod(MODEL_DIR_MODE)  # mkdtemp makes it private; a model folder is for sharing
    try:
        graphs: dict[str, Any] = {}
        for role, proto in protos.items():
            stamp(proto, card, role)
            path = staging / f"{role}.onnx"
            onnx.save_model(proto, path, save_as_external_data=False)
            data = path.read_bytes()
            graphs[role] = {"file": path.name, "sha256": _sha(data), "bytes": len(data)}
        final = {**card, "graphs": {FP32: graphs}}
        (staging / CARD_FILE).write_text(
            json.dumps(final, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        write_fixtures(read_card(staging), staging / FIXTURES_FILE)
        swap_into_place(staging, directory)
    finally:
        if staging.exists():
            shutil.rmtree(staging)


def stamp(
    proto: onnx.ModelProto,
    card: Mapping[str, Any],
    role: str,
    extra: Mapping[str, str] | None = None,
) -> None:
    """Write the card (without its graph files) into ``proto``'s metadata_props, and check it."""
    del proto.metadata_props[:]
    for key, value in {**metadata_props(card, role), **(extra or {})}.items():
        proto.metadata_props.add(key=key, value=value)
    proto.producer_name = "aeinfer"
    onnx.checker.check_model(proto)


def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def swap_into_place(staging: Path, out_dir: Path) -> None:
    """Replace ``out_dir`` by the finished ``staging`` sibling with two renames, so readers see
    the old directory or the new one, never a mixture."""
    if not out_dir.exists():
        staging.rename(out_dir)
        return
    old = out_dir.with_name(f".{out_dir.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    out_dir.rename(old)
    staging.rename(out_dir)
    shutil.rmtree(old)


__all__ = [
    "ScoreData",
    "Tolerance",
    "check_parity",
    "export_pair",
    "measure_scores",
    "stamp",
    "swap_into_place",
    "write_model_dir",
]
