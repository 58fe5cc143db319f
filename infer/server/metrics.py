"""Prometheus metrics, counted and written by hand (text exposition format 0.0.4).

No client library: four families cover what an operator watches, and each is a few lines.

- ``aeinfer_requests_total{route,method,status}``: requests answered, by route template (never
  the raw path, so unknown URLs cannot grow the label set) and status code;
- ``aeinfer_request_duration_seconds{route}``: a histogram of the time from the request's
  arrival to the end of its response;
- ``aeinfer_batch_size{model,task}``: a histogram of the jobs each model call ran together
  (micro-batching at work: every observation is 1 when nothing is batched);
- ``aeinfer_queue_depth{model}``: a gauge of the jobs waiting in each model's queue, read when
  scraped; ``aeinfer_in_flight_requests`` the requests being answered now.

Updates come from the event loop and from the model workers' threads, so they take a lock.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping, Sequence

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)

Labels = tuple[tuple[str, str], ...]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: Labels, extra: tuple[str, str] | None = None) -> str:
    pairs = [*labels, extra] if extra else list(labels)
    if not pairs:
        return ""
    return "{" + ",".join(f'{key}="{_escape(value)}"' for key, value in pairs) + "}"


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


class Histogram:
    """Cumulative buckets, sum and count per label set."""

    def __init__(self, name: str, help_text: str, buckets: Sequence[float]) -> None:
        self.name = name
        self.help = help_text
        self.buckets = tuple(sorted(buckets))
        self._series: dict[Labels, list[float]] = {}  # bucket counts..., then sum, then count

    def observe(self, labels: Labels, value: float) -> None:
        series = self._series.setdefault(labels, [0.0] * (len(self.buckets) + 2))
        for index, bound in enumerate(self.buckets):
            if value <= bound:
                series[index] += 1
        series[-2] += value
        series[-1] += 1

    def count(self, labels: Labels) -> int:
        series = self._series.get(labels)
        return 0 if series is None else int(series[-1])

    def lines(self) -> list[str]:
        out = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        for labels, series in sorted(self._series.items()):
            for bound, count in zip(self.buckets, series, strict=False):
                le = ("le", _number(bound))
                out.append(f"{self.name}_bucket{_labels(labels, le)} {_number(count)}")
            inf = ("le", "+Inf")
            out.append(f"{self.name}_bucket{_labels(labels, inf)} {_number(series[-1])}")
            out.append(f"{self.name}_sum{_labels(labels)} {_number(series[-2])}")
            out.append(f"{self.name}_count{_labels(labels)} {_number(series[-1])}")
        return out


class Metrics:
    """The server's counters, histograms and gauges."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[Labels, int] = {}
        self._latency = Histogram(
            "aeinfer_request_duration_seconds",
            "Time from a request's arrival to the end of its response.",
            LATENCY_BUCKETS,
        )
        self._batches = Histogram(
            "aeinfer_batch_size",
            "Requests run together in one batch by a model's worker.",
            BATCH_BUCKETS,
        )
        self._in_flight = 0

    def started(self) -> None:
        with self._lock:
            self._in_flight += 1

    def finished(self, route: str, method: str, status: int, seconds: float) -> None:
        key: Labels = (("route", route), ("method", method), ("status", str(status)))
        with self._lock:
            self._in_flight -= 1
            self._requests[key] = self._requests.get(key, 0) + 1
            self._latency.observe((("route", route),), seconds)

    def batch(self, model: str, task: str, size: int) -> None:
        with self._lock:
            self._batches.observe((("model", model), ("task", task)), float(size))

    def requests(self, route: str, method: str, status: int) -> int:
        """How many requests were answered so (tests, benchmarks)."""
        key: Labels = (("route", route), ("method", method), ("status", str(status)))
        with self._lock:
            return self._requests.get(key, 0)

    def render(self, queue_depths: Callable[[], Mapping[str, int]]) -> str:
        """The exposition text; ``queue_depths`` gives the gauge's values at scrape time."""
        depths = queue_depths()
        with self._lock:
            lines = [
                "# HELP aeinfer_requests_total HTTP requests answered, by route and status.",
                "# TYPE aeinfer_requests_total counter",
            ]
            for labels, count in sorted(self._requests.items()):
                lines.append(f"aeinfer_requests_total{_labels(labels)} {count}")
            lines += self._latency.lines()
            lines += self._batches.lines()
            lines += [
                "# HELP aeinfer_in_flight_requests Requests being answered now.",
                "# TYPE aeinfer_in_flight_requests gauge",
                f"aeinfer_in_flight_requests {self._in_flight}",
            ]
        lines += [
            "# HELP aeinfer_queue_depth Jobs waiting in a model's queue.",
            "# TYPE aeinfer_queue_depth gauge",
        ]
        for model, depth in sorted(depths.items()):
            lines.append(f"aeinfer_queue_depth{_labels((('model', model),))} {depth}")
        return "\n".join(lines) + "\n"


__all__ = ["CONTENT_TYPE", "Histogram", "Metrics"]
