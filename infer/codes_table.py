"""Codes as Parquet rows ``(path, item, code)``: ``encode -o latents.parquet``, on one machine
and on a Ray cluster alike, and ``decode latents.parquet``.

One row per item (a signal file holding N items gives N rows, ``item`` 0..N-1); ``code`` is the
flattened latent, its shape in the schema's metadata (``aeinfer.latent_shape``, JSON) beside the
model's name (``aeinfer.model``), so the file reads back into (N, *latent) without the model.
Rows are keyed by path, so an input that fails leaves no gap that would misalign the others;
the job reports it. pyarrow is imported here only: it comes with the ``[ray]`` extra.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from aeinfer.atomic import check_target
from aeinfer.errors import InputError, OutputError
from aeinfer.optional import require

PARQUET = ".parquet"
PARQUET_MAGIC = b"PAR1"
PATH, ITEM, CODE = "path", "item", "code"
SHAPE_KEY = b"aeinfer.latent_shape"
MODEL_KEY = b"aeinfer.model"
PYARROW_HINT = "Parquet needs pyarrow: pip install 'aeinfer[ray]' (or pyarrow)"


def import_pyarrow() -> ModuleType:
    """pyarrow (with its Parquet module), or RuntimeMissingError naming what to install."""
    return require("pyarrow", PYARROW_HINT, "pyarrow.parquet")


def is_parquet(name: str | os.PathLike[str]) -> bool:
    return str(name).lower().endswith(PARQUET)


def schema(model: str, latent_shape: Sequence[int]) -> Any:
    """The codes table's schema, carrying the latent shape and the model's name."""
    pa = import_pyarrow()
    return pa.schema(
        [(PATH, pa.string()), (ITEM, pa.int32()), (CODE, pa.list_(pa.float32()))],
        metadata={SHAPE_KEY: json.dumps(list(latent_shape)).encode(), MODEL_KEY: model.encode()},
    )


def rows(path: str, codes: np.ndarray, table_schema: Any) -> Any:
    """The rows of one input's codes (n, *latent) as a table of ``table_schema``."""
    pa = import_pyarrow()
    flat = np.ascontiguousarray(codes, np.float32).reshape(len(codes), -1)
    return pa.table(
        {
            PATH: pa.array([path] * len(flat), pa.string()),
            ITEM: pa.array(np.arange(len(flat), dtype=np.int32)),
            CODE: pa.array(list(flat), pa.list_(pa.float32())),
        },
        schema=table_schema,
    )


@contextlib.contextmanager
def writer(
    output: Path, table_schema: Any, inputs: Sequence[Path] = (), *, overwrite: bool = False
) -> Iterator[Any]:
    """A ParquetWriter into a temporary file beside ``output``, moved into place only when
    the block ends without an error: a job that fails leaves no partial file, and ``output``
    is never one of ``inputs``."""
    pa = import_pyarrow()
    import pyarrow.parquet as pq

    check_target(output, inputs, overwrite)
    try:
        fd, name = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".tmp", dir=output.parent)
    except OSError as exc:
        raise OutputError(f"{output}: cannot write ({exc.strerror})") from exc
    os.close(fd)
    tmp = Path(name)
    try:
        with pq.ParquetWriter(str(tmp), table_schema) as sink:
            yield sink
        os.replace(tmp, output)
    except (OSError, pa.ArrowException) as exc:
        raise OutputError(f"{output}: cannot write ({exc})") from exc
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def read(data: bytes, label: str) -> tuple[np.ndarray, list[str]]:
    """Codes (N, *latent) and the label of each row (``path`` or ``path[i]``) from the bytes
    of a codes table."""
    import_pyarrow()
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(io.BytesIO(data))
    except (OSError, ValueError) as exc:
        raise InputError(f"{label}: not a readable Parquet file ({exc})") from exc
    meta = table.schema.metadata or {}
    missing = [c for c in (PATH, ITEM, CODE) if c not in table.column_names]
    if missing or SHAPE_KEY not in meta:
        raise InputError(
            f"{label}: not a codes table written by `aeinfer encode` (needs columns path, item, "
            "code and the latent shape in its metadata)"
        )
    shape = tuple(int(v) for v in json.loads(meta[SHAPE_KEY]))
    flat = table.column(CODE).to_pylist()
    width = int(np.prod(shape)) if shape else 0
    if any(value is None or len(value) != width for value in flat):
        raise InputError(f"{label}: a code does not have the {width} values of shape {shape}")
    codes = np.asarray(flat, np.float32).reshape(len(flat), *shape)
    paths, items = table.column(PATH).to_pylist(), table.column(ITEM).to_pylist()
    counts: dict[str, int] = {}
    for path in paths:
        counts[path] = counts.get(path, 0) + 1
    labels = [p if counts[p] == 1 else f"{p}[{i}]" for p, i in zip(paths, items, strict=True)]
    return codes, labels


__all__ = ["PARQUET", "import_pyarrow", "is_parquet", "read", "rows", "schema", "writer"]
