"""Writing output files so that nothing is ever half-written, lost or written over an input.

Every output goes to a temporary file in the target's folder, is flushed and ``fsync``-ed, then
renamed into place (``os.replace``), and the folder is synced. Before that the target is
checked: it must not be one of the job's inputs, a folder, or (without ``overwrite``) an
existing file, and its folder must exist and be writable. Failures are one
:class:`OutputError` line naming the target; no temporary file is left behind.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from aeinfer.errors import OutputError

NPY_SUFFIX = ".npy"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0].strip() if text else "") or type(exc).__name__


def file_key(path: Path) -> object:
    """What identifies a file: (device, inode) where it exists, else its resolved path."""
    try:
        found = path.stat()
        return (found.st_dev, found.st_ino)
    except OSError:
        return path.resolve()


def input_keys(inputs: Sequence[Path]) -> frozenset[object]:
    """The :func:`file_key` of every input, computed once for a job that writes many outputs
    (checking each output against every input path would be quadratic: 2000 files took 150 s)."""
    return frozenset(file_key(Path(p)) for p in inputs)


def check_target(
    path: Path, inputs: Sequence[Path] | frozenset[object] = (), overwrite: bool = False
) -> None:
    """Raise OutputError unless ``path`` may be written (see the module docstring).
    ``inputs``: the job's input paths, or their :func:`input_keys`."""
    keys = inputs if isinstance(inputs, frozenset) else input_keys(inputs)
    if file_key(path) in keys:
        raise OutputError(f"{path}: output path is the same as an input; refusing to overwrite it")
    if path.is_dir():
        raise OutputError(f"{path}: is a directory, expected a file name")
    if path.exists() and not overwrite:
        raise OutputError(f"{path}: exists (pass --overwrite)")
    parent = path.parent
    if not parent.is_dir():
        raise OutputError(f"{path}: cannot write (folder {parent} does not exist)")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{path}: cannot write (permission denied on {parent})")


def _file_mode(path: Path) -> int:
    """Permissions for the new file: the old file's, else 0o666 less the umask."""
    with contextlib.suppress(OSError):
        return path.stat().st_mode & 0o7777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_bytes_atomic(
    data: bytes,
    path: Path,
    *,
    inputs: Sequence[Path] | frozenset[object] = (),
    overwrite: bool = False,
) -> None:
    """Write ``data`` to ``path`` atomically, after :func:`check_target`."""
    path = Path(path)
    check_target(path, inputs, overwrite)
    mode = _file_mode(path)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write ({exc.strerror or _first_line(exc)})") from exc
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError):
            raise OutputError(f"{path}: cannot write ({exc.strerror or _first_line(exc)})") from exc
        raise
    with contextlib.suppress(OSError):
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def npy_bytes(array: np.ndarray) -> bytes:
    """An array as the bytes of a ``.npy`` file (never pickled)."""
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


__all__ = [
    "check_target",
    "file_key",
    "input_keys",
    "npy_bytes",
    "write_bytes_atomic",
]
