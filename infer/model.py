"""The tensor layer: an encoder and a decoder session behind a numpy API, shaped by the card.

Items go in as ``(N, *item)`` arrays in the data's own units — ``(N, C, H, W)`` images,
``(N, C, T)`` signals — or one item without the batch axis; for grey images ``(N, H, W)`` and
``(H, W)`` are accepted too, and uint8 pixels are scaled to [0, 1]. Codes come out as
``(N, *latent)``, decoded items as ``(N, *item)``. The card says everything: the item's axes
(fixed or free, and the multiple a free axis must be), the value range, a normalisation, how
the graphs lay an item out (as it is, without size-1 axes, or flattened), and the latent's axes.
A wrong shape, dtype or range is one :class:`~aeinfer.errors.InputError` line naming the input,
what it is and what the model takes; nothing reaches ONNX Runtime that it would refuse.

This module knows nothing of files, pictures or preparation (see :mod:`aeinfer.adapters` and
:mod:`aeinfer.tasks`). A loaded model is safe to call from several threads: ONNX Runtime's
``run`` is thread-safe and the model keeps no per-call state.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from aeinfer.card import (
    FEATURES,
    FP32,
    GAUSSIAN,
    IMAGE,
    PRECISIONS,
    ROLES,
    Card,
    card_from_metadata,
    graph_problems,
    item_layout,
    read_card,
    sha256_bytes,
)
from aeinfer.errors import CapabilityError, InputError, ModelIntegrityError
from aeinfer.session import Placement, create_session
from aeinfer.zoo import resolve

MAX_BATCH = 1024
"""Items per ONNX Runtime call at most: bounds memory however many items a caller passes."""
MAX_BATCH_VALUES = 1 << 22
"""...and values per call at most (4 Mi floats, 16 MB), for large free-size items."""
UINT8_MAX = 255.0
BOUND_DEVICE_CUDA = "cuda"
BOUND_DEVICE_HOST = "cpu"
Array = np.ndarray | Sequence[Any]


def _shape_text(shape: Sequence[Any]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ")"


def _as_array(x: Array, label: str) -> np.ndarray:
    """``x`` as an array; items of different shapes are one InputError line (numpy ≥ 1.24
    raises ValueError for a ragged sequence instead of making an object array)."""
    if isinstance(x, np.ndarray):
        return x
    try:
        return np.asarray(x)
    except ValueError as exc:
        raise InputError(f"{label}: not a numeric array (ragged or mixed items)") from exc


class Model:
    """An autoencoder served by ONNX Runtime: tensors in, tensors out.

    Most users get one through :func:`aeinfer.load`, which adds file-level calls on top.
    """

    def __init__(
        self, card: Card, device: str = "auto", precision: str = FP32, threads: int | None = None
    ) -> None:
        self._card = card
        self._precision = check_precision(card, precision)
        sessions: dict[str, Any] = {}
        placements: list[Placement] = []
        for role in ROLES:
            path = card.graph_path(role, precision)
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise ModelIntegrityError(f"{path}: cannot read ({exc.strerror})") from exc
            # Hash the very bytes handed to ONNX Runtime, so what runs is what was verified.
            if sha256_bytes(data) != card.graph_file(role, precision).sha256:
                raise ModelIntegrityError(
                    f"{path}: sha256 does not match the model card (truncated or modified file)"
                )
            session, placement = create_session(
                data, device, str(path), threads, free_shapes=bool(card.data.free_axes)
            )
            spec = card.encoder if role == "encoder" else card.decoder
            problems = graph_problems(spec, session.get_inputs(), session.get_outputs())
            said = card_from_metadata(session.get_modelmeta().custom_metadata_map)
            for key in ("name", "family"):
                if key in said and said[key] != getattr(card, key):
                    problems.append(
                        f"graph says {key} {said[key]!r}, card says {getattr(card, key)!r}"
                    )
            if problems:
                raise ModelIntegrityError(
                    f"{path}: the graph disagrees with its card: {'; '.join(problems)}"
                )
            sessions[role] = session
            placements.append(placement)
        self._encoder, self._decoder = sessions["encoder"], sessions["decoder"]
        self._placement = placements[0]
        # On CUDA, round trips go through IO binding: the codes stay in GPU memory between
        # the encoder and the decoder instead of a round trip through host memory.
        self._bound = self._placement.on_cuda
        self._input_name = card.encoder.inputs[0].name
        self._code_output = card.encoder.outputs[0].name
        self._latent_input = card.decoder.inputs[0].name
        self._image_output = card.decoder.outputs[0].name
        self._item_axes = card.data.axes
        graph_axes = card.encoder.inputs[0].axes[1:]
        self._flat = graph_axes[0].name == FEATURES
        # Item axes the graphs leave out (fixed, size 1: an LSTM's channel axis).
        names = {axis.name for axis in graph_axes}
        self._dropped = frozenset(
            i for i, axis in enumerate(self._item_axes) if axis.size == 1 and axis.name not in names
        )
        if item_layout(card.data, card.encoder.inputs[0]) is None:  # parse_card checked this
            raise ModelIntegrityError(f"{card.name}: the encoder cannot hold the card's item")
        norm = card.data.normalization
        broadcast = (-1,) + (1,) * (len(self._item_axes) - 1)
        self._mean = None if norm is None else np.asarray(norm.mean, np.float32).reshape(broadcast)
        self._std = None if norm is None else np.asarray(norm.std, np.float32).reshape(broadcast)

    # --- description -----------------------------------------------------------------------
    @property
    def card(self) -> Card:
        return self._card

    @property
    def info(self) -> dict[str, Any]:
        """The model card as JSON data (format 2); a fresh copy, safe to modify."""
        return self._card.to_json()

    @property
    def name(self) -> str:
        return self._card.name

    @property
    def family(self) -> str:
        return self._card.family

    @property
    def path(self) -> Path | None:
        return self._card.directory

    @property
    def precision(self) -> str:
        """The numeric precision of the graphs in use: fp32, or a variant (fp16, int8)."""
        return self._precision

    @property
    def precisions(self) -> tuple[str, ...]:
        return self._card.precisions

    @property
    def item_shape(self) -> tuple[int | None, ...]:
        """The item's shape, None for a free axis: (1, 28, 28), (3, None, None), (2, 128)."""
        return self._card.data.shape

    @property
    def latent_shape(self) -> tuple[int | None, ...]:
        return self._card.latent.shape

    @property
    def is_variational(self) -> bool:
        return self._card.latent.kind == GAUSSIAN

    @property
    def providers(self) -> list[str]:
        """Execution providers the sessions really use, in priority order."""
        return list(self._placement.obtained)

    @property
    def device_note(self) -> str:
        """What the device choice resolved to, e.g. 'device auto: using CPU'."""
        return self._placement.note

    def __repr__(self) -> str:
        return (
            f"Model(name={self.name!r}, family={self.family!r}, item={self.describe_items()}, "
            f"precision={self.precision!r}, providers={self.providers})"
        )

    def describe_items(self) -> str:
        return self._card.data.describe()

    def describe_latents(self) -> str:
        return "(N, " + ", ".join(a.describe() for a in self._card.latent.axes) + ")"

    # --- checking what comes in ------------------------------------------------------------
    def check_items(self, x: Array, label: str = "input") -> np.ndarray:
        """``x`` as a float32 (N, *item) batch in the data's units, or one InputError line."""
        array = _as_array(x, label)
        if array.dtype == object:
            raise InputError(f"{label}: not a numeric array (ragged or mixed items)")
        data = self._card.data
        batch = self._as_batch(array, label)
        return self._values(batch, label, data.range, image=data.modality == IMAGE)

    def _as_batch(self, array: np.ndarray, label: str) -> np.ndarray:
        axes = self._item_axes
        rank = len(axes)
        grey_image = self._card.data.modality == IMAGE and axes[0].size == 1
        if array.ndim == rank + 1 and self._fits(array.shape[1:]):
            return array
        if array.ndim == rank and self._fits(array.shape):
            return array[None]
        if grey_image and array.ndim == rank and self._fits((1, *array.shape[1:])):
            return array[:, None]
        if grey_image and array.ndim == rank - 1 and self._fits((1, *array.shape)):
            return array[None, None]
        single = "(" + ", ".join(a.describe() for a in axes) + ")"
        raise InputError(
            f"{label}: has shape {_shape_text(array.shape)}; model {self.name!r} takes "
            f"{self.describe_items()} or one {single}{self._free_hint(array.shape)}"
        )

    def _fits(self, shape: Sequence[int]) -> bool:
        if len(shape) != len(self._item_axes):
            return False
        for axis, size in zip(self._item_axes, shape, strict=True):
            if axis.size is not None and size != axis.size:
                return False
            if axis.size is None and (size < 1 or size % axis.multiple_of):
                return False
        return True

    def _free_hint(self, shape: Sequence[int]) -> str:
        hints = [
            f"{a.name} must be a multiple of {a.multiple_of}"
            for a in self._item_axes
            if a.size is None and a.multiple_of > 1
        ]
        return f" ({'; '.join(hints)})" if hints and shape else ""

    def _values(
        self, batch: np.ndarray, label: str, bounds: tuple[float, float] | None, *, image: bool
    ) -> np.ndarray:
        kind = batch.dtype.kind
        if kind == "b":
            return batch.astype(np.float32)
        if kind == "u" and batch.dtype.itemsize == 1 and image and bounds == (0.0, 1.0):
            values = batch.astype(np.float32)
            values /= UINT8_MAX
            return values
        if kind not in "fiu":
            raise InputError(f"{label}: values must be real numbers, got dtype {batch.dtype}")
        values = np.ascontiguousarray(batch, dtype=np.float32)
        if values.size == 0:
            return values
        low, high = float(values.min()), float(values.max())
        # NaN fails every comparison: one check for finiteness and range.
        if not (math.isfinite(low) and math.isfinite(high)):
            raise InputError(f"{label}: values contain NaN or infinity")
        if bounds is not None and (low < bounds[0] or high > bounds[1]):
            hint = " (pass uint8 for 0..255 pixels)" if image and high > bounds[1] else ""
            raise InputError(
                f"{label}: values span [{low:.4g}, {high:.4g}]; model {self.name!r} takes "
                f"values in [{bounds[0]:g}, {bounds[1]:g}]{hint}"
            )
        return values

    def check_latents(self, z: Array, label: str = "latents") -> np.ndarray:
        """``z`` as a float32 (N, *latent) batch, or one InputError line."""
        array = _as_array(z, label)
        axes = self._card.latent.axes

        def fits(shape: Sequence[int]) -> bool:
            return len(shape) == len(axes) and all(
                (a.size is None and s >= 1) or s == a.size for a, s in zip(axes, shape, strict=True)
            )

        if array.dtype == object:
            raise InputError(f"{label}: not a numeric array")
        if array.ndim == len(axes) + 1 and fits(array.shape[1:]):
            batch = array
        elif array.ndim == len(axes) and fits(array.shape):
            batch = array[None]
        else:
            single = "(" + ", ".join(a.describe() for a in axes) + ")"
            raise InputError(
                f"{label}: has shape {_shape_text(array.shape)}; model {self.name!r} decodes "
                f"codes of shape {self.describe_latents()} or one {single}"
            )
        return self._values(batch, label, None, image=False)

    # --- between the data's units and the graphs' -------------------------------------------
    def to_graph(self, items: np.ndarray) -> np.ndarray:
        """A checked item batch as the encoder graph takes it (normalised, laid out)."""
        if self._mean is not None:
            items = (items - self._mean) / self._std
        n = items.shape[0]
        if self._flat:
            return items.reshape(n, -1)
        if self._dropped:
            kept = [s for i, s in enumerate(items.shape[1:]) if i not in self._dropped]
            return items.reshape(n, *kept)
        return items

    def _from_graph(self, out: np.ndarray, like: Sequence[int]) -> np.ndarray:
        items = out.reshape(out.shape[0], *like)
        if self._std is not None:
            items = items * self._std + self._mean
        data = self._card.data
        if data.clip and data.range is not None:
            np.clip(items, data.range[0], data.range[1], out=items)
        return items.astype(np.float32, copy=False)

    def _decoded_shape(self, latents: np.ndarray) -> tuple[int, ...]:
        """The item shape the decoder makes of codes of this shape (free axes × stride)."""
        sizes = dict(zip((a.name for a in self._card.latent.axes), latents.shape[1:], strict=True))
        strides = {a.name: a.stride for a in self._card.latent.axes}
        shape = []
        for axis in self._item_axes:
            if axis.size is not None:
                shape.append(axis.size)
            else:
                shape.append(sizes[axis.name] * (strides[axis.name] or 1))
        return tuple(shape)

    # --- the API -----------------------------------------------------------------------------
    def encode(self, x: Array, label: str = "input") -> np.ndarray:
        """Codes (N, *latent) float32; for a variational model, the posterior mean."""
        items = self.check_items(x, label)
        (codes,) = self._map(self._encode_batch, items, (self._empty_latent(),))
        return codes

    def encode_distribution(self, x: Array, label: str = "input") -> tuple[np.ndarray, np.ndarray]:
        """(mean, logvar) of q(z|x) for a variational model."""
        if not self.is_variational:
            raise CapabilityError(f"model {self.name!r} ({self.family}) is not variational")
        items = self.check_items(x, label)
        mean, logvar = self._map(
            lambda chunk: self._encoder.run(None, {self._input_name: self.to_graph(chunk)}),
            items,
            (self._empty_latent(),) * 2,
        )
        return mean, logvar

    def decode(self, z: Array, label: str = "latents") -> np.ndarray:
        """Items (N, *item) float32 in the data's units (clipped to its range if the card says
        so) from codes (N, *latent)."""
        latents = self.check_latents(z, label)
        shape = self._decoded_shape(latents)
        (items,) = self._map(lambda chunk: [self._decode_batch(chunk, shape)], latents, (shape,))
        return items

    def reconstruct(self, x: Array, label: str = "input") -> np.ndarray:
        """decoder(encoder(x)) as (N, *item); through the mean for a variational model."""
        items = self.check_items(x, label)
        (out,) = self._map(lambda chunk: [self._round_trip(chunk)], items, (items.shape[1:],))
        return out

    def _encode_batch(self, items: np.ndarray) -> list[np.ndarray]:
        return self._encoder.run([self._code_output], {self._input_name: self.to_graph(items)})

    def _decode_batch(self, latents: np.ndarray, shape: Sequence[int]) -> np.ndarray:
        out = self._decoder.run([self._image_output], {self._latent_input: latents})[0]
        return self._from_graph(out, shape)

    def _round_trip(self, items: np.ndarray) -> np.ndarray:
        if not self._bound:
            (codes,) = self._encode_batch(items)
            return self._decode_batch(codes, items.shape[1:])
        return self._round_trip_bound(items)

    def _round_trip_bound(self, items: np.ndarray, device: str = BOUND_DEVICE_CUDA) -> np.ndarray:
        """decoder(encoder(items)) with IO binding: the items are copied to ``device`` once,
        the codes stay there (an OrtValue handed from encoder to decoder), and only the decoded
        items come back to host memory."""
        encoding = self._encoder.io_binding()
        encoding.bind_cpu_input(self._input_name, np.ascontiguousarray(self.to_graph(items)))
        encoding.bind_output(self._code_output, device)
        self._encoder.run_with_iobinding(encoding)
        decoding = self._decoder.io_binding()
        decoding.bind_ortvalue_input(self._latent_input, encoding.get_outputs()[0])
        decoding.bind_output(self._image_output, BOUND_DEVICE_HOST)
        self._decoder.run_with_iobinding(decoding)
        return self._from_graph(decoding.copy_outputs_to_cpu()[0], items.shape[1:])

    def _empty_latent(self) -> tuple[int, ...]:
        """The per-item code shape of an empty batch (0 where an axis is free)."""
        return tuple(0 if s is None else s for s in self.latent_shape)

    def _map(
        self,
        run: Callable[[np.ndarray], list[np.ndarray]],
        array: np.ndarray,
        empty: tuple[Sequence[int], ...],
    ) -> list[np.ndarray]:
        """``run`` over ``array`` in bounded batches; its ``outputs`` results, concatenated.

        One batch (the common case) returns ONNX Runtime's own buffers without a copy; more
        are written into arrays allocated once, after the first batch shows their shapes.
        """
        n = array.shape[0]
        per_item = max(1, math.prod(array.shape[1:]))
        step = max(1, min(MAX_BATCH, MAX_BATCH_VALUES // per_item))
        if n <= step:
            if n == 0:
                return [np.zeros((0, *shape), dtype=np.float32) for shape in empty]
            return list(run(array))
        results: list[np.ndarray] = []
        for start in range(0, n, step):
            stop = min(start + step, n)
            chunk = run(array[start:stop])
            if not results:
                results = [np.empty((n, *out.shape[1:]), dtype=np.float32) for out in chunk]
            for result, out in zip(results, chunk, strict=True):
                result[start:stop] = out
        return results

    # --- sampling -------------------------------------------------------------------------------
    def sample_latents(self, n: int, seed: int | None = None) -> np.ndarray:
        """``n`` draws from the prior, (n, *latent) float32 (models whose card names a prior)."""
        prior = self._card.latent.prior
        if prior is None or any(s is None for s in self.latent_shape):
            raise CapabilityError(
                f"model {self.name!r} ({self.family}) has no prior to sample from; sampling "
                "needs a variational model"
            )
        if n < 0:
            raise InputError(f"sample count must be ≥ 0, got {n}")
        rng = np.random.default_rng(seed)
        return rng.standard_normal((n, *self.latent_shape)).astype(np.float32)

    def sample(self, n: int, seed: int | None = None) -> np.ndarray:
        """Decode ``n`` draws from the prior; seeded for repeatability."""
        return self.decode(self.sample_latents(n, seed))


def check_precision(card: Card, precision: str) -> str:
    if precision not in PRECISIONS:
        raise InputError(f"unknown precision {precision!r}; valid: {', '.join(PRECISIONS)}")
    if precision not in card.precisions:
        why = card.not_made.get(precision)
        raise CapabilityError(
            f"model {card.name!r} has no {precision} variant; it ships in "
            f"{', '.join(card.precisions)}" + (f" ({precision} not made: {why})" if why else "")
        )
    return precision


_CACHE: dict[tuple[str, str, str, int | None], Model] = {}
_CACHE_LOCK = threading.Lock()


def load_model(
    name_or_path: str | Path,
    device: str = "auto",
    precision: str = FP32,
    threads: int | None = None,
) -> Model:
    """The tensor-level :class:`Model` of a bundled name or a model directory, cached per
    (directory, device, precision, threads). Most users want :func:`aeinfer.load` instead."""
    directory = resolve(name_or_path)
    key = (str(directory), device, precision, threads)
    with _CACHE_LOCK:
        if key not in _CACHE:
            _CACHE[key] = Model(read_card(directory), device, precision, threads)
        return _CACHE[key]


__all__ = ["MAX_BATCH", "Model", "check_precision", "load_model"]
