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
one :class:`~aeinfer.errors.ModelIntegrityError`.
"""

from __future__ import annotations

from aeinfer.adapters.base import Adapter, Params, parse_params
from aeinfer.adapters.image import ImageAdapter
from aeinfer.adapters.mnist_digit import MnistDigit
from aeinfer.adapters.signal import SignalAdapter
from aeinfer.adapters.tiles import Tiles
from aeinfer.card import Card, Problems
from aeinfer.errors import ModelIntegrityError

ADAPTERS: dict[str, type[Adapter]] = {
    cls.name: cls for cls in (MnistDigit, ImageAdapter, Tiles, SignalAdapter)
}


def adapter_for(card: Card) -> Adapter:
    """The adapter the card's preparation names, with its parameters parsed and checked."""
    label = f"model {card.name!r}"
    prep = card.preparation
    cls = ADAPTERS.get(prep.adapter)
    if cls is None:
        raise ModelIntegrityError(
            f"{label}: unknown preparation adapter {prep.adapter!r}; this aeinfer has "
            f"{', '.join(ADAPTERS)}"
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


__all__ = ["ADAPTERS", "Adapter", "Params", "adapter_for"]
