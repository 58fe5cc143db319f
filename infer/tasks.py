"""The tasks — encode, decode, reconstruct, denoise, score, sample, interpolate — as functions.

Each takes a :class:`Pipeline` (a tensor-level :class:`~aeinfer.model.Model` with the adapter
its card names) and what a user has — an image or signal file, its bytes, a Pillow image — and
returns the result with notes for the user. This is the one place where an input is read,
prepared, run and restored; the command line, the Python API (:mod:`aeinfer.api`) and any other
front end call these functions and nothing below them.

Per-input tasks come in two forms: ``reconstruct(pipe, source)`` for one input (errors raised),
and ``reconstruct_each(pipe, sources)``, which reads and prepares inputs in bounded chunks,
runs inputs of one shape together (one model call for a folder of digits) and yields a
:class:`Done` or :class:`Failed` per input, in order, so a job can carry on past a bad file.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from aeinfer.adapters import Adapter, adapter_for
from aeinfer.card import (
    DECODE,
    DENOISE,
    ENCODE,
    IMAGE,
    INTERPOLATE,
    RECONSTRUCT,
    SAMPLE,
    SCORE,
    TASKS,
    Card,
)
from aeinfer.domain import Verdict
from aeinfer.domain import figures as domain_figures
from aeinfer.domain import judge as judge_domain
from aeinfer.ensemble import dihedral_mean
from aeinfer.errors import AeinferError, CapabilityError, InputError, OutOfDomainError
from aeinfer.model import Model
from aeinfer.pictures import IMAGE_SUFFIXES, Picture, picture_bytes, read_picture
from aeinfer.scores import percentile_of, score_per_item

CHUNK = 64
"""Inputs read and prepared together: bounds memory for folders of any size."""
CHUNK_BYTES = 32 * 2**20
"""...and at most about this much of them: a chunk ends once the inputs it holds (as read,
plus their prepared tensors) reach it. A digit model's preparation keeps each whole picture for
the restore, so 64 phone photos at once would hold gigabytes; a 12 MP photo (36 MB as read)
now goes alone, and small inputs still go 64 at a time."""
SEED_SPACE = 2**32
"""Seeds drawn when none is given lie in [0, SEED_SPACE)."""
MIN_STEPS = 2
STDIN_LABEL = "<stdin>"
PNG = ".png"

Source = str | os.PathLike[str] | bytes | bytearray | memoryview | Any
"""A path, the bytes of a file, a Pillow image, or an image array (H, W[, C])."""
Raw = Any
"""A Picture (:mod:`aeinfer.pictures`) or a Signal (:mod:`aeinfer.signals`, imported only for
signal models, so that image commands never load the signal readers)."""


@dataclass(frozen=True, eq=False)
class Pipeline:
    """A model and the adapter its card names: what every task runs on."""

    model: Model
    adapter: Adapter
    ensemble: bool = False
    """Reconstruct and denoise average the 8 flips and rotations (:mod:`aeinfer.ensemble`)."""

    @property
    def card(self) -> Card:
        return self.model.card

    def reconstruct(self, batch: np.ndarray) -> np.ndarray:
        """decoder(encoder(batch)), averaged over the 8 flips and rotations with ``ensemble``."""
        if self.ensemble:
            return dihedral_mean(self.model.reconstruct)(batch)
        return self.model.reconstruct(batch)

    @property
    def modality(self) -> str:
        return self.model.card.data.modality

    @property
    def input_suffixes(self) -> frozenset[str]:
        """Suffixes of the files this model reads (and may write) when folders are walked."""
        return input_suffixes(self.modality)

    def read(self, source: Source, label: str | None = None) -> Raw:
        """A user's input as the adapter's raw form: a Picture or a Signal."""
        if self.modality == IMAGE:
            return read_picture(source, label)
        from aeinfer.signals import read_signal

        return read_signal(source, label)


def input_suffixes(modality: str) -> frozenset[str]:
    """Suffixes of the files a model of ``modality`` reads when folders are walked."""
    if modality == IMAGE:
        return IMAGE_SUFFIXES
    from aeinfer.signals import SIGNAL_SUFFIXES

    return frozenset(SIGNAL_SUFFIXES)


def pipeline(model: Model, ensemble: bool = False) -> Pipeline:
    """The pipeline of ``model``: its card's adapter, checked; with ``ensemble``, reconstruct
    and denoise average the 8 flips and rotations (a card whose preparation allows it)."""
    adapter = adapter_for(model.card)
    if ensemble:
        check_ensemble(model.card, adapter)
    return Pipeline(model, adapter, ensemble)


def check_ensemble(card: Card, adapter: Adapter | None = None) -> None:
    """Raise CapabilityError unless the card says its model may be averaged over the 8 flips
    and rotations (the ``tiles`` preparation's ``dihedral``: it was trained on all of them)."""
    params = (adapter or adapter_for(card)).params
    if not getattr(params, "dihedral", False):
        raise CapabilityError(
            f"model {card.name!r} cannot average flips and rotations (--ensemble): its card "
            "does not say it was trained on all of them (the tiles preparation's dihedral)"
        )


def require(pipe: Pipeline, task: str) -> None:
    """Raise CapabilityError unless the card lists ``task``."""
    if task not in TASKS:
        raise InputError(f"unknown task {task!r}; valid: {', '.join(TASKS)}")
    card = pipe.card
    if task not in card.tasks:
        hint = " (a model trained to denoise is needed, e.g. denoise)" if task == DENOISE else ""
        hint = " (sampling needs a variational model, e.g. vae)" if task == SAMPLE else hint
        raise CapabilityError(
            f"model {card.name!r} cannot {task}: its card lists {', '.join(card.tasks)}{hint}"
        )


def output_bytes(raw: Raw, suffix: str = PNG, label: str = "") -> bytes:
    """A result as the bytes of a file: a picture in the format ``suffix`` names, a signal in
    its own format. What the CLI writes and what a server would send are these bytes."""
    if isinstance(raw, Picture):
        return picture_bytes(raw, suffix, label)
    from aeinfer.signals import signal_bytes

    return signal_bytes(raw)


def label_of(source: Source, label: str | None = None) -> str:
    if label is not None:
        return label
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    return STDIN_LABEL if isinstance(source, (bytes, bytearray, memoryview)) else "<input>"


# --- per-input results ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Done:
    """One input's result: the restored output (a Picture or Signal, or codes for encode, or
    scores for score), what the model saw and gave, and notes for the user."""

    label: str
    output: Any
    prepared: np.ndarray | None
    """What the model saw; None where its result was written over it (denoise in tiles: a
    large photo then needs one float copy of itself, not two)."""
    result: np.ndarray
    state: Any
    notes: tuple[str, ...] = ()
    model: str = ""
    """The name of the model that made the result."""
    verdict: Verdict | None = None
    """The domain check's verdict, for models whose card has one."""


@dataclass(frozen=True)
class Failed:
    """One input that could not be done, and why (one line that names it)."""

    label: str
    error: AeinferError


Outcome = Done | Failed


@dataclass(frozen=True)
class Score:
    """One item's anomaly score and where it falls in the card's reference distribution."""

    label: str
    value: float
    percentile: float | None
    """None without a reference distribution, or for an input outside the model's domain."""
    in_domain: bool | None = None
    """The domain check's verdict (None for models without one)."""
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "path": self.label,
            "score": self.value,
            "percentile": self.percentile,
        }
        if self.in_domain is not None:
            out["in_domain"] = self.in_domain
            if not self.in_domain:
                out["out_of_domain"] = self.reason
        return out


@dataclass(frozen=True, eq=False)
class _Ready:
    index: int
    label: str
    tensor: np.ndarray
    state: Any
    notes: tuple[str, ...]
    held: int
    """Bytes of the input as read and of its prepared tensor (for :data:`CHUNK_BYTES`)."""


def _prepare(pipe: Pipeline, index: int, source: Source, label: str) -> _Ready:
    raw = pipe.read(source, label)
    tensor, state = pipe.adapter.prepare(raw)
    # The model's own check, with the input's name, before anything is stacked or run.
    tensor = pipe.model.check_items(tensor, label)
    notes = tuple(raw.notes) + tuple(pipe.adapter.notes(state))
    return _Ready(index, label, tensor, state, notes, _raw_bytes(raw) + tensor.nbytes)


def _raw_bytes(raw: Raw) -> int:
    if isinstance(raw, Picture):
        return raw.pixels.nbytes + (0 if raw.alpha is None else raw.alpha.nbytes)
    return raw.values.nbytes


def _stride(card: Card) -> int:
    """How many item pixels one latent element spans along the free axes (1 if none)."""
    return next((a.stride for a in card.latent.axes if a.stride), 1)


def _grouped(
    pipe: Pipeline,
    fn: Callable[[np.ndarray], np.ndarray],
    ready: list[_Ready],
    scale: float,
    in_place: bool = False,
) -> list[np.ndarray]:
    """``fn`` over every prepared tensor: inputs of one shape in one call where the adapter
    allows it, else each through the adapter's ``run`` (tiled for large pictures; with
    ``in_place`` the result may be written over the prepared tensor)."""
    if not pipe.adapter.batchable:
        return [pipe.adapter.run(fn, r.tensor, scale, in_place=in_place) for r in ready]
    results: list[np.ndarray | None] = [None] * len(ready)
    shapes: dict[tuple[int, ...], list[int]] = {}
    for position, r in enumerate(ready):
        shapes.setdefault(r.tensor.shape[1:], []).append(position)
    for positions in shapes.values():
        stacked = np.concatenate([ready[p].tensor for p in positions])
        out = fn(stacked)
        start = 0
        for p in positions:
            count = ready[p].tensor.shape[0]
            results[p] = out[start : start + count]
            start += count
    return [r for r in results if r is not None]  # every position was filled


def _each(
    pipe: Pipeline,
    sources: Sequence[Source],
    labels: Sequence[str] | None,
    run: Callable[[list[_Ready]], list[np.ndarray]],
    finish: Callable[[_Ready, np.ndarray, Verdict | None], Any],
    judge: Callable[[_Ready, np.ndarray], Verdict | None] | None = None,
) -> Iterator[Outcome]:
    """Read and prepare ``sources`` in chunks (:data:`CHUNK`, :data:`CHUNK_BYTES`), ``run``
    the prepared ones, ``judge`` them (the domain check), ``finish`` each, and yield the
    outcomes in input order. Inputs the adapter cannot stack (large pictures in tiles) go one at
    a time, so memory holds one of them; a yielded outcome is no longer held here."""
    size = CHUNK if pipe.adapter.batchable else 1
    outcomes: dict[int, Outcome] = {}
    ready: list[_Ready] = []

    def complete() -> None:
        # Not in flush: a suspended generator would keep its loop's last input alive.
        results = run(ready) if ready else []
        for r, result in zip(ready, results, strict=True):
            try:
                verdict = None if judge is None else judge(r, result)
                output = finish(r, result, verdict)
            except AeinferError as exc:
                outcomes[r.index] = Failed(r.label, exc)
                continue
            prepared = None if result is r.tensor else r.tensor  # None: written over
            outcomes[r.index] = Done(
                r.label, output, prepared, result, r.state, r.notes, pipe.card.name, verdict
            )
        ready.clear()

    def flush(upto: int) -> Iterator[Outcome]:
        complete()
        for index in sorted(outcomes):
            if index < upto:
                yield outcomes.pop(index)

    for index, source in enumerate(sources):
        label = label_of(source, labels[index] if labels else None)
        try:
            ready.append(_prepare(pipe, index, source, label))
        except AeinferError as exc:
            outcomes[index] = Failed(label, exc)
        if len(ready) >= size or sum(r.held for r in ready) >= CHUNK_BYTES:
            yield from flush(index + 1)
    yield from flush(len(sources))


# --- the domain check ---------------------------------------------------------------------------


def _verdict(pipe: Pipeline, r: _Ready, reconstruction: np.ndarray) -> Verdict | None:
    """The card's domain check of one prepared input, given its reconstruction; None for a
    model without one (or an adapter that records no diagnosis)."""
    check = pipe.card.domain
    diagnosis = getattr(r.state, "diagnosis", None)
    if check is None or diagnosis is None:
        return None
    floor = float(getattr(pipe.adapter.params, "ink_threshold", 0.0))
    return judge_domain(check, domain_figures(diagnosis, r.tensor[0], reconstruction), floor)


def better_model(pipe: Pipeline) -> str | None:
    """A bundled model for pictures that are not digits (one that denoises at any size)."""
    from aeinfer.card import read_card
    from aeinfer.zoo import MODELS_DIR, bundled_names

    for name in bundled_names():
        card = read_card(MODELS_DIR / name)
        if card.preparation.adapter == "tiles" and DENOISE in card.tasks and name != pipe.card.name:
            return name
    return None


def refusal(pipe: Pipeline, label: str, verdict: Verdict) -> OutOfDomainError:
    """The refusal of an input outside the model's domain: why, and the model to use instead
    (each front end words what to do: ``aeinfer.jobs.failure_line``, the server's errors)."""
    return OutOfDomainError(
        f"{label}: not one digit on plain paper — {verdict.reason} (in-domain score "
        f"{verdict.score:.2f}, model {pipe.card.name!r} takes ≥ {verdict.threshold:.2f})",
        better_model(pipe),
    )


def _enforce(pipe: Pipeline, force: bool) -> Callable[[_Ready, np.ndarray], Verdict | None]:
    """A judge that refuses inputs outside the domain unless ``force``."""

    def judge(r: _Ready, reconstruction: np.ndarray) -> Verdict | None:
        verdict = _verdict(pipe, r, reconstruction)
        if verdict is not None and not verdict.in_domain and not force:
            raise refusal(pipe, r.label, verdict)
        return verdict

    return judge


def unwrap(outcome: Outcome) -> Done:
    """The Done of an outcome; a Failed one raises its error."""
    if isinstance(outcome, Failed):
        raise outcome.error
    return outcome


# --- reconstruct, denoise, score ------------------------------------------------------------------


def reconstruct_each(
    pipe: Pipeline,
    sources: Sequence[Source],
    labels: Sequence[str] | None = None,
    *,
    task: str = RECONSTRUCT,
    force: bool = False,
) -> Iterator[Outcome]:
    """decoder(encoder(x)) of every input, restored to the input's size and kind
    (``Done.output``); ``task`` is ``reconstruct`` or ``denoise`` (which the card must list).
    An input outside the model's domain (a card's domain check) is refused unless ``force``."""
    return _reconstructions(pipe, sources, labels, task, force=force)


def _reconstructions(
    pipe: Pipeline,
    sources: Sequence[Source],
    labels: Sequence[str] | None,
    task: str,
    *,
    force: bool,
    restore_refused: bool = True,
) -> Iterator[Outcome]:
    """:func:`reconstruct_each`; without ``restore_refused`` an input outside the domain is
    judged but not restored (its ``Done.output`` is None): the router sends it elsewhere, and at
    a photograph's size the restore is the costliest step (a 12 MP photo: +340 MB, +6 s)."""
    require(pipe, task)

    def run(ready: list[_Ready]) -> list[np.ndarray]:
        # A denoised input is wanted only restored: its tensor may take the result.
        return _grouped(pipe, pipe.reconstruct, ready, 1.0, in_place=task == DENOISE)

    restore = pipe.adapter.restore_denoised if task == DENOISE else pipe.adapter.restore

    def finish(r: _Ready, result: np.ndarray, verdict: Verdict | None) -> Any:
        if not restore_refused and verdict is not None and not verdict.in_domain:
            return None
        return restore(result, r.state)

    return _each(pipe, sources, labels, run, finish, _enforce(pipe, force))


def reconstruct(
    pipe: Pipeline,
    source: Source,
    label: str | None = None,
    *,
    task: str = RECONSTRUCT,
    force: bool = False,
) -> Done:
    """One input's reconstruction (see :func:`reconstruct_each`); errors are raised."""
    outcomes = reconstruct_each(pipe, [source], [label_of(source, label)], task=task, force=force)
    return unwrap(next(outcomes))


def denoise(
    pipe: Pipeline, source: Source, label: str | None = None, *, force: bool = False
) -> Done:
    """One input denoised: its reconstruction through a model whose card lists ``denoise``."""
    return reconstruct(pipe, source, label, task=DENOISE, force=force)


def denoise_routed_each(
    digits: Pipeline,
    photos: Pipeline | None,
    sources: Sequence[Source],
    labels: Sequence[str] | None = None,
) -> Iterator[Outcome]:
    """Denoise each input with the model for it: ``digits`` (a digit denoiser with a domain
    check) when the check says it is one digit on plain paper, else ``photos`` (a denoiser for
    any picture at its own size); without ``photos``, such an input is refused. Each
    :class:`Done` names its model, and a routed one says why in a note."""
    outcomes = _reconstructions(digits, sources, labels, DENOISE, force=True, restore_refused=False)
    # One outcome alive at a time (a large picture's arrays are hundreds of MB): no zip(), which
    # keeps its last tuple, and no local bound across a yield, which would keep the outcome
    # alive while the caller writes it (a 40 MP photo's float copy: 480 MB during its PNG
    # encoding) and until the next one is made. ``held`` is emptied by the yield itself.
    held: list[Outcome] = []
    for source in sources:
        held.append(next(outcomes))
        outcome = held[0]
        verdict = outcome.verdict if isinstance(outcome, Done) else None
        if verdict is not None and not verdict.in_domain:
            label = outcome.label
            del outcome, held[0]  # its state holds the whole picture: not needed past here
            held.append(_routed(digits, photos, source, label, verdict))
        else:
            del outcome
        yield held.pop()


def _routed(
    digits: Pipeline, photos: Pipeline | None, source: Source, label: str, verdict: Verdict
) -> Outcome:
    """An input the digit model's check refused: denoised by ``photos``, or refused."""
    if photos is None:
        return Failed(label, refusal(digits, label, verdict))
    routed = next(reconstruct_each(photos, [source], [label], task=DENOISE))
    if isinstance(routed, Done):
        note = f"not one digit ({verdict.reason}): denoised by {photos.card.name}"
        routed = replace(routed, notes=(*routed.notes, note))
    return routed


def scores_of(
    pipe: Pipeline,
    prepared: np.ndarray,
    result: np.ndarray,
    label: str,
    verdict: Verdict | None = None,
) -> tuple[Score, ...]:
    """The scores of a prepared batch and its reconstruction; items past the first of a file
    are labelled ``label[i]``. An input outside the model's domain is flagged, and gets no
    percentile: its place among the reference digits would mean nothing."""
    values = score_per_item(result, prepared)
    distribution = pipe.card.score
    outside = verdict is not None and not verdict.in_domain
    return tuple(
        Score(
            label if len(values) == 1 else f"{label}[{i}]",
            float(value),
            None if distribution is None or outside else percentile_of(float(value), distribution),
            None if verdict is None else verdict.in_domain,
            "" if verdict is None else verdict.reason,
        )
        for i, value in enumerate(values)
    )


def score_each(
    pipe: Pipeline, sources: Sequence[Source], labels: Sequence[str] | None = None
) -> Iterator[Outcome]:
    """The anomaly score of every input (``Done.output``: one :class:`Score` per item)."""
    require(pipe, SCORE)

    def run(ready: list[_Ready]) -> list[np.ndarray]:
        return _grouped(pipe, pipe.model.reconstruct, ready, 1.0)

    return _each(
        pipe,
        sources,
        labels,
        run,
        lambda r, result, verdict: scores_of(pipe, r.tensor, result, r.label, verdict),
        lambda r, result: _verdict(pipe, r, result),
    )


def score(pipe: Pipeline, source: Source, label: str | None = None) -> Done:
    return unwrap(next(score_each(pipe, [source], [label_of(source, label)])))


# --- encode and decode ----------------------------------------------------------------------------


def encode_each(
    pipe: Pipeline,
    sources: Sequence[Source],
    labels: Sequence[str] | None = None,
    *,
    force: bool = False,
) -> Iterator[Outcome]:
    """The code of every input (``Done.output``: (n, *latent); a variational model's mean).
    An input outside the model's domain is refused unless ``force``."""
    require(pipe, ENCODE)
    scale = 1.0 / _stride(pipe.card)

    def run(ready: list[_Ready]) -> list[np.ndarray]:
        return _grouped(pipe, pipe.model.encode, ready, scale)

    enforce = _enforce(pipe, force)

    def judge(r: _Ready, codes: np.ndarray) -> Verdict | None:
        # The check weighs the reconstruction: decoded only for models that have one.
        return None if pipe.card.domain is None else enforce(r, pipe.model.decode(codes))

    return _each(pipe, sources, labels, run, lambda r, result, _: result, judge)


def encode(
    pipe: Pipeline,
    sources: Sequence[Source],
    labels: Sequence[str] | None = None,
    *,
    force: bool = False,
) -> tuple[np.ndarray, list[str]]:
    """The codes of all inputs as one (N, *latent) array, and the label of each row; any bad
    input fails the whole call (a missing row would misalign the rest)."""
    blocks, rows = [], []
    for outcome in encode_each(pipe, sources, labels, force=force):
        done = unwrap(outcome)
        blocks.append(done.output)
        count = len(done.output)
        rows.extend([done.label] if count == 1 else [f"{done.label}[{i}]" for i in range(count)])
    shapes = {block.shape[1:] for block in blocks}
    if len(shapes) > 1:
        raise InputError(
            "inputs of different sizes give codes of different shapes "
            f"({', '.join(sorted(str(s) for s in shapes))}); encode them one file at a time"
        )
    if not blocks:
        return np.zeros((0, *(s or 0 for s in pipe.model.latent_shape)), np.float32), []
    return np.concatenate(blocks), rows


def decode(pipe: Pipeline, codes: np.ndarray, label: str = "latents") -> np.ndarray:
    """Items (N, *item) from codes (N, *latent), in the data's units."""
    require(pipe, DECODE)
    model = pipe.model
    latents = model.check_latents(codes, label)
    stride = _stride(pipe.card)
    if stride == 1 or pipe.adapter.batchable:
        return model.decode(latents, label)
    return pipe.adapter.run(
        lambda chunk: model.decode(chunk, label), latents, float(stride), stride
    )


def as_outputs(pipe: Pipeline, items: np.ndarray, label: str = "decoded") -> list[Raw]:
    """Decoded items as files would hold them: 8-bit pictures (grey or RGB), or ``.npy``
    signals."""
    outputs: list[Raw] = []
    low, high = pipe.card.data.range or (0.0, 1.0)
    for index, item in enumerate(items):
        name = f"{label}[{index}]"
        if pipe.modality == IMAGE:
            unit = (np.clip(item, low, high) - low) / (high - low)
            pixels = (unit.transpose(1, 2, 0) * 255.0 + 0.5).astype(np.uint8)
            outputs.append(Picture(np.ascontiguousarray(pixels), None, name))
        else:
            from aeinfer.signals import Signal

            outputs.append(Signal(np.asarray(item, dtype=np.float32), name))
    return outputs


# --- sample and interpolate -----------------------------------------------------------------------


@dataclass(frozen=True)
class Samples:
    """Draws from the prior: the codes (N, *latent), their decoded items, and the seed."""

    latents: np.ndarray
    items: np.ndarray
    seed: int


def sample(pipe: Pipeline, count: int, seed: int | None = None) -> Samples:
    """Decode ``count`` draws from the prior. Without ``seed`` a fresh one is drawn and
    returned, so any result can be reproduced."""
    require(pipe, SAMPLE)
    if count < 1:
        raise InputError(f"sample count must be at least 1, got {count}")
    if seed is None:
        import secrets  # only here: drawing a seed is the one use

        seed = secrets.randbelow(SEED_SPACE)
    latents = pipe.model.sample_latents(count, seed)
    return Samples(latents=latents, items=pipe.model.decode(latents), seed=seed)


def interpolate_codes(first: np.ndarray, last: np.ndarray, steps: int) -> np.ndarray:
    """``steps`` evenly spaced codes on the line from ``first`` to ``last``, both included."""
    if steps < MIN_STEPS:
        raise InputError(f"interpolation needs at least {MIN_STEPS} steps, got {steps}")
    if first.shape != last.shape:
        raise InputError(
            f"the two inputs give codes of different shapes {first.shape} and {last.shape} "
            "(inputs of different sizes); interpolate inputs of one size"
        )
    weights = np.linspace(0.0, 1.0, steps, dtype=np.float32).reshape(-1, *[1] * first.ndim)
    return ((1.0 - weights) * first + weights * last).astype(np.float32)


def interpolate(
    pipe: Pipeline,
    first: Source,
    last: Source,
    steps: int,
    labels: Sequence[str] | None = None,
    *,
    force: bool = False,
) -> np.ndarray:
    """Decode ``steps`` points on the line between two inputs' codes (for a variational model,
    the posterior means); returns (steps, *item). Inputs outside the model's domain are refused
    unless ``force``."""
    require(pipe, INTERPOLATE)
    if steps < MIN_STEPS:
        raise InputError(f"interpolation needs at least {MIN_STEPS} steps, got {steps}")
    codes = [unwrap(o).output for o in encode_each(pipe, [first, last], labels, force=force)]
    return decode(pipe, interpolate_codes(codes[0][0], codes[1][0], steps))


def side_by_side(original: Raw, restored: Raw) -> Raw:
    """The original and its result in one picture, side by side; a signal's result alone
    (arrays have no side-by-side)."""
    if not isinstance(restored, Picture) or not isinstance(original, Picture):
        return restored
    pixels = np.concatenate([original.pixels, restored.pixels.astype(original.pixels.dtype)], 1)
    alpha = None
    if original.alpha is not None or restored.alpha is not None:
        opaque = np.full(original.pixels.shape[:2], original.scale, original.pixels.dtype)
        alpha = np.concatenate(
            [
                original.alpha if original.alpha is not None else opaque,
                restored.alpha if restored.alpha is not None else opaque,
            ],
            axis=1,
        )
    return Picture(pixels, alpha, restored.label, profile=original.profile)


def source_paths(sources: Sequence[Source]) -> list[Path]:
    """The paths among ``sources`` (outputs are never written over them)."""
    return [Path(s) for s in sources if isinstance(s, (str, os.PathLike))]


__all__ = [
    "Done",
    "Failed",
    "Outcome",
    "Pipeline",
    "Samples",
    "Score",
    "as_outputs",
    "decode",
    "denoise",
    "encode",
    "encode_each",
    "interpolate",
    "interpolate_codes",
    "output_bytes",
    "pipeline",
    "reconstruct",
    "reconstruct_each",
    "require",
    "sample",
    "score",
    "score_each",
    "side_by_side",
    "unwrap",
]
