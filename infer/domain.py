"""Is this input of the kind the model was trained on? The domain check of digit models.

A card's ``domain`` section (:class:`aeinfer.card.DomainCheck`, calibrated at export by
:mod:`aeinfer.export.domain`) weighs named figures of a prepared input: those the ink analysis
found while fitting (:mod:`aeinfer.adapters.ink`: contrast, separate marks, plain paper, …),
the share of mid-grey in the fitted frame, and the model's own reconstruction error. The score
is a quadratic logistic form over the standardised figures; at or above the card's threshold
the input is in the domain. Out of it, :func:`reason` says in words what looks wrong — no ink,
several marks, a busy background — for the one-line refusal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from aeinfer.adapters.ink import MAX_MARKS, Diagnosis, mid_grey
from aeinfer.card import DomainCheck

RECONSTRUCTION_FLOOR = 1e-6
MANY_MARKS_SHARE = 0.7
WIDE = math.log(1.8)
BUSY_PAPER = 0.55


@dataclass(frozen=True)
class Verdict:
    """The check's outcome for one input."""

    in_domain: bool
    score: float
    threshold: float
    figures: dict[str, float] = field(default_factory=dict)
    reason: str = ""


def figures(
    diagnosis: Diagnosis, frame: np.ndarray, reconstruction: np.ndarray
) -> dict[str, float]:
    """Every figure of :data:`aeinfer.adapters.ink.FEATURES` for one prepared input."""
    error = float(np.mean((reconstruction.astype(np.float64) - frame) ** 2))
    return {
        **diagnosis.figures(),
        "mid_grey": mid_grey(frame.reshape(frame.shape[-2:])),
        "reconstruction": math.log10(error + RECONSTRUCTION_FLOOR),
    }


def score(check: DomainCheck, values: dict[str, float]) -> float:
    z = (np.array([values[name] for name in check.features]) - check.centre) / np.array(check.scale)
    return float(check.bias + np.dot(check.linear, z) + np.dot(check.quadratic, z * z))


def reason(values: dict[str, float], contrast_floor: float) -> str:
    """What looks wrong, in words, from the figures that most plainly say so."""
    if values["contrast"] <= contrast_floor:
        return "no ink stands out from the paper: a blank or plain page?"
    if values["marks"] >= 2 and values["share"] < MANY_MARKS_SHARE:
        many = "many" if values["marks"] >= MAX_MARKS else f"{int(values['marks'])}"
        return f"{many} separate marks of similar size: several digits, or text?"
    if values["aspect"] > WIDE:
        return "the ink is much wider than one digit: a number or a word?"
    if values["paper"] < BUSY_PAPER:
        return "little plain paper around the ink: a photograph?"
    return "it does not look like one handwritten digit on plain paper"


def judge(check: DomainCheck, values: dict[str, float], contrast_floor: float) -> Verdict:
    value = score(check, values)
    inside = value >= check.threshold
    why = "" if inside else reason(values, contrast_floor)
    return Verdict(inside, value, check.threshold, values, why)


__all__ = ["Verdict", "figures", "judge", "reason", "score"]
