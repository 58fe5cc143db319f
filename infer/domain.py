"""Is this input of the kind the model was trained on? The domain check of digit models.

A card's ``domain`` section (:class:`aeinfer.card.DomainCheck`, calibrated at export by
:mod:`aeinfer.export.domain`) weighs named figures of a prepared input: those the ink analysis
found while fitting (:mod:`aeinfer.adapters.ink`: contrast, separate marks, plain paper, …),
the share of mid-grey in the fitted frame, and the model's own reconstruction error. The score
is a quadratic logistic form over the standardised figures; at or above the card's threshold
the input is in the domain, unless a gate says otherwise (ink running off the picture's edge,
uneven light, no clear mark). Out of it, :func:`reason` says in words what looks wrong — no
ink, several marks, a busy background — for the one-line refusal.
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
EDGE_MAX = 0.1
"""Gates beside the calibrated score, for pictures the fit scaled (28×28 inputs are MNIST's own
frame, whose strokes may touch it and whose noise reads as uneven light). More than this share
of the ink in regions touching the picture's edge is not a digit written on a sheet (a
portrait's dark clothes, an object against the sky): on scripts/domain.py's kinds of sets, none
of 340 photographed digits and 1 % of enlarged noisy MNIST digits exceed it, against 90 % of
held-out photo crops."""
UNEVEN_MAX = 0.3
"""...and light varying across the picture by more than this share of the ink's contrast is
not a sheet of paper: none of 340 photographed digits and 0.3 % of enlarged noisy MNIST digits
exceed it, against 22 % of photo crops (the cameraman's sky)."""
FAINT_MIN = 0.25
"""...and a scaled picture must show at least one mark, its ink standing out from the paper by
at least this share of the full range: a whole photograph shrunk to a thumbnail and blurred may
not (the moon at 150×100: no mark at all, yet the score accepted it). With this gate
scripts/domain.py found the digit sets' acceptance unchanged and the denoise model refusing
every thumbnail of the 33 photographs the set then held (of the 49 it holds now, one: a blurred
thumbnail of a few objects on a plain table, whose dark bottle cap is one clear mark). 28×28
inputs are exempt: heavy noise can hide every mark of a real MNIST digit there."""


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
    if not values.get("framed", 1.0) and (values["marks"] < 1 or values["contrast"] < FAINT_MIN):
        return "no mark stands out clearly from the background: a faint or smooth photograph?"
    if not values.get("framed", 1.0) and values["edge"] > EDGE_MAX:
        return "the ink runs off the picture's edge: a photograph, or a digit cropped too tight?"
    if not values.get("framed", 1.0) and values["unevenness"] > UNEVEN_MAX:
        return "the light varies more than on a sheet of paper: a photograph?"
    if values["marks"] >= 2 and values["share"] < MANY_MARKS_SHARE:
        many = "many" if values["marks"] >= MAX_MARKS else f"{int(values['marks'])}"
        return f"{many} separate marks of similar size: several digits, or text?"
    if values["aspect"] > WIDE:
        return "the ink is much wider than one digit: a number or a word?"
    if values["paper"] < BUSY_PAPER:
        return "little plain paper around the ink: a photograph?"
    return "it does not look like one handwritten digit on plain paper"


def gated(values: dict[str, float]) -> bool:
    """Whether a picture the fit scaled fails a gate (:data:`EDGE_MAX`, :data:`UNEVEN_MAX`,
    :data:`FAINT_MIN`)."""
    if values.get("framed", 1.0):
        return False
    faint = values["marks"] < 1 or values["contrast"] < FAINT_MIN
    return faint or values["edge"] > EDGE_MAX or values["unevenness"] > UNEVEN_MAX


def judge(check: DomainCheck, values: dict[str, float], contrast_floor: float) -> Verdict:
    value = score(check, values)
    inside = value >= check.threshold and not gated(values)
    why = "" if inside else reason(values, contrast_floor)
    return Verdict(inside, value, check.threshold, values, why)


__all__ = [
    "EDGE_MAX",
    "FAINT_MIN",
    "UNEVEN_MAX",
    "Verdict",
    "figures",
    "gated",
    "judge",
    "reason",
    "score",
]
