"""``signal``: 1-D data as (channels, time) items, and results in the input's own form.

A signal file (see :mod:`aeinfer.signals`) holds one signal — (T,) for one channel, or (C, T) —
or a batch (N, C, T). :meth:`SignalAdapter.prepare` gives it as an (N, C, T) batch in the data's
own units; the model checks its channels, length and value range against the card and names the
file in any refusal. :meth:`SignalAdapter.restore` gives results the input's shape and format
(a ``.wav`` result is written back at the input's sample rate and width).
"""

from __future__ import annotations

import numpy as np

from aeinfer.adapters.base import Adapter
from aeinfer.card import SIGNAL, Card, Problems
from aeinfer.errors import InputError
from aeinfer.signals import Signal


class SignalAdapter(Adapter):
    """Signals as they are (see the module docstring)."""

    name = "signal"
    version = 1
    modality = SIGNAL

    @classmethod
    def problems(cls, card: Card, params: object, problems: Problems) -> None:
        if card.data.modality != SIGNAL:
            problems.add(
                "preparation",
                f"the signal adapter takes signals; the card's item is a {card.data.modality}",
            )

    def prepare(self, raw: Signal) -> tuple[np.ndarray, Signal]:
        batch = raw.batch()
        axes = self.card.data.axes
        fits = all(
            (a.size is None and size % a.multiple_of == 0) or size == a.size
            for a, size in zip(axes, batch.shape[1:], strict=True)
        )
        if not fits:
            item = "(" + ", ".join(a.describe() for a in axes) + ")"
            raise InputError(
                f"{raw.label}: has shape {tuple(raw.values.shape)}; model {self.card.name!r} "
                f"takes signals of shape {item}, or a batch (N, {item[1:]}"
            )
        return batch, raw

    def restore(self, result: np.ndarray, state: Signal) -> Signal:
        return state.like(np.asarray(result, dtype=np.float32))


__all__ = ["SignalAdapter"]
