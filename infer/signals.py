"""Signal files in and out: ``.npy``, ``.csv`` and ``.wav`` as a :class:`Signal`, and back.

A signal is (channels, time) values. Files may hold one signal or a batch:

- ``.npy``: (T,) for one channel, (C, T), or (N, C, T); any real dtype;
- ``.csv``: one row per time step, one column per channel, an optional header row of names;
- ``.wav``: PCM, 8 to 32 bits, any channel count; samples are scaled to [−1, 1] (and written
  back at the file's own sample rate and width).

The format is told from the content (the ``.npy`` magic, a RIFF/WAVE header, else text), never
from the file name; results are written in the input's format. Errors are one
:class:`InputError` line naming the input.
"""

from __future__ import annotations

import csv
import io
import os
import wave
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from aeinfer.errors import InputError
from aeinfer.pictures import read_file

NPY = "npy"
CSV = "csv"
WAV = "wav"
SIGNAL_SUFFIXES: frozenset[str] = frozenset({".npy", ".csv", ".wav"})
"""Lowercase suffixes treated as signals when walking folders."""
SUFFIX_OF = {NPY: ".npy", CSV: ".csv", WAV: ".wav"}
NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGIC = b"PK\x03\x04"
RIFF, WAVE = b"RIFF", b"WAVE"
STDIN_LABEL = "<stdin>"
ARRAY_LABEL = "<array>"
MAX_CSV_BYTES = 256 << 20
CSV_DIGITS = "%.9g"


@dataclass(frozen=True, eq=False)
class Signal:
    """Signal values as a file held them, and what is needed to write results the same way."""

    values: np.ndarray
    """float32: (T,), (C, T) or (N, C, T), as in the file."""
    label: str
    format: str = NPY
    rate: int | None = None
    """WAV sample rate (Hz)."""
    sample_width: int | None = None
    """WAV bytes per sample."""
    header: tuple[str, ...] | None = None
    """CSV column names."""
    notes: tuple[str, ...] = ()

    def batch(self) -> np.ndarray:
        """The values as (N, C, T)."""
        values = self.values
        if values.ndim == 1:
            return values[None, None]
        if values.ndim == 2:
            return values[None]
        return values

    def like(self, batch: np.ndarray) -> Signal:
        """A signal shaped, named and formatted like this one, holding ``batch`` (N, C, T)."""
        values = batch.reshape(batch.shape[1:]) if self.values.ndim < 3 else batch
        if self.values.ndim == 1:
            values = values.reshape(-1)
        return replace(self, values=values.astype(np.float32), notes=())


def _npy(data: bytes, label: str) -> Signal:
    if data[:4] == ZIP_MAGIC:
        raise InputError(f"{label}: holds several arrays (.npz); expected one .npy array")
    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise InputError(f"{label}: not a readable .npy array ({exc})") from exc
    return Signal(as_values(array, label), label, NPY)


def as_values(array: np.ndarray, label: str) -> np.ndarray:
    """A real, finite (T,), (C, T) or (N, C, T) array as float32, or one InputError line."""
    if array.dtype.kind not in "biuf":
        raise InputError(f"{label}: values must be real numbers, got dtype {array.dtype}")
    if not 1 <= array.ndim <= 3 or array.size == 0:
        raise InputError(
            f"{label}: has shape {tuple(array.shape)}; a signal is (T,), (C, T) or (N, C, T)"
        )
    values = array.astype(np.float32)
    if not np.isfinite(values).all():
        raise InputError(f"{label}: values contain NaN or infinity")
    return values


def _csv(data: bytes, label: str) -> Signal:
    if len(data) > MAX_CSV_BYTES:
        raise InputError(f"{label}: CSV larger than {MAX_CSV_BYTES >> 20} MB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{label}: not a signal file (not .npy, .wav or UTF-8 CSV text)") from exc
    rows = [row for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)]
    if not rows:
        raise InputError(f"{label}: empty CSV")
    header: tuple[str, ...] | None = None
    try:
        [float(cell) for cell in rows[0]]
    except ValueError:
        header, rows = tuple(cell.strip() for cell in rows[0]), rows[1:]
    if not rows:
        raise InputError(f"{label}: CSV has a header but no values")
    width = len(rows[0])
    # Checked first: numpy refuses ragged rows with a ValueError of its own.
    if any(len(row) != width for row in rows):
        raise InputError(f"{label}: CSV rows have different numbers of columns")
    try:
        values = np.array([[float(cell) for cell in row] for row in rows], dtype=np.float64)
    except ValueError as exc:
        raise InputError(f"{label}: CSV holds a value that is not a number ({exc})") from exc
    if header is not None and len(header) != width:
        raise InputError(f"{label}: CSV header names {len(header)} columns, rows hold {width}")
    return Signal(as_values(values.T, label), label, CSV, header=header)


def _wav(data: bytes, label: str) -> Signal:
    try:
        with wave.open(io.BytesIO(data)) as reader:
            channels, width = reader.getnchannels(), reader.getsampwidth()
            rate, frames = reader.getframerate(), reader.readframes(reader.getnframes())
    except (wave.Error, EOFError) as exc:
        raise InputError(f"{label}: unreadable WAV ({exc})") from exc
    if width not in (1, 2, 3, 4):
        raise InputError(f"{label}: WAV with {width}-byte samples is not supported")
    usable = len(frames) // (width * channels) * width * channels
    raw = np.frombuffer(frames[:usable], dtype=np.uint8).reshape(-1, width)
    if width == 1:  # 8-bit WAV is unsigned, centred on 128
        ints = raw[:, 0].astype(np.int32) - 128
    else:
        padded = np.zeros((raw.shape[0], 4), dtype=np.uint8)
        padded[:, 4 - width :] = raw  # little-endian sample into the high bytes of an int32
        ints = padded.view("<i4")[:, 0] >> (8 * (4 - width))
    scale = float(1 << (8 * width - 1))
    values = (ints.astype(np.float64) / scale).reshape(-1, channels).T
    if values.shape[1] == 0:
        raise InputError(f"{label}: WAV holds no samples")
    return Signal(values.astype(np.float32), label, WAV, rate=rate, sample_width=width)


def read_signal(
    source: str | os.PathLike[str] | bytes | np.ndarray, label: str | None = None
) -> Signal:
    """Read a signal file, the bytes of one, or an array as a :class:`Signal`."""
    if isinstance(source, np.ndarray):
        name = label or ARRAY_LABEL
        return Signal(as_values(source, name), name, NPY)
    if isinstance(source, (bytes, bytearray, memoryview)):
        data, name = bytes(source), label or STDIN_LABEL
    elif isinstance(source, (str, os.PathLike)):
        name = label or str(source)
        data = read_file(Path(source), name)
    else:
        raise InputError(f"{source!r}: unsupported input type {type(source).__name__}")
    if not data:
        raise InputError(f"{name}: empty file")
    if data.startswith(NPY_MAGIC) or data.startswith(ZIP_MAGIC):
        return _npy(data, name)
    if data[:4] == RIFF and data[8:12] == WAVE:
        return _wav(data, name)
    return _csv(data, name)


def signal_bytes(signal: Signal) -> bytes:
    """The file bytes of ``signal`` in its own format."""
    if signal.format == WAV:
        return _wav_bytes(signal)
    if signal.format == CSV:
        batch = signal.values if signal.values.ndim == 2 else signal.batch()[0]
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        if signal.header is not None:
            writer.writerow(signal.header)
        for row in batch.T:
            writer.writerow([CSV_DIGITS % v for v in row])
        return buffer.getvalue().encode("utf-8")
    from aeinfer.atomic import npy_bytes

    return npy_bytes(signal.values)


def _wav_bytes(signal: Signal) -> bytes:
    values = signal.values if signal.values.ndim == 2 else signal.batch()[0]
    width = signal.sample_width or 2
    scale = float(1 << (8 * width - 1))
    ints = np.clip(np.round(values.T.astype(np.float64) * scale), -scale, scale - 1).astype(
        np.int64
    )
    if width == 1:
        frames = (ints + 128).astype(np.uint8).tobytes()
    else:
        # C order: ``values.T`` of a model's (C, T) result is Fortran-ordered, and numpy views a
        # non-contiguous last axis as bytes only by raising.
        little = np.ascontiguousarray(ints, dtype="<i4").view(np.uint8).reshape(-1, 4)[:, :width]
        frames = np.ascontiguousarray(little).tobytes()
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(values.shape[0])
        writer.setsampwidth(width)
        writer.setframerate(signal.rate or 16000)
        writer.writeframes(frames)
    return buffer.getvalue()


__all__ = ["SIGNAL_SUFFIXES", "Signal", "as_values", "read_signal", "signal_bytes"]
