"""Preparation adapters, registered by name: how a user's input becomes a model's item.

The card names one (``preparation.adapter``, with a version and parameters):

- ``mnist_digit`` — one digit fitted into the MNIST frame and mapped back
  (:mod:`aeinfer.adapters.mnist_digit`);
- ``image`` — fixed-size image models: resize or letterbox, channels converted, mapped back to
  the input's size and mode (:mod:`aeinfer.adapters.image`);
- ``tiles`` — fully convolutional image models at native resolution, in seamless overlapping
  tiles (:mod:`aeinfer.adapters.tiles`);
- ``signal`` — 1-D (channels, time) data from ``.npy``, ``.csv`` or ``.wav``
  (:mod:`aeinfer.adapters.signal`).

:func:`adapter_for` checks a card's preparation — a known name, a version this aeinfer reads,
parameters of the right types that agree with the card's shapes — and reports every problem in
one :class:`~aeinfer.errors.ModelIntegrityError`. An adapter's module is imported when a card
names it (a digit model's command never loads the signal reader); ``ADAPTERS`` imports them all.
"""

from __future__ import annotations

import importlib
from typing import Any

from aeinfer.adapters.base import Adapter, Params, parse_params
from aeinfer.card import Card, Problems
from aeinfer.errors import ModelIntegrityError

REGISTRY: dict[str, tuple[str, str]] = {
    "mnist_digit": ("aeinfer.adapters.mnist_digit", "MnistDigit"),
    "image": ("aeinfer.adapters.image", "ImageAdapter"),
    "tiles": ("aeinfer.adapters.tiles", "Tiles"),
    "signal": ("aeinfer.adapters.signal", "SignalAdapter"),
}
"""Adapter name → (module, class)."""


def adapter_class(name: str) -> type[Adapter] | None:
    """The adapter class registered as ``name`` (its module imported now), or None."""
    if name not in REGISTRY:
        return None
    module, attribute = REGISTRY[name]
    return getattr(importlib.import_module(module), attribute)


def __getattr__(name: str) -> Any:
    if name == "ADAPTERS":  # every adapter class by name (imports them all)
        return {key: adapter_class(key) for key in REGISTRY}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def adapter_for(card: Card) -> Adapter:
    """The adapter the card's preparation names, with its parameters parsed and checked."""
    label = f"model {card.name!r}"
    prep = card.preparation
    cls = adapter_class(prep.adapter)
    if cls is None:
        raise ModelIntegrityError(
            f"{label}: unknown preparation adapter {prep.adapter!r}; this aeinfer has "
            f"{', '.join(REGISTRY)}"
        )
    if prep.version > cls.version:
        raise ModelIntegrityError(
            f"{label}: preparation {prep.adapter!r} version {prep.version} is newer than this "
            f"aeinfer's ({cls.version}); upgrade aeinfer"
        )
    problems = Problems()
    params = parse_params(cls.Params, prep.params, problems)
    if params is not None:
        cls.problems(card, params, problems)
    problems.raise_if_any(label)
    return cls(card, params)


__all__ = ["ADAPTERS", "REGISTRY", "Adapter", "Params", "adapter_class", "adapter_for"]
