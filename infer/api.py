"""The Python API: :func:`load` and the :class:`Autoencoder` it returns.

Tensors in, tensors out — and files in, files' worth out. Every call takes either

- **tensors** (numpy arrays): items ``(N, *item)`` or one item, codes ``(N, *latent)``; the
  result is a tensor, exactly what the graphs compute (see :class:`~aeinfer.model.Model`); or
- **what a user has**: a path, the bytes of a file, or a Pillow image (or a list of them),
  prepared by the adapter the card names; the result has the input's kind and size — a Pillow
  image for a path or a Pillow image, the file bytes for bytes (PNG for pictures), an array of the
  file's shape for a signal file. ``aeinfer.load("photo").denoise("photo.jpg")`` is the
  picture ``aeinfer denoise --model photo photo.jpg`` writes.

:func:`denoise` is what ``aeinfer denoise`` does without ``--model``: each input to the model
made for it (one digit on plain paper to the digit denoiser, anything else to the photo
denoiser at its own size).

Every call goes through :mod:`aeinfer.tasks`, as the command line does, so both give identical
results for the same input.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from aeinfer import tasks
from aeinfer.card import DENOISE, FP32, RECONSTRUCT, Card
from aeinfer.errors import InputError
from aeinfer.model import Model, load_model
from aeinfer.pictures import Picture
from aeinfer.scores import score_per_item


def _is_tensor(x: Any) -> bool:
    if isinstance(x, np.ndarray):
        return True
    if isinstance(x, (list, tuple)) and x:
        return all(isinstance(v, (np.ndarray, int, float, list, tuple)) for v in x)
    return False


def _sources(x: Any) -> tuple[list[Any], bool]:
    """The inputs as a list, and whether a single one was given."""
    if isinstance(x, (list, tuple)):
        return list(x), False
    return [x], True


def _same_kind(raw: tasks.Raw, source: Any) -> Any:
    """A result in the kind of its input: bytes for bytes, a Pillow image for a path or a
    Pillow image, an array (the file's shape) for a signal."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return tasks.output_bytes(raw)
    if isinstance(raw, Picture):
        return raw.to_pil()
    return raw.values  # a Signal


class Autoencoder:
    """A loaded model: the tensor-level :attr:`model` with its card's preparation on top.

    Get one with :func:`aeinfer.load`. Safe to use from several threads.
    """

    def __init__(self, model: Model) -> None:
        self._pipe = tasks.pipeline(model)

    # --- description -----------------------------------------------------------------------
    @property
    def pipeline(self) -> tasks.Pipeline:
        return self._pipe

    @property
    def model(self) -> Model:
        """The tensor-level model (tensors in, tensors out)."""
        return self._pipe.model

    @property
    def card(self) -> Card:
        """The parsed model card."""
        return self._pipe.card

    @property
    def info(self) -> dict[str, Any]:
        """The model card as JSON data; a fresh copy."""
        return self.model.info

    @property
    def name(self) -> str:
        return self.model.name

    @property
    def family(self) -> str:
        return self.model.family

    @property
    def path(self) -> Path | None:
        return self.model.path

    @property
    def precision(self) -> str:
        return self.model.precision

    @property
    def precisions(self) -> tuple[str, ...]:
        return self.model.precisions

    @property
    def providers(self) -> list[str]:
        return self.model.providers

    @property
    def device_note(self) -> str:
        return self.model.device_note

    @property
    def item_shape(self) -> tuple[int | None, ...]:
        return self.model.item_shape

    @property
    def latent_shape(self) -> tuple[int | None, ...]:
        return self.model.latent_shape

    @property
    def is_variational(self) -> bool:
        return self.model.is_variational

    @property
    def tasks(self) -> tuple[str, ...]:
        return self.card.tasks

    def __repr__(self) -> str:
        return f"Autoencoder({self.model!r})"

    # --- the calls --------------------------------------------------------------------------
    def encode(self, x: Any, *, force: bool = False) -> np.ndarray:
        """Codes (N, *latent) of tensors or of inputs (a variational model's posterior mean).
        An input outside a digit model's domain raises
        :class:`~aeinfer.errors.OutOfDomainError` unless ``force``."""
        if _is_tensor(x):
            return self.model.encode(x)
        sources, _ = _sources(x)
        return tasks.encode(self._pipe, sources, force=force)[0]

    def encode_distribution(self, x: Any) -> tuple[np.ndarray, np.ndarray]:
        """(mean, logvar) of q(z|x) for a variational model, of tensors."""
        return self.model.encode_distribution(x)

    def decode(self, z: Any) -> np.ndarray:
        """Items (N, *item) from codes (N, *latent)."""
        return tasks.decode(self._pipe, z)

    def reconstruct(self, x: Any, *, force: bool = False, ensemble: bool = False) -> Any:
        """decoder(encoder(x)): a tensor for tensors; for inputs, each result in its input's
        kind and size (see the module docstring). An input outside a digit model's domain
        raises :class:`~aeinfer.errors.OutOfDomainError` unless ``force``. ``ensemble``
        averages the 8 flips and rotations (8 passes; a model whose card allows it, such as
        ``photo``: :mod:`aeinfer.ensemble`)."""
        return self._round_trip(x, RECONSTRUCT, force, ensemble)

    def denoise(self, x: Any, *, force: bool = False, ensemble: bool = False) -> Any:
        """As :meth:`reconstruct`, through a model whose card lists ``denoise``."""
        return self._round_trip(x, DENOISE, force, ensemble)

    def _round_trip(self, x: Any, task: str, force: bool, ensemble: bool) -> Any:
        pipe = self._pipe
        if ensemble:  # the same adapter, the model averaged where its card allows it
            tasks.check_ensemble(self.card, pipe.adapter)
            pipe = replace(pipe, ensemble=True)
        if _is_tensor(x):
            tasks.require(pipe, task)
            return pipe.reconstruct(self.model.check_items(x))
        sources, single = _sources(x)
        outputs = [
            _same_kind(tasks.unwrap(outcome).output, source)
            for outcome, source in zip(
                tasks.reconstruct_each(pipe, sources, task=task, force=force),
                sources,
                strict=True,
            )
        ]
        return outputs[0] if single else outputs

    def score(self, x: Any) -> Any:
        """Anomaly scores: an array (N,) for tensors; for inputs, a :class:`~aeinfer.tasks.Score`
        (a list of them for several inputs, or a file holding several items)."""
        if _is_tensor(x):
            items = self.model.check_items(x)
            return score_per_item(self.model.reconstruct(items), items)
        sources, single = _sources(x)
        scores = [s for o in tasks.score_each(self._pipe, sources) for s in tasks.unwrap(o).output]
        return scores[0] if single and len(scores) == 1 else scores

    def sample(self, n: int, seed: int | None = None) -> np.ndarray:
        """Decode ``n`` draws from the prior (variational models); seeded for repeatability."""
        return tasks.sample(self._pipe, n, seed).items

    def sample_latents(self, n: int, seed: int | None = None) -> np.ndarray:
        return self.model.sample_latents(n, seed)

    def interpolate(
        self, first: Any, last: Any, steps: int = 10, *, force: bool = False
    ) -> np.ndarray:
        """Items (steps, *item) decoded along the line between two inputs' codes."""
        if _is_tensor(first) and _is_tensor(last):
            tasks.require(self._pipe, tasks.INTERPOLATE)
            # Each end checked and encoded on its own: the two may be given in different
            # accepted forms ((H, W) and (1, H, W)), and a bad one is named.
            ends = [self._one_code(first, "first"), self._one_code(last, "last")]
            return tasks.decode(self._pipe, tasks.interpolate_codes(ends[0], ends[1], steps))
        return tasks.interpolate(self._pipe, first, last, steps, force=force)

    def _one_code(self, item: Any, label: str) -> np.ndarray:
        codes = self.model.encode(item, label)
        if len(codes) != 1:
            raise InputError(
                f"{label}: holds {len(codes)} items; interpolation takes one item at each end"
            )
        return codes[0]


def denoise(x: Any, *, device: str = "auto", precision: str = FP32, ensemble: bool = False) -> Any:
    """What ``aeinfer denoise`` writes for each input (a path, the bytes of a file, a Pillow
    image, or a list of them): denoised by the bundled digit denoiser when its domain check
    finds one digit on plain paper, else by the bundled photo denoiser at the input's own size
    (``ensemble``: averaged over the 8 flips and rotations), each at ``precision``. Results come
    in each input's kind and size, as :meth:`Autoencoder.denoise` gives them. For tensors, or to
    choose the model, use that method of :func:`load`'s model."""
    from aeinfer.zoo import DENOISE_MODEL, PHOTO_MODEL

    if _is_tensor(x):
        raise InputError(
            "aeinfer.denoise takes pictures (paths, bytes, Pillow images): a tensor has no "
            "model to route it to; use aeinfer.load(NAME).denoise(tensor)"
        )
    digits = tasks.pipeline(load_model(DENOISE_MODEL, device, precision))
    photos = tasks.pipeline(load_model(PHOTO_MODEL, device, precision), ensemble)
    sources, single = _sources(x)
    outcomes = tasks.denoise_routed_each(digits, photos, sources)
    outputs = [
        _same_kind(tasks.unwrap(outcome).output, source)
        for outcome, source in zip(outcomes, sources, strict=True)
    ]
    return outputs[0] if single else outputs


def load(
    name_or_path: str | os.PathLike[str], device: str = "auto", precision: str = FP32
) -> Autoencoder:
    """Load a bundled model by name, or a model directory by path, on ``device``.

    A bare name (``"denoise"``) is a bundled model; a directory is a path (``"./mine"``, a
    :class:`pathlib.Path`). ``device`` is ``auto`` (CUDA if it really starts, else CPU),
    ``cpu`` or ``cuda`` (an error if CUDA cannot be obtained). ``precision`` is ``fp32`` or a
    variant the model ships (``fp16``, ``int8``; see the card's ``graphs``). Sessions are cached
    per (directory, device, precision) and checked against the card's sha256 when first loaded.
    """
    path: str | Path = name_or_path if isinstance(name_or_path, (str, Path)) else Path(name_or_path)
    return Autoencoder(load_model(path, device, precision))


__all__ = ["Autoencoder", "denoise", "load"]
