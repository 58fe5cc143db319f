"""The runtime model: an encoder and a decoder session behind a numpy API.

Images go in as (N, H, W) — or one (H, W) — uint8 in 0..255 or float in [0, 1], PIL images
or paths; decoded images come back float32 (N, H, W) in [0, 1], whatever layout the family
uses inside its graphs. A loaded model is safe to call from several threads: ONNX Runtime's
``run`` is thread-safe and the model keeps no per-call state.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from aeinfer.errors import CapabilityError, InputError, ModelIntegrityError
from aeinfer.metadata import (
    FP32,
    IMAGE_NAME,
    LATENT_GAUSSIAN,
    LATENT_NAME,
    LAYOUT_FLAT,
    LAYOUT_IMAGE,
    PRECISIONS,
    ROLES,
    Card,
    graph_file,
    metadata_props_to_card,
    read_card,
    sha256_file,
)
from aeinfer.session import Placement, create_session
from aeinfer.zoo import resolve

# Bounded batches keep memory flat however many images a caller passes at once.
MAX_BATCH = 1024
UINT8_MAX = 255.0
# ONNX Runtime device names for IO binding.
BOUND_DEVICE_CUDA = "cuda"
BOUND_DEVICE_HOST = "cpu"
ImageInput = np.ndarray | Sequence[Any] | Path | str | Any


class Model:
    """An autoencoder served by ONNX Runtime. Use :func:`aeinfer.load` to get one."""

    def __init__(self, card: Card, device: str = "auto", precision: str = FP32) -> None:
        self._card = card
        self._precision = _check_precision(card, precision)
        sessions = {}
        placements: list[Placement] = []
        for role in ROLES:
            file_name = graph_file(role, precision)
            path = card.graph_path(file_name)
            data = path.read_bytes()
            expected = card.data["files"].get(file_name, {}).get("sha256")
            # Hash the very bytes handed to ORT, so what runs is what was verified.
            if expected is not None and _sha256(data) != expected:
                raise ModelIntegrityError(
                    f"{path}: sha256 does not match the model card (truncated or modified file)"
                )
            session, placement = create_session(data, device, str(path))
            graph_meta = metadata_props_to_card(session.get_modelmeta().custom_metadata_map)
            if graph_meta.get("family", card.family) != card.family:
                raise ModelIntegrityError(
                    f"{path}: graph says family {graph_meta.get('family')!r}, "
                    f"card says {card.family!r}"
                )
            sessions[role] = session
            placements.append(placement)
        self._encoder, self._decoder = (sessions[role] for role in ROLES)
        self._placement = placements[0]
        # On CUDA, batches go through IO binding: the codes stay in GPU memory between the
        # encoder and the decoder instead of a round trip through host memory.
        self._bound_device: str | None = BOUND_DEVICE_CUDA if self._placement.on_cuda else None
        # The code (or a VAE's mean) is the encoder's first output.
        self._code_output = [self._encoder.get_outputs()[0].name]
        # Read once: the card's properties parse its JSON on every access.
        self._image_shape = card.image_shape
        self._latent_shape = card.latent_shape
        self._layout_shape = _layout_shape(card.layout, self._image_shape)

    # --- description -------------------------------------------------------------------
    @property
    def info(self) -> dict[str, Any]:
        """The model card (metadata) as a dict; a copy, safe to modify."""
        return copy.deepcopy(self._card.data)

    @property
    def name(self) -> str:
        return self._card.name

    @property
    def family(self) -> str:
        return self._card.family

    @property
    def path(self) -> Path:
        return self._card.directory

    @property
    def precision(self) -> str:
        """The numeric precision of the graphs in use: fp32, or a variant (fp16, int8)."""
        return self._precision

    @property
    def precisions(self) -> tuple[str, ...]:
        """Every precision this model ships in (fp32 first)."""
        return self._card.precisions

    @property
    def latent_shape(self) -> tuple[int, ...]:
        return self._latent_shape

    @property
    def image_shape(self) -> tuple[int, int]:
        return self._image_shape

    @property
    def is_variational(self) -> bool:
        return self._card.latent_kind == LATENT_GAUSSIAN

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
            f"Model(name={self.name!r}, family={self.family!r}, precision={self.precision!r}, "
            f"providers={self.providers})"
        )

    # --- conversions -------------------------------------------------------------------
    def as_images(self, x: ImageInput) -> np.ndarray:
        """Any accepted image input → float32 (N, H, W) in [0, 1]."""
        return as_images(x, self.image_shape)

    def _to_layout(self, images: np.ndarray) -> np.ndarray:
        """(N, H, W) → the family's input layout: a view, never a copy."""
        return images.reshape(images.shape[0], *self._layout_shape)

    def _check_latents(self, z: np.ndarray | Sequence[float]) -> np.ndarray:
        z = np.asarray(z)
        if not np.issubdtype(z.dtype, np.number) or np.issubdtype(z.dtype, np.complexfloating):
            raise InputError(f"latents must be real numbers, got dtype {z.dtype}")
        if z.shape == self.latent_shape:
            z = z[None]
        if z.shape[1:] != self.latent_shape:
            raise InputError(
                f"latent shape {tuple(z.shape)} does not match model {self.name!r}, which takes "
                f"(N, {', '.join(map(str, self.latent_shape))})"
            )
        if not np.isfinite(z).all():
            raise InputError("latents contain NaN or infinite values")
        return np.ascontiguousarray(z, dtype=np.float32)

    # --- the API -----------------------------------------------------------------------
    def encode_distribution(self, x: ImageInput) -> tuple[np.ndarray, np.ndarray]:
        """(mean, logvar) of q(z|x) for a variational model."""
        if not self.is_variational:
            raise CapabilityError(f"model {self.name!r} ({self.family}) is not variational")
        mean, logvar = _map_batches(
            lambda chunk: self._encoder.run(None, {IMAGE_NAME: self._to_layout(chunk)}),
            self.as_images(x),
            (self.latent_shape, self.latent_shape),
        )
        return mean, logvar

    def encode(self, x: ImageInput) -> np.ndarray:
        """Codes (N, *latent_shape) float32; for a variational model, the posterior mean."""
        (codes,) = _map_batches(self._encode_batch, self.as_images(x), (self.latent_shape,))
        return codes

    def decode(self, z: np.ndarray | Sequence[float]) -> np.ndarray:
        """Images (N, H, W) float32 in [0, 1] from codes (N, *latent_shape)."""
        (images,) = _map_batches(self._decode_batch, self._check_latents(z), (self.image_shape,))
        return np.clip(images, 0.0, 1.0, out=images)

    def reconstruct(self, x: ImageInput) -> np.ndarray:
        """decoder(encoder(x)) as (N, H, W) float32 in [0, 1]; through the mean for a VAE.

        The same as ``decode(encode(x))``, but each batch's codes go from the encoder's output
        straight into the decoder.
        """
        (images,) = _map_batches(self._round_trip_batch, self.as_images(x), (self.image_shape,))
        return np.clip(images, 0.0, 1.0, out=images)

    def _round_trip_batch(self, images: np.ndarray) -> list[np.ndarray]:
        if self._bound_device is None:
            return self._decode_batch(self._encode_batch(images)[0])
        return self._round_trip_bound(images, self._bound_device)

    def _round_trip_bound(self, images: np.ndarray, device: str) -> list[np.ndarray]:
        """decoder(encoder(images)) with IO binding: the images are copied to ``device`` once,
        the codes are left there (an OrtValue handed from encoder to decoder), and only the
        decoded images come back to host memory."""
        encoding = self._encoder.io_binding()
        encoding.bind_cpu_input(IMAGE_NAME, np.ascontiguousarray(self._to_layout(images)))
        encoding.bind_output(self._code_output[0], device)
        self._encoder.run_with_iobinding(encoding)
        decoding = self._decoder.io_binding()
        decoding.bind_ortvalue_input(LATENT_NAME, encoding.get_outputs()[0])
        decoding.bind_output(IMAGE_NAME, BOUND_DEVICE_HOST)
        self._decoder.run_with_iobinding(decoding)
        return decoding.copy_outputs_to_cpu()

    def _encode_batch(self, images: np.ndarray) -> list[np.ndarray]:
        """The encoder's first output (the code, or a VAE's mean) for one batch of images."""
        return self._encoder.run(self._code_output, {IMAGE_NAME: self._to_layout(images)})

    def _decode_batch(self, latents: np.ndarray) -> list[np.ndarray]:
        return self._decoder.run(None, {LATENT_NAME: latents})

    def sample_latents(self, n: int, seed: int | None = None) -> np.ndarray:
        """``n`` draws z ~ N(0, I) of shape (n, *latent_shape) float32 (variational models
        only); the codes :meth:`sample` decodes for the same seed."""
        if not self.is_variational:
            raise CapabilityError(
                f"model {self.name!r} ({self.family}) is not variational; sampling needs a vae"
            )
        if n < 0:
            raise InputError(f"sample count must be ≥ 0, got {n}")
        rng = np.random.default_rng(seed)
        return rng.standard_normal((n, *self.latent_shape)).astype(np.float32)

    def sample(self, n: int, seed: int | None = None) -> np.ndarray:
        """Decode ``n`` draws z ~ N(0, I) (variational models only); seeded for repeatability."""
        return self.decode(self.sample_latents(n, seed))


def _layout_shape(layout: str, image_shape: tuple[int, int]) -> tuple[int, ...]:
    """Per-image shape of a layout: flat (H·W,), image (1, H, W), sequence (H, W)."""
    if layout == LAYOUT_FLAT:
        return (image_shape[0] * image_shape[1],)
    if layout == LAYOUT_IMAGE:
        return (1, *image_shape)
    return image_shape


def _check_precision(card: Card, precision: str) -> str:
    if precision not in PRECISIONS:
        raise InputError(f"unknown precision {precision!r}; valid: {', '.join(PRECISIONS)}")
    if precision not in card.precisions:
        why = card.data.get("variants_not_made", {}).get(precision)
        raise CapabilityError(
            f"model {card.name!r} has no {precision} variant; it ships in "
            f"{', '.join(card.precisions)}" + (f" ({precision} not made: {why})" if why else "")
        )
    return precision


def _sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def _map_batches(
    run: Callable[[np.ndarray], list[np.ndarray]],
    array: np.ndarray,
    shapes: tuple[tuple[int, ...], ...],
) -> list[np.ndarray]:
    """``run`` over ``array`` in batches of at most MAX_BATCH rows; its outputs, one per entry
    of ``shapes``, as float32 (N, *shape).

    One batch (the common case) returns ONNX Runtime's own output buffers, without a copy;
    more are written into arrays allocated once, rather than collected and concatenated.
    """
    n = array.shape[0]
    if n == 0:
        return [np.zeros((0, *shape), dtype=np.float32) for shape in shapes]
    if n <= MAX_BATCH:
        return [out.reshape(n, *shape) for out, shape in zip(run(array), shapes, strict=True)]
    results = [np.empty((n, *shape), dtype=np.float32) for shape in shapes]
    for start in range(0, n, MAX_BATCH):
        stop = min(start + MAX_BATCH, n)
        for result, out in zip(results, run(array[start:stop]), strict=True):
            result[start:stop] = out.reshape(stop - start, *result.shape[1:])
    return results


def as_images(x: ImageInput, image_shape: tuple[int, int]) -> np.ndarray:
    """numpy (N,H,W)/(H,W) uint8 or float in [0,1], a PIL image, a path, or a list of those
    → float32 (N, H, W) in [0, 1]."""
    if isinstance(x, np.ndarray):
        return _array_images(x, image_shape)
    if isinstance(x, (list, tuple)):
        if not x:
            return np.zeros((0, *image_shape), dtype=np.float32)
        return np.concatenate([as_images(item, image_shape) for item in x])
    from aeinfer.imageio import load_image  # Pillow is only needed for these inputs

    return load_image(x).digit[None].astype(np.float32)


def _array_images(x: np.ndarray, image_shape: tuple[int, int]) -> np.ndarray:
    if x.shape == image_shape:
        x = x[None]
    if x.ndim != 3 or x.shape[1:] != image_shape:
        raise InputError(
            f"images must have shape (N, {image_shape[0]}, {image_shape[1]}) or "
            f"({image_shape[0]}, {image_shape[1]}), got {tuple(x.shape)}"
        )
    if x.dtype == np.uint8:
        images = x.astype(np.float32)
        images /= UINT8_MAX
        return images
    if x.dtype.kind != "f":  # np.issubdtype(x.dtype, np.floating), without its cost
        raise InputError(f"images must be uint8 or float in [0, 1], got dtype {x.dtype}")
    # Two passes (min, max), not three: NaN fails both comparisons and ±inf the range, so the
    # finiteness pass is only needed to word the error.
    if x.size and not (x.min() >= 0.0 and x.max() <= 1.0):
        if not np.isfinite(x).all():
            raise InputError("images contain NaN or infinite values")
        raise InputError(
            f"float images must lie in [0, 1], got [{x.min():.3g}, {x.max():.3g}] "
            "(pass uint8 for 0..255 data)"
        )
    return np.ascontiguousarray(x, dtype=np.float32)


_CACHE: dict[tuple[str, str, str], Model] = {}
_CACHE_LOCK = threading.Lock()


def load(name_or_path: str | Path, device: str = "auto", precision: str = FP32) -> Model:
    """Load a bundled model by name, or a model directory by path, on ``device``.

    ``device`` is ``auto`` (CUDA if it really starts, else CPU), ``cpu`` or ``cuda`` (an
    error if CUDA cannot be obtained). ``precision`` is ``fp32`` (the exported graphs) or a
    variant the model ships (``fp16``, ``int8``; see ``Model.precisions`` and the card's
    ``variants`` for their measured quality cost and speed). Models are cached per
    (directory, device, precision) and checked against their card's sha256 on first load.
    """
    directory = resolve(name_or_path)
    key = (str(directory), device, precision)
    with _CACHE_LOCK:
        if key not in _CACHE:
            _CACHE[key] = Model(read_card(directory), device, precision)
        return _CACHE[key]


__all__ = ["Model", "as_images", "load", "sha256_file"]
