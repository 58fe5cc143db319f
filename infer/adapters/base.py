"""What every preparation adapter is: parameters parsed from the card, prepare and restore.

An adapter turns what a user has (a :class:`~aeinfer.pictures.Picture` or a
:class:`~aeinfer.signals.Signal`) into a batch of items the model takes —
``prepare(raw) → (tensor, state)`` — and a result back into the input's size and kind —
``restore(result, state) → raw``. Its numbers come from the card's ``preparation.params``,
parsed into the adapter's frozen :class:`Params` dataclass (unknown keys, wrong types and values
the card's shapes contradict are all reported together). ``run`` applies a model function to a
prepared tensor: whole, by default; the ``tiles`` adapter overrides it.
"""

from __future__ import annotations

import math
import types
import typing
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, fields
from typing import Any, ClassVar, get_type_hints

import numpy as np

from aeinfer.card import IMAGE, Card, Problems

ModelFunction = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Params:
    """An adapter without parameters."""


def _accepts(value: Any, hint: Any) -> Any:
    """``value`` converted to ``hint`` (int, float, str, bool, tuple[float, ...] and
    ``X | None``), or raise ValueError."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        hint = next(h for h in options if h is not type(None))
        origin = typing.get_origin(hint)
    if origin is tuple:
        (element, _) = typing.get_args(hint)
        if not isinstance(value, (list, tuple)) or not value:
            raise ValueError("expected a non-empty list")
        return tuple(_accepts(v, element) for v in value)
    if hint is bool:
        if not isinstance(value, bool):
            raise ValueError("expected true or false")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("expected an integer")
        return value
    if hint is float:
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
        ):
            raise ValueError("expected a finite number")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ValueError("expected a string")
        return value
    raise ValueError(f"unsupported parameter type {hint}")


def parse_params(cls: type[Params], data: Mapping[str, Any], problems: Problems) -> Any:
    """``data`` as an instance of the parameter dataclass ``cls``; problems are recorded."""
    hints = get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    for key in sorted(set(data) - known):
        problems.add(
            f"preparation.params.{key}",
            f"unknown parameter; valid: {', '.join(sorted(known)) or 'none'}",
        )
    values: dict[str, Any] = {}
    for f in fields(cls):
        if f.name not in data:
            if f.default is MISSING and f.default_factory is MISSING:
                problems.add(f"preparation.params.{f.name}", "missing")
            continue
        try:
            values[f.name] = _accepts(data[f.name], hints[f.name])
        except ValueError as exc:
            problems.add(f"preparation.params.{f.name}", f"{exc}, got {data[f.name]!r}")
            continue
        choices = f.metadata.get("choices")
        if choices and values[f.name] not in choices:
            problems.add(
                f"preparation.params.{f.name}",
                f"{values[f.name]!r} is not one of {', '.join(map(str, choices))}",
            )
    try:
        return cls(**values)
    except TypeError:  # a missing required value, already recorded
        return None


class Adapter(ABC):
    """Base class of the preparation adapters (see the module docstring)."""

    name: ClassVar[str]
    version: ClassVar[int] = 1
    modality: ClassVar[str] = IMAGE
    Params: ClassVar[type[Params]] = Params
    batchable: ClassVar[bool] = True
    """Whether prepared tensors of several inputs may be stacked into one model call."""

    def __init__(self, card: Card, params: Any) -> None:
        self.card = card
        self.params = params

    @classmethod  # noqa: B027 - a default that records nothing, not an abstract method
    def problems(cls, card: Card, params: Any, problems: Problems) -> None:
        """Record where ``params`` contradict ``card`` (sizes, channels, free axes); every
        adapter that has shapes to agree with overrides it."""

    @abstractmethod
    def prepare(self, raw: Any) -> tuple[np.ndarray, Any]:
        """A user's input as a batch of items (n, *item) in the data's units, and the state
        :meth:`restore` needs."""

    @abstractmethod
    def restore(self, result: np.ndarray, state: Any) -> Any:
        """A model result (n, *item) mapped back to the input's size and kind."""

    def restore_denoised(self, result: np.ndarray, state: Any) -> Any:
        """A denoised result mapped back: :meth:`restore`, unless the adapter can bring back
        detail the model's frame could not hold (``mnist_digit`` at a user's larger size)."""
        return self.restore(result, state)

    def notes(self, state: Any) -> tuple[str, ...]:
        """What preparing an input had to tell the user (e.g. "no ink found")."""
        return ()

    def original(self, state: Any) -> Any:
        """The input as a result would be written (for side-by-side pictures)."""
        return state

    def run(
        self,
        fn: ModelFunction,
        batch: np.ndarray,
        scale: float = 1.0,
        unit: int = 1,
        in_place: bool = False,
    ) -> np.ndarray:
        """``fn`` applied to a prepared batch, whole. ``scale`` is the ratio of ``fn``'s output
        size to its input size along free axes (1 reconstruct, 1/stride encode, stride decode)
        and ``unit`` the input pixels one element of ``batch`` spans; ``in_place``: the caller
        no longer needs ``batch``, which may be written over with the result. Only an adapter
        that cuts the batch (``tiles``) needs them."""
        return fn(batch)


__all__ = ["Adapter", "ModelFunction", "Params", "parse_params"]
