"""Edge variants: fp16 and int8 copies of an exported graph pair, with their measured cost.

* **fp16** — every float weight and activation converted with ONNX Runtime's float16 converter;
  the graphs' inputs and outputs stay float32, so the API is the same at every precision.
* **int8** — for convolutional graphs, static quantization in QDQ format: int8 weights per
  output channel, uint8 activations whose ranges are calibrated on training items (not test
  items, so the quality measured afterwards is not flattered). For graphs without
  convolutions (dense, LSTM), dynamic quantization: int8 weights, activations quantized per
  call, as ONNX Runtime recommends for MatMul/LSTM-heavy graphs where the activation range
  varies from input to input.

Each variant is measured against fp32 *in the same run, on the same images*, through the
runtime users call (:class:`aeinfer.model.Model` on the CPU): every metric of
:func:`aeinfer.quality.measure`, its cost on the family's primary metric, and throughput
(images/s, interleaved rounds, median). The model directory is then replaced as a whole by a
copy holding the variant graphs and the updated card, so it is never half-written.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import logging
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from aeinfer.card import (
    CARD_FILE,
    FP16,
    FP32,
    INT8,
    METADATA_PREFIX,
    PRECISIONS,
    ROLES,
    Card,
    parse_card,
    read_card,
    sha256_file,
)
from aeinfer.errors import ExportError
from aeinfer.export.onnx_export import stamp, swap_into_place
from aeinfer.model import Model
from aeinfer.quality import NOISE_FACTOR, measure
from aeinfer.session import shared_threads

VARIANTS = (FP16, INT8)
CONVOLUTIONS = frozenset({"Conv", "ConvTranspose"})
# Images per call when calibrating and when timing (a typical batch for `aeinfer denoise DIR`).
CALIBRATION_BATCH = 64
SPEED_BATCH = 256
SPEED_ROUNDS = 5
# Ops whose fp16 form ONNX Runtime cannot run on the CPU: with onnxruntime 1.31 an LSTM graph
# converted to fp16 crashes the process while the session is created (a segmentation fault, not
# an error), so no fp16 variant is made for graphs that contain them; the card says why.
FP16_UNSUPPORTED_OPS = frozenset({"LSTM"})
METHOD_FP16 = "fp16 weights and activations (onnxruntime float16 converter), float32 I/O"
METHOD_STATIC = "static QDQ: int8 per-channel weights, uint8 activations calibrated"
METHOD_DYNAMIC = "dynamic: int8 per-channel weights, activations quantized per call"


@dataclass(frozen=True)
class Int8Recipe:
    """How a convolutional graph's static int8 ranges are set; a family may ask for other than
    the default (its ``INT8_PERCENTILE`` and ``INT8_FLOAT_ENDS``)."""

    percentile: float | None = None
    """None: each activation's whole calibrated range (MinMax). Else the range holding this
    percentile of its calibrated values: the rarest values clip, the rest are finer."""
    float_ends: bool = False
    """Leave in float the nodes that write each graph's outputs and the decoder's last
    convolution, so that neither the code nor the result is rounded to 8 bits (a code that
    carries the image itself beside features shares one 8-bit range with them otherwise)."""

    def describe(self) -> str:
        how = "MinMax" if self.percentile is None else f"percentile {self.percentile:g}"
        ends = "; the code and the decoder's last convolution in float" if self.float_ends else ""
        return f"{METHOD_STATIC} ({how}{ends})"


@dataclass(frozen=True)
class VariantData:
    """Items for making and judging variants, (N, *item) in the data's units: ``calibration``
    from the training split, ``evaluation`` (and its name) from the test split."""

    calibration: np.ndarray
    evaluation: np.ndarray
    evaluation_split: str
    noise: float = NOISE_FACTOR
    """The noise factor of ``psnr_noisy_db`` (the family's evaluation noise)."""
    int8: Int8Recipe = Int8Recipe()


def _unshare_initializers(model: onnx.ModelProto) -> onnx.ModelProto:
    """Give every node its own copy of each initializer it reads.

    The float16 converter inserts one Cast per consumer of a float32-only input (e.g. Resize's
    scales) and names it after the input, so an initializer read by two nodes yields two nodes
    and two tensors of the same name: an invalid graph. Dynamo shares such constants.
    """
    model = copy.deepcopy(model)
    initializers = {init.name: init for init in model.graph.initializer}
    uses: dict[str, int] = {}
    for node in model.graph.node:
        for index, name in enumerate(node.input):
            if name not in initializers:
                continue
            seen = uses.get(name, 0)
            uses[name] = seen + 1
            if seen:
                twin = copy.deepcopy(initializers[name])
                twin.name = f"{name}__{seen}"
                model.graph.initializer.append(twin)
                node.input[index] = twin.name
    return model


def to_fp16(model: onnx.ModelProto) -> onnx.ModelProto:
    """The fp16 variant of ``model``, keeping float32 inputs and outputs."""
    from onnxruntime.transformers.float16 import convert_float_to_float16

    converted = convert_float_to_float16(_unshare_initializers(model), keep_io_types=True)
    _sort_topologically(converted.graph)
    return converted


def _sort_topologically(graph: onnx.GraphProto) -> None:
    """Reorder nodes so each comes after the producers of its inputs, as the ONNX spec asks
    (the float16 converter appends its input Casts at the end; ONNX Runtime does not mind,
    onnx.checker and other tools do)."""
    available = {i.name for i in graph.input} | {i.name for i in graph.initializer} | {""}
    pending = list(graph.node)
    ordered: list[onnx.NodeProto] = []
    while pending:
        ready = [n for n in pending if all(name in available for name in n.input)]
        if not ready:
            raise ExportError(f"graph {graph.name!r} has a cycle or an undefined input")
        for node in ready:
            available.update(node.output)
            ordered.append(node)
        pending = [n for n in pending if n not in ready]
    del graph.node[:]
    graph.node.extend(ordered)


def graph_file(role: str, precision: str) -> str:
    """``encoder.onnx`` for fp32, ``encoder.int8.onnx`` for a variant."""
    return f"{role}.onnx" if precision == FP32 else f"{role}.{precision}.onnx"


def is_convolutional(model: onnx.ModelProto) -> bool:
    return any(node.op_type in CONVOLUTIONS for node in model.graph.node)


def to_int8(
    fp32: onnx.ModelProto,
    target: Path,
    static: bool,
    input_name: str,
    batches: list[np.ndarray],
    recipe: Int8Recipe = Int8Recipe(),
    role: str = "encoder",
) -> str:
    """Quantize ``fp32``, the graph of ``role``, into the file ``target``; returns the method
    used (``recipe``: how static ranges are set)."""
    from onnxruntime.quantization import CalibrationDataReader

    class Batches(CalibrationDataReader):
        """The calibration batches, one feed per call."""

        def __init__(self) -> None:
            self._feeds = iter([{input_name: batch} for batch in batches])

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self._feeds, None)

    # The quantizers rerun shape inference, which rejects the exporter's value_info where it
    # recorded the traced example's sizes inside LSTM loops; the graph is the same without it.
    model = copy.deepcopy(fp32)
    del model.graph.value_info[:]
    kept = _float_ends(model, role) if static and recipe.float_ends else []
    with _quiet_quantizer():
        return _quantize(model, target, static, Batches(), recipe, kept)


def _float_ends(model: onnx.ModelProto, role: str) -> list[str]:
    """The nodes :attr:`Int8Recipe.float_ends` leaves in float: those that write the graph's
    outputs, and the decoder's last convolution (after it, only elementwise steps)."""
    outputs = {o.name for o in model.graph.output}
    kept = [n.name for n in model.graph.node if outputs.intersection(n.output)]
    if role == "decoder":
        kept += [n.name for n in model.graph.node if n.op_type in CONVOLUTIONS][-1:]
    return kept


@contextlib.contextmanager
def _quiet_quantizer() -> Iterator[None]:
    """ONNX Runtime's quantizers log a generic advice ("consider pre-processing") on the root
    logger for every graph, and its histogram calibrators print their progress to stdout; none
    of it says anything about this model."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        root.setLevel(level)


def _quantize(
    model: onnx.ModelProto,
    target: Path,
    static: bool,
    reader: Any,
    recipe: Int8Recipe,
    kept: list[str],
) -> str:
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )

    if not static:
        # Per-channel weight scales: with one scale per tensor the vae's decoder lost 4.4 nats
        # of −ELBO (148.3 → 152.7); per output channel it loses 0.25.
        quantize_dynamic(model, target, weight_type=QuantType.QInt8, per_channel=True)
        return METHOD_DYNAMIC
    quantize_static(
        model,
        target,
        reader,
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        calibrate_method=CalibrationMethod.MinMax
        if recipe.percentile is None
        else CalibrationMethod.Percentile,
        extra_options={} if recipe.percentile is None else {"CalibPercentile": recipe.percentile},
        nodes_to_exclude=kept,
    )
    return recipe.describe()


def _calibration_batches(model: Model, items: np.ndarray) -> dict[str, list[np.ndarray]]:
    """Encoder inputs as the graph takes them, and the fp32 encoder's codes as decoder inputs."""
    chunks = [items[i : i + CALIBRATION_BATCH] for i in range(0, len(items), CALIBRATION_BATCH)]
    return {
        "encoder": [np.ascontiguousarray(model.to_graph(model.check_items(c))) for c in chunks],
        "decoder": [model.encode(chunk) for chunk in chunks],
    }


def _throughput(models: dict[str, Model], images: np.ndarray) -> dict[str, float]:
    """Items/s of reconstruct() per model: rounds alternate between models so drift cancels;
    the median round counts."""
    batch = images[:SPEED_BATCH]
    for model in models.values():
        model.reconstruct(batch)  # warm-up: first-call allocations
    rounds: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(SPEED_ROUNDS):
        for name, model in models.items():
            started = time.perf_counter()
            model.reconstruct(batch)
            rounds[name].append(len(batch) / (time.perf_counter() - started))
    return {name: statistics.median(values) for name, values in rounds.items()}


def _rounded(metrics: dict[str, float]) -> dict[str, float]:
    return {key: round(value, 6) for key, value in metrics.items()}


def add_variants(
    model_dir: Path,
    data: VariantData,
    primary: str,
    *,
    machine: str,
    precisions: tuple[str, ...] = VARIANTS,
) -> Card:
    """Write fp16/int8 variants into ``model_dir`` and record them in its card; returns it.

    ``primary`` is the metric the model is judged on (a key of
    :func:`aeinfer.quality.measure`); ``machine`` says where the speed was measured.
    """
    if INT8 in precisions and shared_threads() is not None:
        raise ExportError(
            "int8 variants need ONNX Runtime's quantizer, which makes sessions of its own, and "
            "ONNX Runtime refuses those once this process runs a shared thread pool "
            "(aeinfer.share_threads): export in a process that does not call it"
        )
    card = read_card(model_dir)
    staging = Path(tempfile.mkdtemp(prefix=f".{model_dir.name}.", dir=model_dir.parent))
    try:
        shutil.copytree(model_dir, staging, dirs_exist_ok=True)
        staging.chmod(model_dir.stat().st_mode & 0o777)
        base = Model(card, "cpu")
        batches = _calibration_batches(base, data.calibration)
        fp32 = {role: onnx.load_model(card.graph_path(role)) for role in ROLES}
        skipped = _skipped(fp32, precisions)
        precisions = tuple(p for p in precisions if p not in skipped)
        source = card.to_json()
        graphs = dict(source["graphs"])
        not_made = {**source.get("not_made", {}), **skipped}
        if not_made != source.get("not_made", {}):
            # The graphs carry the card (but its checksums): stamp fp32 again with what is not
            # made, before the variants copy its metadata.
            source = {**source, "not_made": not_made}
            for role in ROLES:
                stamp(fp32[role], source, role)
                onnx.save_model(
                    fp32[role], staging / graph_file(role, FP32), save_as_external_data=False
                )
            graphs[FP32] = {
                **graphs[FP32],
                **{role: _file_entry(staging / graph_file(role, FP32)) for role in ROLES},
            }
        inputs = {"encoder": card.encoder.inputs[0].name, "decoder": card.decoder.inputs[0].name}
        methods = {
            p: _write_variant(staging, fp32, p, inputs, batches, data.int8) for p in precisions
        }
        for precision in precisions:
            graphs[precision] = {
                role: _file_entry(staging / graph_file(role, precision)) for role in ROLES
            }
            graphs[precision]["method"] = methods[precision]
        # The card as it will be, minus the measurements: what the variants are loaded from.
        pending = parse_card({**source, "graphs": graphs}, staging)
        measured = _measure(pending, data, primary, machine)
        for precision in precisions:
            graphs[precision]["measured"] = measured[precision]
        final = {**source, "graphs": graphs}
        (staging / CARD_FILE).write_text(
            json.dumps(final, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        swap_into_place(staging, model_dir)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return read_card(model_dir)


def _file_entry(path: Path) -> dict[str, Any]:
    return {"file": path.name, "sha256": sha256_file(path), "bytes": path.stat().st_size}


def _skipped(fp32: dict[str, onnx.ModelProto], precisions: tuple[str, ...]) -> dict[str, str]:
    """Variants that are not made, and why."""
    if FP16 not in precisions:
        return {}
    ops = {node.op_type for model in fp32.values() for node in model.graph.node}
    blocked = sorted(ops & FP16_UNSUPPORTED_OPS)
    if not blocked:
        return {}
    return {
        FP16: f"ONNX Runtime has no CPU fp16 kernel for {', '.join(blocked)} (onnxruntime 1.31 "
        "crashes loading such a graph)"
    }


def _write_variant(
    directory: Path,
    fp32: dict[str, onnx.ModelProto],
    precision: str,
    inputs: dict[str, str],
    batches: dict[str, list[np.ndarray]],
    recipe: Int8Recipe,
) -> str:
    method = METHOD_FP16
    for role in ROLES:
        target = directory / graph_file(role, precision)
        if precision == FP16:
            onnx.save_model(to_fp16(fp32[role]), target)
        elif precision == INT8:
            static = is_convolutional(fp32[role])
            method = to_int8(fp32[role], target, static, inputs[role], batches[role], recipe, role)
        else:
            raise ExportError(f"unknown variant precision {precision!r}; valid: {VARIANTS}")
        _stamp(target, precision, fp32[role])
    return method


def _stamp(path: Path, precision: str, fp32: onnx.ModelProto) -> None:
    """Keep the fp32 graph's metadata_props (quantizers drop some) and add the precision."""
    model = onnx.load_model(path)
    props = {p.key: p.value for p in model.metadata_props}
    props.update({p.key: p.value for p in fp32.metadata_props})
    props[f"{METADATA_PREFIX}precision"] = json.dumps(precision)
    del model.metadata_props[:]
    for key, value in props.items():
        model.metadata_props.add(key=key, value=value)
    model.producer_name = "aeinfer"
    onnx.checker.check_model(model)
    onnx.save_model(model, path, save_as_external_data=False)


def _measure(card: Card, data: VariantData, primary: str, machine: str) -> dict[str, Any]:
    """Each variant's metrics, cost and speed against fp32, measured in one run."""
    precisions = tuple(p for p in card.precisions if p != FP32)
    models = {p: Model(card, "cpu", p) for p in (FP32, *precisions)}
    metrics = {p: measure(model, data.evaluation, noise=data.noise) for p, model in models.items()}
    speed = _throughput(models, data.evaluation)
    measured: dict[str, Any] = {}
    for precision in precisions:
        measured[precision] = {
            "metrics": {"split": data.evaluation_split, **_rounded(metrics[precision])},
            "fp32_metrics_same_run": _rounded(metrics[FP32]),
            "cost": {
                "metric": primary,
                "delta": round(metrics[precision][primary] - metrics[FP32][primary], 6),
            },
            "speed": {
                "items_per_s": round(speed[precision], 1),
                "fp32_items_per_s": round(speed[FP32], 1),
                "ratio_to_fp32": round(speed[precision] / speed[FP32], 3),
                "batch": SPEED_BATCH,
                "how": f"reconstruct(), ONNX Runtime CPU, median of {SPEED_ROUNDS} rounds "
                "alternating with fp32",
                "machine": machine,
            },
        }
    return measured


__all__ = [
    "PRECISIONS",
    "VARIANTS",
    "Int8Recipe",
    "VariantData",
    "add_variants",
    "to_fp16",
    "to_int8",
]
