"""The model card, format 2: what a model directory says about itself, parsed once into types.

A model directory holds ``card.json`` beside its graphs (``encoder.onnx``, ``decoder.onnx`` and
any reduced-precision variants). :func:`read_card` parses the JSON once into the frozen
dataclasses below and validates it, collecting every problem before it raises (one
:class:`ModelIntegrityError` that lists them all). :func:`graph_problems` then checks a card's
tensor descriptions against a graph's own inputs and outputs (names, dtypes, ranks, fixed sizes);
the runtime calls it for every session it starts, the exporter before it writes anything.

What the card describes, in the words of its dataclasses:

- :class:`DataSpec` — the *item* a model takes and gives, in the data's own units: modality
  (``image`` or ``signal``), named axes (channels, height, width / channels, time), which of them
  are free (any size, possibly a multiple of something) or fixed, the channel order, the value
  range and whether decoded values are clipped to it, and an optional per-channel normalisation
  applied just before the encoder and undone just after the decoder;
- :class:`GraphSpec` — each graph's tensors with named axes (:class:`TensorSpec`);
- :class:`LatentSpec` — the code: kind, axes (a vector or a feature map whose free axes follow
  the input by a stride) and prior;
- :class:`Preparation` — the adapter that turns a user's file into an item and a result back
  into a file like the input (name, version, parameters; see :mod:`aeinfer.adapters`);
- tasks, the score distribution, the graph files per precision with their sha256, metrics and
  provenance.

Every field carries its documentation in ``metadata["doc"]``; ``docs/card.md`` is generated from
it (``python scripts/card_docs.py``), so the fields are documented once, here. The format is
plain JSON, readable from any language. Cards of format 1 (the first MNIST exports) are mapped
on reading by :mod:`aeinfer.card_v1`. This module needs only the standard library.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from aeinfer.errors import ModelIntegrityError, ModelNotFoundError
from aeinfer.names import CARD_FILE as CARD_FILE  # re-exported: the card's vocabulary
from aeinfer.names import FP16 as FP16
from aeinfer.names import FP32 as FP32
from aeinfer.names import INT8 as INT8
from aeinfer.names import PRECISIONS as PRECISIONS

FORMAT_VERSION = 2
METADATA_PREFIX = "aeinfer."

# --- vocabulary --------------------------------------------------------------------------------
IMAGE = "image"
SIGNAL = "signal"
MODALITIES = (IMAGE, SIGNAL)

BATCH = "batch"
CHANNELS = "channels"
HEIGHT = "height"
WIDTH = "width"
TIME = "time"
FEATURES = "features"
ITEM_AXES: dict[str, tuple[str, ...]] = {IMAGE: (CHANNELS, HEIGHT, WIDTH), SIGNAL: (CHANNELS, TIME)}
"""The axes of one item, in order, per modality."""

FLOAT32 = "float32"
ORT_TYPES = {"tensor(float)": FLOAT32}
"""ONNX Runtime's type strings for the dtypes a graph's inputs and outputs may have."""

DETERMINISTIC = "deterministic"
GAUSSIAN = "gaussian"
LATENT_KINDS = (DETERMINISTIC, GAUSSIAN)
NORMAL_PRIOR = "standard_normal"
PRIORS = (NORMAL_PRIOR,)

ENCODE = "encode"
DECODE = "decode"
RECONSTRUCT = "reconstruct"
DENOISE = "denoise"
SCORE = "score"
SAMPLE = "sample"
INTERPOLATE = "interpolate"
TASKS = (ENCODE, DECODE, RECONSTRUCT, DENOISE, SCORE, SAMPLE, INTERPOLATE)

ROLES = ("encoder", "decoder")

SCORE_METRIC = "mse"
"""The anomaly score: mean squared error per value of an item, in the data's units."""

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
"""Model names: lower case letters, digits, '.', '_' and '-', starting with a letter or digit,
at most 64 characters (a name is also a folder name and a URL path segment)."""

SHA256_PATTERN = re.compile(r"^[0-9a-f]{64}$")


def _doc(text: str, **extra: Any) -> Any:
    """A dataclass field documented in place (``docs/card.md`` is generated from these)."""
    return field(metadata={"doc": text}, **extra)


# --- axes and tensors -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Axis:
    """One named axis of a tensor or of an item."""

    name: str = _doc(
        "batch, channels, height, width, time, features (all item values in one axis), or any "
        "name for a latent axis"
    )
    size: int | None = _doc("The fixed size, or null for a free axis (any size).")
    multiple_of: int = _doc(
        "Free axes only: sizes must be a multiple of this (e.g. 4 for two 2× poolings).",
        default=1,
    )
    stride: int | None = _doc(
        "Free latent axes only: one latent element per this many elements of the item's axis of "
        "the same name (e.g. 2 for a half-resolution feature map).",
        default=None,
    )

    @property
    def free(self) -> bool:
        return self.size is None

    def describe(self) -> str:
        """``28``, or ``H`` / ``H (a multiple of 4)`` for a free axis named height."""
        if self.size is not None:
            return str(self.size)
        symbol = {HEIGHT: "H", WIDTH: "W", TIME: "T", BATCH: "N", CHANNELS: "C"}.get(
            self.name, self.name
        )
        return symbol if self.multiple_of == 1 else f"{symbol}%{self.multiple_of}"


@dataclass(frozen=True)
class TensorSpec:
    """An input or output of a graph."""

    name: str = _doc("The tensor's name in the graph.")
    dtype: str = _doc("Element type; float32 for every aeinfer graph, at every precision.")
    axes: tuple[Axis, ...] = _doc("Named axes; the first is always the free batch axis.")

    @property
    def shape(self) -> tuple[int | None, ...]:
        return tuple(axis.size for axis in self.axes)


@dataclass(frozen=True)
class GraphSpec:
    """The inputs and outputs of one graph (encoder or decoder)."""

    inputs: tuple[TensorSpec, ...] = _doc("The graph's inputs, in order.")
    outputs: tuple[TensorSpec, ...] = _doc("The graph's outputs, in order.")


# --- what the model takes, its code, and how a user's file becomes an item ----------------------


@dataclass(frozen=True)
class Normalization:
    """Per-channel ``(x − mean) / std`` applied to an item before the encoder and undone after
    the decoder; the card's range and the user's data stay in the data's own units."""

    mean: tuple[float, ...] = _doc("One mean per channel.")
    std: tuple[float, ...] = _doc("One standard deviation per channel (all > 0).")


@dataclass(frozen=True)
class DataSpec:
    """The item a model takes and gives, in the data's own units."""

    modality: str = _doc("image or signal.")
    axes: tuple[Axis, ...] = _doc(
        "The item's axes: channels, height, width (image) or channels, time (signal); free "
        "spatial axes mark a fully convolutional model."
    )
    channels: tuple[str, ...] = _doc(
        "Channel order: L (grey) or R, G, B for images; any names for a signal's channels."
    )
    range: tuple[float, float] | None = _doc(
        "The values an item holds, [low, high] (images: [0, 1], pixels scaled from 0..255); "
        "null for unbounded data."
    )
    clip: bool = _doc(
        "Whether decoded values are clipped to the range (export checks that real inputs' "
        "reconstructions stay inside it, so clipping only removes rounding)."
    )
    normalization: Normalization | None = _doc(
        "Optional per-channel normalisation between the data's units and the graphs'.",
        default=None,
    )

    @property
    def shape(self) -> tuple[int | None, ...]:
        return tuple(axis.size for axis in self.axes)

    @property
    def free_axes(self) -> tuple[str, ...]:
        return tuple(axis.name for axis in self.axes if axis.free)

    def describe(self) -> str:
        """``(N, 1, 28, 28)`` or ``(N, 3, H%4, W%4)``."""
        return "(N, " + ", ".join(axis.describe() for axis in self.axes) + ")"


@dataclass(frozen=True)
class LatentSpec:
    """The code the encoder writes and the decoder reads."""

    kind: str = _doc(
        "deterministic (the encoder returns the code) or gaussian (it returns mean and logvar of "
        "a diagonal Gaussian; the code used for decoding is the mean)."
    )
    axes: tuple[Axis, ...] = _doc(
        "The code's axes without the batch axis: one features axis for a vector, or channels, "
        "height, width for a feature map whose free axes follow the item's by a stride."
    )
    prior: str | None = _doc(
        "The distribution codes are sampled from (standard_normal), or null if the model "
        "cannot sample.",
        default=None,
    )

    @property
    def shape(self) -> tuple[int | None, ...]:
        return tuple(axis.size for axis in self.axes)


@dataclass(frozen=True)
class Preparation:
    """How a user's input becomes an item and a result goes back (see :mod:`aeinfer.adapters`)."""

    adapter: str = _doc("mnist_digit, image, tiles or signal.")
    version: int = _doc("The adapter's version the parameters were written for.")
    params: Mapping[str, Any] = _doc("The adapter's parameters (each adapter documents its own).")


# --- graphs, variants, scores -------------------------------------------------------------------


@dataclass(frozen=True)
class GraphFile:
    """One graph file of the model directory."""

    file: str = _doc("File name inside the model directory.")
    sha256: str = _doc("Hex sha256 of the file's bytes, checked before the bytes are run.")
    bytes: int = _doc("Size in bytes.")


@dataclass(frozen=True)
class PrecisionGraphs:
    """The graph pair of one numeric precision."""

    encoder: GraphFile = _doc("The encoder graph file.")
    decoder: GraphFile = _doc("The decoder graph file.")
    method: str | None = _doc(
        "How a variant was made from the fp32 pair (null for fp32).", default=None
    )
    measured: Mapping[str, Any] | None = _doc(
        "A variant's quality and speed measured against fp32 in the same run at export: "
        "metrics, cost on the primary metric, throughput, machine.",
        default=None,
    )


@dataclass(frozen=True)
class ScoreDistribution:
    """The anomaly score's distribution on a reference split, measured at export through the
    exported graphs; ``aeinfer score`` places a new score among these."""

    metric: str = _doc("mse: mean squared error per value between an item and its reconstruction.")
    split: str = _doc("The reference data, e.g. 'MNIST test'.")
    count: int = _doc("Items scored.")
    computed_with: str = _doc("What ran the graphs.")
    mean: float = _doc("Mean score.")
    std: float = _doc("Standard deviation of the scores.")
    percentiles: Mapping[str, float] = _doc("Selected percentiles (keys '50', '90', '99.9', …).")
    quantiles: tuple[float, ...] = _doc(
        "Scores at every 1 % from 0 to 100 (101 values), to interpolate any percentile."
    )


@dataclass(frozen=True)
class DomainCheck:
    """Whether an input is of the kind the model was trained on (one digit on plain paper, for
    the MNIST models): a score over named figures of the prepared input, calibrated at export.

    score = bias + Σ wᵢ·zᵢ + Σ vᵢ·zᵢ², zᵢ = (figureᵢ − centreᵢ) / scaleᵢ; the input is in the
    domain when score ≥ threshold. The figures are those of :data:`aeinfer.adapters.ink.FEATURES`.
    """

    features: tuple[str, ...] = _doc("The figures, in order (see aeinfer.adapters.ink.FEATURES).")
    centre: tuple[float, ...] = _doc("Each figure's centre (its mean in the calibration set).")
    scale: tuple[float, ...] = _doc("Each figure's scale (its standard deviation there).")
    linear: tuple[float, ...] = _doc("The weight of each standardised figure.")
    quadratic: tuple[float, ...] = _doc("The weight of each standardised figure's square.")
    bias: float = _doc("The score's constant.")
    threshold: float = _doc(
        "In the domain when the score is at least this: set at export so that a stated share "
        "of the reference digits (MNIST test) is accepted."
    )
    reference: Mapping[str, Any] = _doc(
        "Measured at export through this model: how the score is distributed and what share is "
        "accepted on MNIST test digits, on photographed single digits and on non-digits "
        "(photos, pages of several digits, blank and ruled pages, text), by kind; how it was "
        "fitted.",
        default_factory=dict,
    )


@dataclass(frozen=True)
class Card:
    """A parsed, validated model card."""

    format_version: int = _doc("2.")
    name: str = _doc("The model's name (letters, digits, '.', '_', '-'; at most 64).")
    family: str = _doc("The architecture family (an aeinfer family, or 'custom').")
    description: str = _doc("One line saying what the model is.")
    data: DataSpec = _doc("The item the model takes and gives.")
    encoder: GraphSpec = _doc("The encoder graph's tensors.")
    decoder: GraphSpec = _doc("The decoder graph's tensors.")
    latent: LatentSpec = _doc("The code.")
    preparation: Preparation = _doc("How user files become items and results become files.")
    tasks: tuple[str, ...] = _doc(
        "What the model may be asked: encode, decode, reconstruct, denoise, score, sample, "
        "interpolate."
    )
    graphs: Mapping[str, PrecisionGraphs] = _doc(
        "The graph pair per precision (fp32 always; fp16, int8 variants where made)."
    )
    score: ScoreDistribution | None = _doc(
        "The anomaly score's reference distribution, or null.", default=None
    )
    domain: DomainCheck | None = _doc(
        "The check that an input is of the model's kind (digit models), or null.", default=None
    )
    not_made: Mapping[str, str] = _doc(
        "Precisions that were not made, and why.", default_factory=dict
    )
    metrics: Mapping[str, Any] = _doc(
        "Quality figures: 'primary' names the one the model is judged on.", default_factory=dict
    )
    provenance: Mapping[str, Any] = _doc(
        "How the model was made: 'training' (data, configuration, seed, epochs, wall time, "
        "machine, and 'init_from' when the run started from other weights) and 'export' "
        "(exporter, opset, rewrites, tolerance, parity).",
        default_factory=dict,
    )
    directory: Path | None = field(default=None, compare=False, metadata={"internal": True})
    source: Mapping[str, Any] = field(
        default_factory=dict, compare=False, repr=False, metadata={"internal": True}
    )

    @property
    def precisions(self) -> tuple[str, ...]:
        """Precisions this model ships in, fp32 first."""
        return tuple(p for p in PRECISIONS if p in self.graphs)

    @property
    def modality(self) -> str:
        return self.data.modality

    @property
    def variational(self) -> bool:
        return self.latent.kind == GAUSSIAN

    def graph_path(self, role: str, precision: str = FP32) -> Path:
        """Path of the ``role`` (encoder/decoder) graph of ``precision``."""
        entry = self.graphs[precision]
        graph = entry.encoder if role == "encoder" else entry.decoder
        return (self.directory or Path(".")) / graph.file

    def graph_file(self, role: str, precision: str = FP32) -> GraphFile:
        entry = self.graphs[precision]
        return entry.encoder if role == "encoder" else entry.decoder

    def to_json(self) -> dict[str, Any]:
        """The card as JSON-ready data (format 2), as :func:`parse_card` reads it."""
        return _to_json(self)

    def summary(self) -> dict[str, Any]:
        """The short description ``aeinfer models`` lists."""
        return {
            "name": self.name,
            "family": self.family,
            "path": str(self.directory) if self.directory else None,
            "modality": self.modality,
            "item": self.data.describe(),
            "latent_shape": list(self.latent.shape),
            "latent_kind": self.latent.kind,
            "preparation": self.preparation.adapter,
            "tasks": list(self.tasks),
            "description": self.description,
            "metrics": dict(self.metrics),
            "precisions": list(self.precisions),
        }


# --- serialisation ------------------------------------------------------------------------------


def _to_json(value: Any) -> Any:
    if isinstance(value, Axis):
        out: dict[str, Any] = {"name": value.name, "size": value.size}
        if value.multiple_of != 1:
            out["multiple_of"] = value.multiple_of
        if value.stride is not None:
            out["stride"] = value.stride
        return out
    if hasattr(value, "__dataclass_fields__"):
        return {
            f.name: _to_json(getattr(value, f.name))
            for f in fields(value)
            if not f.metadata.get("internal")
        }
    if isinstance(value, Mapping):
        return {str(k): _to_json(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [_to_json(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def dumps(card: Card | Mapping[str, Any]) -> str:
    """The text of ``card.json`` (stable key order, indented)."""
    data = card.to_json() if isinstance(card, Card) else card
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


# --- parsing with every problem collected ------------------------------------------------------


class Problems:
    """Collects what is wrong with a card, so that one error can name every problem."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: str, what: str) -> None:
        self.items.append(f"{where}: {what}")

    def raise_if_any(self, label: str) -> None:
        if self.items:
            count = len(self.items)
            raise ModelIntegrityError(
                f"{label}: {count} problem{'s' if count > 1 else ''} in the model card: "
                + "; ".join(self.items)
            )


_MISSING = object()


class _Reader:
    """Typed access to one JSON object, recording problems instead of raising."""

    def __init__(self, data: Any, where: str, problems: Problems) -> None:
        self.where = where
        self.problems = problems
        if not isinstance(data, Mapping):
            problems.add(where, f"expected an object, got {type(data).__name__}")
            data = {}
        self.data = data

    def _get(self, key: str, default: Any) -> Any:
        value = self.data.get(key, _MISSING)
        if value is _MISSING:
            if default is _MISSING:
                self.problems.add(f"{self.where}.{key}", "missing")
            return None if default is _MISSING else default
        return value

    def text(self, key: str, default: Any = _MISSING, choices: Sequence[str] = ()) -> str:
        value = self._get(key, default)
        if value is None:
            return "" if default is _MISSING else default
        if not isinstance(value, str):
            self.problems.add(f"{self.where}.{key}", f"expected a string, got {value!r}")
            return ""
        if choices and value not in choices:
            self.problems.add(
                f"{self.where}.{key}", f"{value!r} is not one of {', '.join(choices)}"
            )
        return value

    def integer(self, key: str, default: Any = _MISSING, minimum: int = 0) -> int | None:
        value = self._get(key, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.problems.add(
                f"{self.where}.{key}", f"expected an integer ≥ {minimum}, got {value!r}"
            )
            return None
        return value

    def number(self, key: str, default: Any = _MISSING) -> float:
        value = self._get(key, default)
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
        ):
            if value is not None:
                self.problems.add(f"{self.where}.{key}", f"expected a finite number, got {value!r}")
            return 0.0
        return float(value)

    def flag(self, key: str, default: Any = _MISSING) -> bool:
        value = self._get(key, default)
        if not isinstance(value, bool):
            if value is not None:
                self.problems.add(f"{self.where}.{key}", f"expected true or false, got {value!r}")
            return bool(default) if default is not _MISSING else False
        return value

    def array(self, key: str, default: Any = _MISSING) -> list[Any]:
        value = self._get(key, default)
        if value is None:
            return []
        if not isinstance(value, list):
            self.problems.add(f"{self.where}.{key}", f"expected a list, got {type(value).__name__}")
            return []
        return value

    def obj(self, key: str, default: Any = _MISSING) -> _Reader | None:
        value = self._get(key, default)
        if value is None:
            return None
        return _Reader(value, f"{self.where}.{key}", self.problems)

    def mapping(self, key: str, default: Any = _MISSING) -> dict[str, Any]:
        value = self._get(key, default)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.problems.add(f"{self.where}.{key}", f"expected an object, got {value!r}")
            return {}
        return dict(value)


def _axis(data: Any, where: str, problems: Problems) -> Axis:
    r = _Reader(data, where, problems)
    name = r.text("name")
    size = r.integer("size", None, minimum=1)
    multiple_of = r.integer("multiple_of", 1, minimum=1) or 1
    stride = r.integer("stride", None, minimum=1)
    if size is not None and (multiple_of != 1 or stride is not None):
        problems.add(where, "a fixed axis takes no multiple_of or stride")
    return Axis(name=name, size=size, multiple_of=multiple_of, stride=stride)


def _axes(items: Iterable[Any], where: str, problems: Problems) -> tuple[Axis, ...]:
    axes = tuple(_axis(item, f"{where}[{i}]", problems) for i, item in enumerate(items))
    names = [axis.name for axis in axes]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        problems.add(where, f"axis names repeat: {', '.join(duplicates)}")
    return axes


def _tensor(data: Any, where: str, problems: Problems) -> TensorSpec:
    r = _Reader(data, where, problems)
    name = r.text("name")
    dtype = r.text("dtype", choices=tuple(ORT_TYPES.values()))
    axes = _axes(r.array("axes"), f"{where}.axes", problems)
    if not axes or axes[0].name != BATCH or not axes[0].free:
        problems.add(f"{where}.axes", "the first axis must be the free batch axis")
    return TensorSpec(name=name, dtype=dtype, axes=axes)


def _graph(r: _Reader | None, where: str, problems: Problems) -> GraphSpec:
    if r is None:
        return GraphSpec((), ())
    inputs = tuple(
        _tensor(t, f"{where}.inputs[{i}]", problems) for i, t in enumerate(r.array("inputs"))
    )
    outputs = tuple(
        _tensor(t, f"{where}.outputs[{i}]", problems) for i, t in enumerate(r.array("outputs"))
    )
    return GraphSpec(inputs=inputs, outputs=outputs)


def _range(value: Any, where: str, problems: Problems) -> tuple[float, float] | None:
    if value is None:
        return None
    ok = (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        and all(math.isfinite(v) for v in value)
        and value[0] < value[1]
    )
    if not ok:
        problems.add(where, f"expected [low, high] with low < high, or null; got {value!r}")
        return None
    return float(value[0]), float(value[1])


def _data(r: _Reader | None, problems: Problems) -> DataSpec:
    if r is None:
        return DataSpec(IMAGE, (), (), None, False)
    modality = r.text("modality", choices=MODALITIES)
    axes = _axes(r.array("axes"), "data.axes", problems)
    expected = ITEM_AXES.get(modality)
    if expected is not None and tuple(a.name for a in axes) != expected:
        problems.add("data.axes", f"a {modality} item's axes are {', '.join(expected)}")
    if any(a.stride is not None for a in axes):
        problems.add("data.axes", "item axes take no stride")
    channels = tuple(str(c) for c in r.array("channels"))
    channel_axis = axes[0] if axes else None
    if channel_axis is not None and channel_axis.size != len(channels):
        problems.add(
            "data.channels", f"names {len(channels)} channels, the axis has {channel_axis.size}"
        )
    value_range = _range(r._get("range", None), "data.range", problems)
    clip = r.flag("clip")
    if clip and value_range is None:
        problems.add("data.clip", "clipping needs a range")
    normalization = None
    norm = r.obj("normalization", None)
    if norm is not None:
        mean = tuple(float(v) for v in norm.array("mean"))
        std = tuple(float(v) for v in norm.array("std"))
        if len(mean) != len(channels) or len(std) != len(channels):
            problems.add("data.normalization", "needs one mean and one std per channel")
        if any(not s > 0 for s in std):
            problems.add("data.normalization.std", "every std must be > 0")
        normalization = Normalization(mean=mean, std=std)
    return DataSpec(modality, axes, channels, value_range, clip, normalization)


def _latent(r: _Reader | None, problems: Problems) -> LatentSpec:
    if r is None:
        return LatentSpec(DETERMINISTIC, ())
    kind = r.text("kind", choices=LATENT_KINDS)
    axes = _axes(r.array("axes"), "latent.axes", problems)
    if not axes:
        problems.add("latent.axes", "a code has at least one axis")
    prior = r.text("prior", None, choices=PRIORS) or None
    return LatentSpec(kind=kind, axes=axes, prior=prior)


def _preparation(r: _Reader | None, problems: Problems) -> Preparation:
    if r is None:
        return Preparation("", 0, {})
    return Preparation(
        adapter=r.text("adapter"),
        version=r.integer("version", minimum=1) or 0,
        params=r.mapping("params", {}),
    )


def _graph_file(r: _Reader | None, where: str, problems: Problems) -> GraphFile:
    if r is None:
        return GraphFile("", "", 0)
    file = r.text("file")
    if file and (Path(file).name != file or file.startswith(".")):
        problems.add(f"{where}.file", f"{file!r} is not a plain file name in the model directory")
    digest = r.text("sha256")
    if digest and not SHA256_PATTERN.match(digest):
        problems.add(f"{where}.sha256", "expected 64 lower-case hex digits")
    return GraphFile(file=file, sha256=digest, bytes=r.integer("bytes", 0) or 0)


def _graphs(r: _Reader | None, problems: Problems) -> dict[str, PrecisionGraphs]:
    if r is None:
        return {}
    out: dict[str, PrecisionGraphs] = {}
    for precision in r.data:
        where = f"graphs.{precision}"
        if precision not in PRECISIONS:
            problems.add(where, f"unknown precision; valid: {', '.join(PRECISIONS)}")
            continue
        entry = r.obj(precision)
        if entry is None:
            continue
        measured = entry.mapping("measured", None) or None
        out[precision] = PrecisionGraphs(
            encoder=_graph_file(entry.obj("encoder"), f"{where}.encoder", problems),
            decoder=_graph_file(entry.obj("decoder"), f"{where}.decoder", problems),
            method=entry.text("method", None) or None,
            measured=measured,
        )
    if FP32 not in out:
        problems.add("graphs", "the fp32 graph pair is missing")
    return out


def _score(r: _Reader | None, problems: Problems) -> ScoreDistribution | None:
    if r is None:
        return None
    quantiles = r.array("quantiles")
    numbers = [q for q in quantiles if isinstance(q, (int, float)) and not isinstance(q, bool)]
    if len(quantiles) < 2 or len(numbers) != len(quantiles):
        problems.add("score.quantiles", "expected at least two numbers")
    elif any(b < a for a, b in itertools.pairwise(numbers)):
        problems.add("score.quantiles", "must not decrease")
    percentiles = {str(k): float(v) for k, v in r.mapping("percentiles", {}).items()}
    return ScoreDistribution(
        metric=r.text("metric", choices=(SCORE_METRIC,)),
        split=r.text("split"),
        count=r.integer("count", minimum=1) or 0,
        computed_with=r.text("computed_with", ""),
        mean=r.number("mean"),
        std=r.number("std"),
        percentiles=percentiles,
        quantiles=tuple(float(q) for q in numbers),
    )


def _numbers(r: _Reader, key: str) -> tuple[float, ...]:
    values = r.array(key)
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        r.problems.add(f"{r.where}.{key}", "expected a list of numbers")
        return ()
    return tuple(float(v) for v in values)


def _domain(r: _Reader | None, problems: Problems) -> DomainCheck | None:
    if r is None:
        return None
    features = tuple(str(f) for f in r.array("features"))
    check = DomainCheck(
        features=features,
        centre=_numbers(r, "centre"),
        scale=_numbers(r, "scale"),
        linear=_numbers(r, "linear"),
        quadratic=_numbers(r, "quadratic"),
        bias=r.number("bias"),
        threshold=r.number("threshold"),
        reference=r.mapping("reference", {}),
    )
    lengths = {len(check.centre), len(check.scale), len(check.linear), len(check.quadratic)}
    if lengths != {len(features)} or not features:
        problems.add("domain", "features, centre, scale, linear and quadratic need one entry each")
    if any(not v > 0 for v in check.scale):
        problems.add("domain.scale", "every scale must be > 0")
    return check


def parse_card(data: Any, directory: Path | None = None, label: str = CARD_FILE) -> Card:
    """Parse card JSON (format 2, or format 1 mapped by :mod:`aeinfer.card_v1`) into a
    :class:`Card`, checking every field and the card's internal consistency; all problems are
    reported together in one :class:`ModelIntegrityError`."""
    problems = Problems()
    if isinstance(data, Mapping) and data.get("format_version") == 1:
        from aeinfer.card_v1 import upgrade

        data = upgrade(data)
    top = _Reader(data, "card", problems)
    version = top.integer("format_version", minimum=1)
    if version is not None and version != FORMAT_VERSION:
        problems.add(
            "card.format_version",
            f"{version} is not a format this aeinfer reads (1 or {FORMAT_VERSION}); "
            "upgrade aeinfer",
        )
        problems.raise_if_any(label)
    name = top.text("name")
    if name and not NAME_PATTERN.match(name):
        problems.add("card.name", f"{name!r} is not a safe model name ({NAME_PATTERN.pattern})")
    tasks = tuple(str(t) for t in top.array("tasks"))
    unknown = [t for t in tasks if t not in TASKS]
    if unknown:
        problems.add("card.tasks", f"unknown {', '.join(unknown)}; valid: {', '.join(TASKS)}")
    card = Card(
        format_version=FORMAT_VERSION,
        name=name,
        family=top.text("family"),
        description=top.text("description", ""),
        data=_data(top.obj("data"), problems),
        encoder=_graph(top.obj("encoder"), "encoder", problems),
        decoder=_graph(top.obj("decoder"), "decoder", problems),
        latent=_latent(top.obj("latent"), problems),
        preparation=_preparation(top.obj("preparation"), problems),
        tasks=tasks,
        graphs=_graphs(top.obj("graphs"), problems),
        score=_score(top.obj("score", None), problems),
        domain=_domain(top.obj("domain", None), problems),
        not_made={str(k): str(v) for k, v in top.mapping("not_made", {}).items()},
        metrics=top.mapping("metrics", {}),
        provenance=top.mapping("provenance", {}),
        directory=directory,
        source=data if isinstance(data, Mapping) else {},
    )
    if not problems.items:
        consistency_problems(card, problems)
    problems.raise_if_any(label)
    return card


# --- consistency: the card against itself ------------------------------------------------------


def item_layout(data: DataSpec, tensor: TensorSpec) -> tuple[int | None, ...] | None:
    """How an item batch maps onto ``tensor``: the tensor's per-item shape, or None if the
    tensor cannot hold the item.

    A graph may take the item as it is (channels, height, width), with fixed axes of size 1
    left out (an LSTM's (N, height, width)), or flattened into one ``features`` axis (a dense
    model's (N, 784)); each is a reshape, never a copy.
    """
    inner = tensor.axes[1:]
    if len(inner) == 1 and inner[0].name == FEATURES:
        if any(a.free for a in data.axes) or inner[0].size != math.prod(
            a.size or 0 for a in data.axes
        ):
            return None
        return (inner[0].size,)
    kept = [a for a in data.axes if not (a.size == 1 and a.name not in {x.name for x in inner})]
    if [a.name for a in kept] != [a.name for a in inner]:
        return None
    for item_axis, graph_axis in zip(kept, inner, strict=True):
        if item_axis.size != graph_axis.size or item_axis.multiple_of != graph_axis.multiple_of:
            return None
    return tuple(a.size for a in inner)


def latent_matches(latent: LatentSpec, tensor: TensorSpec) -> bool:
    """Whether ``tensor`` holds a batch of codes: the batch axis, then the latent's axes."""
    return tensor.axes[1:] == latent.axes


def consistency_problems(card: Card, problems: Problems) -> None:
    """The card against itself: graphs that hold its item and latent, free axes that agree,
    tasks the latent allows."""
    data, latent = card.data, card.latent
    if len(card.encoder.inputs) != 1:
        problems.add("encoder.inputs", "the encoder takes exactly one input (the item batch)")
    elif item_layout(data, card.encoder.inputs[0]) is None:
        problems.add(
            "encoder.inputs[0].axes",
            "cannot hold the item: it must be the item's axes (size-1 axes may be left out) or "
            "one 'features' axis of their product, with the same sizes and free axes",
        )
    outputs = 2 if latent.kind == GAUSSIAN else 1
    if len(card.encoder.outputs) != outputs:
        problems.add("encoder.outputs", f"a {latent.kind} latent needs {outputs} output(s)")
    for i, tensor in enumerate(card.encoder.outputs):
        if not latent_matches(latent, tensor):
            problems.add(f"encoder.outputs[{i}].axes", "must be batch then the latent's axes")
    if len(card.decoder.inputs) != 1 or not latent_matches(latent, card.decoder.inputs[0]):
        problems.add("decoder.inputs", "the decoder takes one input: batch then the latent's axes")
    if len(card.decoder.outputs) != 1:
        problems.add("decoder.outputs", "the decoder gives exactly one output (the item batch)")
    elif item_layout(data, card.decoder.outputs[0]) is None:
        problems.add("decoder.outputs[0].axes", "cannot hold the item (see encoder.inputs)")
    item_names = {a.name for a in data.axes}
    for i, axis in enumerate(latent.axes):
        if axis.free and (axis.stride is None or axis.name not in item_names):
            problems.add(
                f"latent.axes[{i}]",
                "a free latent axis needs a stride and the name of the item axis it follows",
            )
        if axis.free and axis.stride is not None:
            source = next((a for a in data.axes if a.name == axis.name), None)
            if source is not None and (not source.free or source.multiple_of % axis.stride):
                problems.add(
                    f"latent.axes[{i}]",
                    f"stride {axis.stride} needs a free item axis {axis.name!r} whose "
                    "multiple_of it divides",
                )
    if SAMPLE in card.tasks and (latent.prior is None or any(a.free for a in latent.axes)):
        problems.add("card.tasks", "sample needs a prior and a latent of fixed shape")
    if data.normalization is not None and len(data.normalization.mean) != len(data.channels):
        problems.add("data.normalization", "needs one mean and one std per channel")


# --- the card against a graph ----------------------------------------------------------------


def graph_problems(spec: GraphSpec, inputs: Sequence[Any], outputs: Sequence[Any]) -> list[str]:
    """What differs between a card's description of a graph and the graph itself.

    ``inputs`` and ``outputs`` are ONNX Runtime's ``get_inputs()`` / ``get_outputs()`` (objects
    with ``name``, ``type`` and ``shape``; a free dimension is a string or None). Names, dtypes,
    ranks and fixed sizes are compared; an axis the card calls free must be free in the graph.
    """
    found: list[str] = []
    for what, described, actual in (
        ("input", spec.inputs, inputs),
        ("output", spec.outputs, outputs),
    ):
        if len(described) != len(actual):
            found.append(
                f"{len(actual)} {what}(s) ({', '.join(a.name for a in actual)}), the card "
                f"describes {len(described)}"
            )
            continue
        for tensor, arg in zip(described, actual, strict=True):
            where = f"{what} {arg.name!r}"
            if tensor.name != arg.name:
                found.append(f"{what} named {arg.name!r}, the card says {tensor.name!r}")
            dtype = ORT_TYPES.get(arg.type, arg.type)
            if dtype != tensor.dtype:
                found.append(f"{where} has type {dtype}, the card says {tensor.dtype}")
            shape = list(arg.shape)
            if len(shape) != len(tensor.axes):
                found.append(f"{where} has rank {len(shape)}, the card says {len(tensor.axes)}")
                continue
            for axis, dim in zip(tensor.axes, shape, strict=True):
                fixed = isinstance(dim, int) and not isinstance(dim, bool)
                if axis.size is not None and fixed and dim != axis.size:
                    found.append(f"{where} axis {axis.name} is {dim}, the card says {axis.size}")
                if axis.size is None and fixed:
                    found.append(f"{where} axis {axis.name} is fixed at {dim}, the card says free")
    return found


# --- reading a model directory -------------------------------------------------------------------


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_card(directory: Path) -> Card:
    """Read and validate ``card.json`` in a model directory, checking its graph files exist."""
    if not directory.is_dir():
        raise ModelNotFoundError(f"{directory}: not a model directory")
    path = directory / CARD_FILE
    if not path.is_file():
        raise ModelNotFoundError(f"{path}: model card missing")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelIntegrityError(f"{path}: unreadable model card ({exc})") from exc
    card = parse_card(data, directory.resolve(), str(path))
    for precision, entry in card.graphs.items():
        for graph in (entry.encoder, entry.decoder):
            if not (directory / graph.file).is_file():
                raise ModelNotFoundError(
                    f"{directory / graph.file}: {precision} graph missing from the model directory"
                )
    return card


def verify_checksums(card: Card) -> None:
    """Raise ModelIntegrityError if any graph file's bytes differ from the card's sha256."""
    for precision in card.precisions:
        for role in ROLES:
            path = card.graph_path(role, precision)
            expected = card.graph_file(role, precision).sha256
            actual = sha256_file(path)
            if actual != expected:
                raise ModelIntegrityError(
                    f"{path}: sha256 {actual[:12]}… does not match the card's {expected[:12]}… "
                    "(file truncated or modified)"
                )


# --- the card inside the graphs ------------------------------------------------------------------


def metadata_props(card: Card | Mapping[str, Any], role: str) -> dict[str, str]:
    """The card as string metadata_props for one graph: every top-level field as JSON under
    ``aeinfer.<field>`` (the graph files and their checksums left out: a file cannot carry its
    own hash), plus ``aeinfer.role``."""
    data = card.to_json() if isinstance(card, Card) else dict(card)
    props = {
        f"{METADATA_PREFIX}{key}": json.dumps(value, sort_keys=True)
        for key, value in data.items()
        if key != "graphs"
    }
    props[f"{METADATA_PREFIX}role"] = json.dumps(role)
    return props


def card_from_metadata(props: Mapping[str, str]) -> dict[str, Any]:
    """What a graph's metadata_props say of its card (the inverse of :func:`metadata_props`,
    without the graph files)."""
    out: dict[str, Any] = {}
    for key, value in props.items():
        if not key.startswith(METADATA_PREFIX):
            continue
        try:
            out[key[len(METADATA_PREFIX) :]] = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ModelIntegrityError(f"graph metadata {key!r} is not JSON") from exc
    return out


def field_docs(cls: type) -> list[tuple[str, str, str]]:
    """(field, type, documentation) of a card dataclass, for the generated reference."""
    out = []
    for f in fields(cls):
        if f.metadata.get("internal"):
            continue
        out.append((f.name, str(f.type), f.metadata.get("doc", "")))
    return out


DOCUMENTED = (
    Card,
    DataSpec,
    Axis,
    Normalization,
    GraphSpec,
    TensorSpec,
    LatentSpec,
    Preparation,
    PrecisionGraphs,
    GraphFile,
    ScoreDistribution,
    DomainCheck,
)
"""The card's dataclasses in the order ``docs/card.md`` documents them."""
