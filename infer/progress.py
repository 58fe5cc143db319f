"""Progress reports: the callback type the jobs take, and a hook for work inside one call.

A job reports files done (``progress(done, total)``, passed to it). A single large photo is
long work of its own — a 12-megapixel picture takes about 20 s in tiles on a 2-core CPU — and
the tiles adapter sits several calls below the front end, so it reports its windows to a hook
instead: :func:`reporting` installs one for the calls made inside it, :func:`report` calls it.
The hook is a context variable, so a server's worker threads, which install none, report
nothing, and one front end's hook never sees another's work.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

Progress = Callable[[int, int], None]
"""``progress(done, total)``: called after each unit of work."""

_HOOK: ContextVar[Progress | None] = ContextVar("aeinfer_progress", default=None)


@contextmanager
def reporting(hook: Progress | None) -> Iterator[None]:
    """Send :func:`report` calls made inside this block to ``hook`` (None: to nothing)."""
    token = _HOOK.set(hook)
    try:
        yield
    finally:
        _HOOK.reset(token)


def report(done: int, total: int) -> None:
    """``done`` of ``total`` units of one call's work are done (a no-op without a hook)."""
    hook = _HOOK.get()
    if hook is not None:
        hook(done, total)


__all__ = ["Progress", "report", "reporting"]
