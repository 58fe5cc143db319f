"""The command line's progress bars on stderr: over the files of a job, and over the windows of
a picture run in tiles.

A bar is drawn only when stderr is a terminal (a bar in a log file is noise). The files' bar is
for jobs of many inputs (more than :data:`MANY_INPUTS`, a folder, or a URI); the windows' bar
appears once one picture needs at least :data:`WINDOWS_SHOWN` tiled windows, so a single large
photo — about 20 s at 12 megapixels on a 2-core CPU — shows its progress too. The windows are
reported by the tiles adapter through :mod:`aeinfer.progress`; rich is imported only when a bar
is drawn, so a command on one small file pays nothing for it.
"""

from __future__ import annotations

import sys
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType
from typing import Any

from aeinfer import progress
from aeinfer.progress import Progress

MANY_INPUTS = 8
"""More inputs than this (or a folder, or a URI) get a bar over the files."""
WINDOWS_SHOWN = 16
"""A picture run in at least this many tiled windows gets a bar over them (the photo model's
512-pixel tiles: about 4 megapixels and more)."""


def stderr_is_terminal() -> bool:
    """Whether stderr is a terminal (where a bar is read, not logged)."""
    return sys.stderr is not None and sys.stderr.isatty()


def many_inputs(inputs: list[Path] | list[str]) -> bool:
    """A job over more than :data:`MANY_INPUTS` inputs, a folder or a URI."""
    if len(inputs) > MANY_INPUTS or any("://" in str(item) for item in inputs):
        return True
    return any(Path(item).is_dir() for item in inputs)


class Bars:
    """A context in which files and tiled windows report to bars on stderr (see the module
    docstring); :attr:`files` is the callback a job takes, or None when no files' bar is
    drawn."""

    def __init__(self, label: str, inputs: list[Path] | list[str]) -> None:
        self._label = label
        self._terminal = stderr_is_terminal()
        self._many = self._terminal and many_inputs(inputs)
        self._stack = ExitStack()
        self._bar: Any = None
        self._files_task: Any = None
        self._windows_task: Any = None

    @property
    def files(self) -> Progress | None:
        return self._update_files if self._many else None

    def __enter__(self) -> Bars:
        if self._terminal:
            self._stack.enter_context(progress.reporting(self._update_windows))
        if self._many:
            self._files_task = self._started().add_task(self._label, total=None)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stack.close()

    def _started(self) -> Any:
        """The rich Progress, started on first use and stopped when the context closes."""
        if self._bar is None:
            from rich.console import Console
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(console=Console(stderr=True), transient=True)
            self._stack.enter_context(self._bar)
        return self._bar

    def _update_files(self, done: int, total: int) -> None:
        self._started().update(self._files_task, completed=done, total=total)

    def _update_windows(self, done: int, total: int) -> None:
        if total < WINDOWS_SHOWN:
            return
        bar = self._started()
        if self._windows_task is None:
            self._windows_task = bar.add_task(f"{self._label}, in tiles", total=total)
        # Each picture starts again from 0: the bar follows the picture being run.
        bar.update(self._windows_task, completed=done, total=total)


__all__ = ["MANY_INPUTS", "WINDOWS_SHOWN", "Bars", "many_inputs", "stderr_is_terminal"]
