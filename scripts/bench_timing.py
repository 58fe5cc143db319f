"""Timing helpers shared by the benchmark scripts: interleaved rounds, per-call latencies.

Each backend (or device, or precision) is timed in rounds of about ``budget`` seconds, the order
alternating from round to round so that drift of the machine's speed falls on all alike; the
report is images/s over all timed calls, and median and p99 latency per call.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

MIN_CALLS_PER_ROUND = 2
WARMUP_CALLS = 3
P99 = 99.0
MS = 1e3


# --- timing --------------------------------------------------------------------------------
@dataclass
class Timing:
    """Per-call latencies of one backend at one batch size."""

    batch: int
    seconds: list[float] = field(default_factory=list)

    @property
    def images_per_s(self) -> float:
        return self.batch * len(self.seconds) / sum(self.seconds)

    @property
    def median_ms(self) -> float:
        return float(np.median(self.seconds)) * MS

    @property
    def p99_ms(self) -> float:
        return float(np.percentile(self.seconds, P99)) * MS


def _time_round(call: Callable[[], Any], timing: Timing, budget: float) -> None:
    start = time.perf_counter()
    calls = 0
    while calls < MIN_CALLS_PER_ROUND or time.perf_counter() - start < budget:
        t0 = time.perf_counter()
        call()
        timing.seconds.append(time.perf_counter() - t0)
        calls += 1


def interleaved(
    calls: dict[str, Callable[[], Any]], batch: int, rounds: int, budget: float
) -> dict[str, Timing]:
    """Time each call in ``rounds`` rounds of about ``budget`` seconds each, alternating which
    backend goes first, after a few warm-up calls."""
    timings = {name: Timing(batch) for name in calls}
    for call in calls.values():
        for _ in range(WARMUP_CALLS):
            call()
    order = list(calls)
    for index in range(rounds):
        for name in order if index % 2 == 0 else order[::-1]:
            _time_round(calls[name], timings[name], budget)
    return timings
