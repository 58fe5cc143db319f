"""Dynamic micro-batching: one worker thread per model, fed by a bounded queue of jobs.

A request becomes a :class:`Job` with a *key* (the task and everything that must agree for
jobs to share one model call: the precision, the output format) and a *runner*, the function
that does a list of such jobs at once. The model's worker takes the oldest job, then gathers
every queued job with the same key, up to ``max_batch`` jobs, waiting at most ``max_wait``
seconds for more to arrive while the batch is not full (the server's default is not to wait:
a batch is then what queued while the model was busy); jobs with another key stay queued, in
order, for the next batch. So under load the requests that arrive while the model is busy run
together as one list through :mod:`aeinfer.exchange` (one ONNX Runtime call for inputs of one
shape), and a lone request waits ``max_wait`` at most.

The event loop never runs a model: it submits a job and awaits its
:class:`concurrent.futures.Future`. A job whose request gave up (timed out) is cancelled and
skipped if it has not started, and frees its place in the queue at once. The queue is bounded
(``max_queue`` jobs waiting per model): past that :meth:`Worker.submit` raises
:class:`QueueFull` at once, which the server answers with 503 and Retry-After, instead of
letting latency grow without bound. :meth:`Batcher.stop` lets every worker finish the jobs
already queued, then ends it (graceful shutdown).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

Runner = Callable[[Sequence[Any]], Sequence[Any]]
"""Does a batch: one payload per job in, one result per job out, in order; a result that is an
exception instance fails that job alone; a runner that raises fails the whole batch."""
BatchObserver = Callable[[str, str, int], None]
"""Called with (model, task, jobs) for every batch run (metrics)."""


class QueueFull(Exception):
    """A model's queue holds ``max_queue`` jobs already; the request should come back later."""


class Stopped(Exception):
    """The server is shutting down and takes no new jobs."""


@dataclass(eq=False)
class Job:
    """One request's share of a batch."""

    key: Hashable
    task: str
    runner: Runner
    payload: Any
    future: Future[Any] = field(default_factory=Future)


class Worker:
    """One model's queue and the thread that runs its batches."""

    def __init__(
        self,
        name: str,
        *,
        max_batch: int,
        max_wait: float,
        max_queue: int,
        observe: BatchObserver | None = None,
    ) -> None:
        self.name = name
        self.max_batch = max(1, max_batch)
        self.max_wait = max(0.0, max_wait)
        self.max_queue = max(1, max_queue)
        self._observe = observe
        self._queue: deque[Job] = deque()
        self._ready = threading.Condition()
        self._stopping = False
        self._busy = False
        self._thread = threading.Thread(target=self._loop, name=f"aeinfer-{name}", daemon=True)
        self._thread.start()

    @property
    def depth(self) -> int:
        """Jobs waiting (not yet taken into a batch) whose requests still wait for them."""
        with self._ready:
            self._drop_cancelled()
            return len(self._queue)

    @property
    def busy(self) -> bool:
        with self._ready:
            return self._busy

    def submit(self, key: Hashable, task: str, runner: Runner, payload: Any) -> Future[Any]:
        """Queue a job and return its future; QueueFull or Stopped at once if it cannot."""
        job = Job(key, task, runner, payload)
        with self._ready:
            if self._stopping:
                raise Stopped(f"model {self.name!r} is shutting down")
            self._drop_cancelled()  # a request that gave up frees its place at once
            if len(self._queue) >= self.max_queue:
                raise QueueFull(
                    f"model {self.name!r} has {len(self._queue)} requests queued "
                    f"(--max-queue {self.max_queue}); try again shortly"
                )
            self._queue.append(job)
            self._ready.notify()
        return job.future

    def stop(self, timeout: float | None = None) -> None:
        """Take no new jobs, finish the queued ones, then end the thread."""
        with self._ready:
            self._stopping = True
            self._ready.notify_all()
        self._thread.join(timeout)

    def _drop_cancelled(self) -> None:
        """Forget queued jobs whose requests gave up (the lock is held)."""
        if any(job.future.cancelled() for job in self._queue):
            self._queue = deque(job for job in self._queue if not job.future.cancelled())

    # --- the thread ---------------------------------------------------------------------------

    def _take_same(self, key: Hashable, batch: list[Job]) -> None:
        """Move queued jobs with ``key`` into ``batch`` (oldest first) until it is full;
        cancelled jobs are dropped on the way."""
        kept: deque[Job] = deque()
        while self._queue:
            job = self._queue.popleft()
            if len(batch) < self.max_batch and job.key == key:
                if job.future.set_running_or_notify_cancel():
                    batch.append(job)
            else:
                kept.append(job)
        self._queue = kept

    def _next_batch(self) -> list[Job] | None:
        """The next batch (None once stopping with nothing left)."""
        with self._ready:
            while True:
                while not self._queue and not self._stopping:
                    self._ready.wait()
                if not self._queue:
                    return None
                first = self._queue.popleft()
                if not first.future.set_running_or_notify_cancel():
                    continue  # its request gave up while it was queued
                batch = [first]
                deadline = time.monotonic() + self.max_wait
                while True:
                    self._take_same(first.key, batch)
                    remaining = deadline - time.monotonic()
                    if len(batch) >= self.max_batch or remaining <= 0 or self._stopping:
                        break
                    self._ready.wait(remaining)
                self._busy = True
                return batch

    def _loop(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            try:
                self._run(batch)
            finally:
                with self._ready:
                    self._busy = False

    def _run(self, batch: list[Job]) -> None:
        if self._observe is not None:
            self._observe(self.name, batch[0].task, len(batch))
        try:
            results = list(batch[0].runner([job.payload for job in batch]))
            if len(results) != len(batch):
                raise RuntimeError(f"runner gave {len(results)} results for {len(batch)} jobs")
        except BaseException as exc:  # a failing runner fails its batch, never the worker
            for job in batch:
                job.future.set_exception(exc)
            return
        for job, result in zip(batch, results, strict=True):
            if isinstance(result, BaseException):
                job.future.set_exception(result)
            else:
                job.future.set_result(result)


class Batcher:
    """The workers of every served model, made when first needed."""

    def __init__(
        self,
        *,
        max_batch: int,
        max_wait: float,
        max_queue: int,
        observe: BatchObserver | None = None,
    ) -> None:
        self._settings = {"max_batch": max_batch, "max_wait": max_wait, "max_queue": max_queue}
        self._observe = observe
        self._workers: dict[str, Worker] = {}
        self._lock = threading.Lock()
        self._stopped = False

    def worker(self, model: str) -> Worker:
        with self._lock:
            if self._stopped:
                raise Stopped("the server is shutting down")
            if model not in self._workers:
                self._workers[model] = Worker(model, observe=self._observe, **self._settings)
            return self._workers[model]

    def submit(
        self, model: str, key: Hashable, task: str, runner: Runner, payload: Any
    ) -> Future[Any]:
        return self.worker(model).submit(key, task, runner, payload)

    def depths(self) -> dict[str, int]:
        """Jobs waiting per model."""
        with self._lock:
            workers = list(self._workers.values())
        return {worker.name: worker.depth for worker in workers}

    def stop(self, timeout: float | None = None) -> None:
        """Stop every worker after it has run what is queued (graceful shutdown)."""
        with self._lock:
            self._stopped = True
            workers = list(self._workers.values())
        for worker in workers:
            worker.stop(timeout)


__all__ = ["Batcher", "Job", "QueueFull", "Runner", "Stopped", "Worker"]
