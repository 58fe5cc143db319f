"""aeinfer's batch jobs on a Ray cluster (Ray Data): denoise, reconstruct, encode and score
millions of files over an actor pool, with the single-machine job's rules.

This is a front end beside :mod:`aeinfer.jobs`; it schedules nothing itself. The driver plans
every output exactly as the single-machine job does (:func:`aeinfer.inputs.plan_outputs`: the
same names, the same refusal to lose a result, existing outputs skipped unless ``overwrite``),
then hands Ray Data a dataset of rows ``(path, target)``. :func:`build` maps it in batches over
an actor pool (``map_batches``); each actor loads the model once, with ONNX Runtime's threads set
to the CPUs Ray gave it (and on CUDA when it was given a GPU), reads each input, calls the same
task functions (:mod:`aeinfer.tasks`) and writes each output atomically, returning one status
row per input (per item for encode and score). The driver streams those rows back into the
job's report, or into a codes table (``encode -o latents.parquet``).

Fault tolerance is Ray Data's: an actor that dies is restarted and its batch retried on
another (its actor pools default to ``max_restarts`` and ``max_task_retries`` of -1;
``tests/test_cluster.py`` kills one mid-job). A retried batch rewrites the same outputs
atomically, so each output ends up written once, whole, with nothing lost. A bad file is a
``failed`` row with its one-line message, never a failed job.

The Python entry point works on any Ray dataset with a ``path`` column and, for files read by
Ray (``ray.data.read_binary_files(..., include_paths=True)``, or Parquet with those columns),
a ``bytes`` column::

    import ray, aeinfer.cluster as cl
    ds = ray.data.read_binary_files("s3://bucket/photos/", include_paths=True)
    out = cl.build(ds, cl.Work("denoise", "photo"))   # rows: path, status, result (PNG bytes)
    out.write_parquet("s3://bucket/denoised/")

Inputs and outputs may be local paths (shared by every node on a real cluster) or URIs that
pyarrow's filesystem layer understands (``s3://``, ``gs://``, ``hdfs://``, ``file://``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from types import ModuleType
from typing import Any

from aeinfer import codes_table
from aeinfer.card import DENOISE, ENCODE, IMAGE, RECONSTRUCT, SCORE
from aeinfer.errors import AeinferError, InputError, OutputError, RuntimeMissingError
from aeinfer.inputs import is_previous_output, plan_outputs
from aeinfer.names import FP32
from aeinfer.optional import require
from aeinfer.progress import Progress

LOCAL = "local"
"""``--ray local``: start a Ray cluster on this machine for the job (all its CPUs)."""
RAY_HINT = "Ray Data is not installed: pip install 'aeinfer[ray]'"
TASKS = (DENOISE, RECONSTRUCT, ENCODE, SCORE)
PER_FILE = (DENOISE, RECONSTRUCT)
WRITTEN, DONE, FAILED = "written", "done", "failed"
"""Row statuses: an output file written, a result returned in the row, an input that failed."""
PNG = ".png"
DEFAULT_BATCH = 16
"""Inputs per ``map_batches`` call for fixed-size models: large enough to keep an actor busy
between batches, small enough that a retried batch (after an actor dies) redoes little."""
FREE_SIZE_BATCH = 1
"""Inputs per call for models that take any size (the photo denoiser): each file is a whole
photograph, seconds of work, so one per batch spreads a folder over every actor (16 photos in
one 16-file batch kept a second actor idle)."""
URI_MARK = "://"
BACKEND_LOG_LEVEL = "RAY_BACKEND_LOG_LEVEL"
STDERR_FD = 2


def is_uri(name: str) -> bool:
    return URI_MARK in name


def import_ray() -> ModuleType:
    """ray (with Ray Data), or RuntimeMissingError naming the extra to install."""
    return require("ray", RAY_HINT, "ray.data")


@dataclass(frozen=True)
class Cluster:
    """Where and how wide a job runs."""

    address: str = LOCAL
    """``local`` (a cluster started for the job on this machine), ``auto`` (the one
    ``ray start`` or ``RAY_ADDRESS`` names) or an address (``ray://head:10001``)."""
    actors: int | None = None
    """Actors in the pool; default: as many as the cluster's CPUs allow (``cpus_per_actor``
    each; on a dataset with a read stage, :func:`build` lets the pool grow to that), and
    never more than there are batches."""
    cpus_per_actor: int = 1
    gpus_per_actor: float = 0.0
    """Above 0, each actor runs its model on CUDA (and refuses to start without it)."""
    batch_size: int | None = None
    """Inputs per batch; default :data:`DEFAULT_BATCH`, or :data:`FREE_SIZE_BATCH` for a model
    with free spatial axes (see :func:`batch_size`)."""


@dataclass(frozen=True)
class Work:
    """What each actor does: a task with a model (a bundled name, or a directory every node
    can read), and the task's options."""

    task: str
    model: str
    precision: str = FP32
    """The graphs both models run, the route's included."""
    force: bool = False
    route: str | None = None
    """Denoise: the model for inputs the first one's domain check refuses (the CLI's auto)."""
    side_by_side: bool = False
    """Per-file results with the original beside them (``reconstruct --per-file``)."""
    ensemble: bool = False
    """Average the 8 flips and rotations (:mod:`aeinfer.ensemble`): the route's model when
    there is one (the digit model is not trained on rotations), else the model's."""


@contextlib.contextmanager
def _native_stderr_silenced(silence: bool) -> Iterator[None]:
    """File descriptor 2 pointed at the null device for the block (native code writes there
    directly, past ``sys.stderr``), then restored."""
    if not silence:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(STDERR_FD)
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, STDERR_FD)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, STDERR_FD)
        os.close(saved)
        os.close(null)


def connect(address: str = LOCAL) -> None:
    """Join (``address``) or start (``local``) a Ray cluster, unless this process already
    has one (a test or an application may start its own with ``ray.init``)."""
    ray = import_ray()
    if ray.is_initialized():
        return
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # the front end shows its own progress
    # Ray Data logs every execution on the driver, and Ray's core worker warns on stderr that
    # restartable actors keep their arguments in the object store; a command line shows its
    # own lines (set RAY_BACKEND_LOG_LEVEL to see Ray's).
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    chosen = BACKEND_LOG_LEVEL not in os.environ  # else the user asked to see Ray's own lines
    os.environ.setdefault(BACKEND_LOG_LEVEL, "fatal")
    try:
        # Starting, Ray's core worker says on stderr that it read that level, and Ray Client
        # warns before it gives up on an address: lines the command's own error replaces.
        with _native_stderr_silenced(chosen), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ray.init(
                address=None if address == LOCAL else address,
                include_dashboard=False,
                log_to_driver=False,
                logging_level="ERROR",
            )
    except (ConnectionError, RuntimeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RuntimeMissingError(f"--ray {address}: cannot reach a Ray cluster ({first})") from exc


# --- reading and writing files, local or by URI ---------------------------------------------------


def _filesystem(uri: str) -> tuple[Any, str]:
    import pyarrow.fs as pafs

    try:
        return pafs.FileSystem.from_uri(uri)
    except (OSError, ValueError) as exc:
        raise InputError(
            f"{uri}: not a path or URI the filesystem layer understands ({exc})"
        ) from exc


def read_bytes(name: str) -> bytes:
    """The bytes of a local file or of a URI, with one-line errors."""
    if not is_uri(name):
        from aeinfer.pictures import read_file

        return read_file(Path(name), name)
    fs, path = _filesystem(name)
    try:
        with fs.open_input_stream(path) as stream:
            return stream.read()
    except (OSError, ValueError) as exc:
        raise InputError(f"{name}: cannot read ({exc})") from exc


def write_output(data: bytes, target: str, source: str) -> None:
    """Write a result to a local path (atomically, never over its input) or a URI (object
    stores write an object whole)."""
    if not is_uri(target):
        from aeinfer.atomic import write_bytes_atomic

        path = Path(target)
        path.parent.mkdir(parents=True, exist_ok=True)
        inputs = [] if is_uri(source) else [Path(source)]
        write_bytes_atomic(data, path, inputs=inputs, overwrite=True)
        return
    fs, path = _filesystem(target)
    try:
        fs.create_dir(str(PurePosixPath(path).parent), recursive=True)
        with fs.open_output_stream(path) as stream:
            stream.write(data)
    except (OSError, ValueError) as exc:
        raise OutputError(f"{target}: cannot write ({exc})") from exc


def _list_uri(uri: str, suffixes: Iterable[str]) -> list[tuple[str, PurePosixPath]]:
    """(file URI, relative path) of a URI naming a file, or of every input file under a
    folder URI, sorted; hidden files and earlier outputs left out, as :func:`walk` does."""
    import pyarrow.fs as pafs

    fs, root = _filesystem(uri)
    info = fs.get_file_info(root)
    if info.type == pafs.FileType.NotFound:
        raise InputError(f"{uri}: no such file or directory")
    if info.type == pafs.FileType.File:
        return [(uri, PurePosixPath(PurePosixPath(root).name))]
    wanted = {s.lower() for s in suffixes}
    prefix = uri.rstrip("/")
    found = []
    for entry in fs.get_file_info(pafs.FileSelector(root, recursive=True)):
        rel = PurePosixPath(entry.path).relative_to(PurePosixPath(root))
        if entry.type != pafs.FileType.File or any(p.startswith(".") for p in rel.parts):
            continue
        if rel.suffix.lower() in wanted and not is_previous_output(rel.name):
            found.append((f"{prefix}/{rel.as_posix()}", rel))
    if not found:
        raise InputError(f"{uri}: no input files found (looked for {', '.join(sorted(wanted))})")
    return sorted(found, key=lambda pair: pair[1].parts)


# --- what each actor runs ---------------------------------------------------------------------


class Worker:
    """One actor: the model loaded once; each batch of rows in, one status row per input (per
    item for encode and score) out, as an Arrow table."""

    def __init__(self, work: Work, device: str) -> None:
        import ray

        from aeinfer.model import load_model
        from aeinfer.session import prefer_shared_threads
        from aeinfer.tasks import pipeline

        cpus = ray.get_runtime_context().get_assigned_resources().get("CPU", 1.0)
        threads = max(1, int(cpus))
        prefer_shared_threads()  # an actor's process is aeinfer's: one pool of its CPUs
        self.work = work
        first = load_model(work.model, device, work.precision, threads)
        self.pipe = pipeline(first, work.ensemble and work.route is None)
        self.route = (
            None
            if work.route is None
            else pipeline(load_model(work.route, device, work.precision, threads), work.ensemble)
        )
        self.worker = f"{os.uname().nodename}:{os.getpid()}"

    def __call__(self, batch: Any) -> Any:
        import pyarrow as pa

        columns = batch.column_names
        paths = [str(p) for p in batch.column("path").to_pylist()]
        targets = batch.column("target").to_pylist() if "target" in columns else [None] * len(paths)
        given = batch.column("bytes").to_pylist() if "bytes" in columns else [None] * len(paths)
        sources, readable, failed = [], [], {}
        for index, (path, data) in enumerate(zip(paths, given, strict=True)):
            try:
                sources.append(data if data is not None else read_bytes(path))
                readable.append(index)
            except AeinferError as exc:
                failed[index] = str(exc)
        rows: list[dict[str, Any]] = []
        outcomes = iter(self._run(sources, [paths[i] for i in readable]))
        for index, path in enumerate(paths):
            if index in failed:
                rows.append(self._failure(path, targets[index], failed[index]))
            else:
                rows.extend(self._rows(path, targets[index], next(outcomes)))
        return pa.Table.from_pylist(rows, schema=result_schema(self.work.task))

    def _run(self, sources: Sequence[bytes], labels: Sequence[str]) -> Iterable[Any]:
        from aeinfer import tasks

        task = self.work.task
        if task in PER_FILE and self.route is not None:
            return tasks.denoise_routed_each(self.pipe, self.route, sources, labels)
        if task in PER_FILE:
            return tasks.reconstruct_each(
                self.pipe, sources, labels, task=task, force=self.work.force
            )
        if task == ENCODE:
            return tasks.encode_each(self.pipe, sources, labels, force=self.work.force)
        return tasks.score_each(self.pipe, sources, labels)

    def _failure(self, path: str, target: str | None, message: str) -> dict[str, Any]:
        return {"path": path, "target": target, "status": FAILED, "message": message,
                "worker": self.worker}  # fmt: skip

    def _rows(self, path: str, target: str | None, outcome: Any) -> list[dict[str, Any]]:
        from aeinfer import exchange, tasks

        if isinstance(outcome, tasks.Failed):
            from aeinfer.jobs import failure_line

            return [self._failure(path, target, failure_line(outcome.error))]
        base = {"path": path, "target": target, "model": outcome.model, "message": "",
                "notes": list(outcome.notes), "worker": self.worker}  # fmt: skip
        task = self.work.task
        if task == ENCODE:
            flat = outcome.output.reshape(len(outcome.output), -1)
            shape = list(outcome.output.shape[1:])
            return [
                {**base, "status": DONE, "item": i, "code": row.tolist(), "shape": shape}
                for i, row in enumerate(flat)
            ]
        if task == SCORE:
            return [
                {**base, "status": DONE, "item": i, "label": s.label, "score": s.value,
                 "percentile": s.percentile, "in_domain": s.in_domain, "reason": s.reason}
                for i, s in enumerate(outcome.output)
            ]  # fmt: skip
        result = exchange.per_file_result(self.pipe, outcome, self.work.side_by_side)
        suffix = (
            PurePosixPath(target).suffix
            if target
            else PNG
            if self.pipe.modality == IMAGE
            else PurePosixPath(path).suffix
        )
        try:
            data = tasks.output_bytes(result, suffix or PNG, target or path)
            if target:
                write_output(data, target, path)
                return [{**base, "status": WRITTEN}]
        except (AeinferError, OSError) as exc:
            return [self._failure(path, target, str(exc))]
        return [{**base, "status": DONE, "result": data}]


def result_schema(task: str) -> Any:
    """The Arrow schema of the rows :func:`build` returns for ``task``."""
    import pyarrow as pa

    common = [
        ("path", pa.string()),
        ("target", pa.string()),
        ("status", pa.string()),
        ("message", pa.string()),
        ("model", pa.string()),
        ("notes", pa.list_(pa.string())),
        ("worker", pa.string()),
    ]
    if task == ENCODE:
        extra = [("item", pa.int32()), ("code", pa.list_(pa.float32())),
                 ("shape", pa.list_(pa.int32()))]  # fmt: skip
    elif task == SCORE:
        extra = [("item", pa.int32()), ("label", pa.string()), ("score", pa.float64()),
                 ("percentile", pa.float64()), ("in_domain", pa.bool_()),
                 ("reason", pa.string())]  # fmt: skip
    else:
        extra = [("result", pa.binary())]
    return pa.schema(common + extra)


def batch_size(work: Work, cluster: Cluster) -> int:
    """The inputs per ``map_batches`` call: the cluster's, else by the model's item shape."""
    if cluster.batch_size is not None:
        return cluster.batch_size
    free = any(size is None for size in _card(work.model).data.shape)
    return FREE_SIZE_BATCH if free else DEFAULT_BATCH


def build(dataset: Any, work: Work, cluster: Cluster = Cluster()) -> Any:
    """The Ray Data pipeline: ``dataset`` (rows with ``path``, and ``bytes`` and ``target``
    where given) mapped over an actor pool running ``work``; a lazy dataset of result rows
    (:func:`result_schema`). Rows with a ``target`` are written there by the actor; rows
    without one carry the result (``result``: the output file's bytes; ``code``; ``score``)."""
    if work.ensemble:  # before any actor starts: one line, not an error in every actor
        from aeinfer.tasks import check_ensemble

        check_ensemble(_card(work.route or work.model))
    ray = import_ray()
    if work.task not in TASKS:
        raise InputError(f"unknown task {work.task!r} on Ray; valid: {', '.join(TASKS)}")
    size = batch_size(work, cluster)
    if size < 1 or cluster.cpus_per_actor < 1:
        raise InputError("--batch-size and CPUs per actor must be at least 1")
    if cluster.actors is not None and cluster.actors < 1:
        raise InputError(f"--actors must be at least 1, got {cluster.actors}")
    if cluster.actors is None:
        # From one actor up to what the CPUs allow: Ray Data's autoscaler grows the pool while
        # leaving CPUs to the stages before it (a fixed pool of every CPU would starve a read).
        cpus = int(ray.cluster_resources().get("CPU", 1))
        top = max(1, cpus // cluster.cpus_per_actor)
        pool = ray.data.ActorPoolStrategy(min_size=1, max_size=top)
    else:
        pool = ray.data.ActorPoolStrategy(size=cluster.actors)
    device = "cuda" if cluster.gpus_per_actor > 0 else "cpu"
    return dataset.map_batches(
        Worker,
        fn_constructor_kwargs={"work": work, "device": device},
        batch_format="pyarrow",
        batch_size=size,
        compute=pool,
        num_cpus=cluster.cpus_per_actor,
        num_gpus=cluster.gpus_per_actor or None,
    )


# --- the jobs the command line runs ---------------------------------------------------------------


@dataclass
class Rows:
    """The input rows of a job and what planning had to say."""

    rows: list[dict[str, str | None]] = field(default_factory=list)
    parquet: list[str] = field(default_factory=list)
    """Parquet files (or folders of them) whose rows are inputs: columns ``path`` and
    ``bytes`` (a file's bytes), as ``ray.data.read_binary_files(include_paths=True)`` gives."""
    failed: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _card(model: str) -> Any:
    """The card of ``model`` (no sessions: the driver only plans)."""
    from aeinfer.card import read_card
    from aeinfer.zoo import resolve

    return read_card(resolve(model))


def _listed(inputs: Sequence[str], suffixes: frozenset[str]) -> Rows:
    """Every input file (local or URI) as a row without a target (encode, score, results as
    Parquet rows); Parquet inputs are read by Ray."""
    from aeinfer.inputs import expand_inputs

    out = Rows()
    for item in inputs:
        try:
            if codes_table.is_parquet(item.rstrip("/")):
                if not is_uri(item) and not Path(item).exists():
                    raise InputError(f"{item}: no such file or directory")
                out.parquet.append(item)
            elif is_uri(item):
                out.rows.extend({"path": f, "target": None} for f, _ in _list_uri(item, suffixes))
            else:
                found = expand_inputs([Path(item)], suffixes)
                out.rows.extend({"path": str(f), "target": None} for f, _ in found)
        except InputError as exc:
            out.failed.append((item, str(exc)))
    return out


def _planned(
    inputs: Sequence[str],
    output: str | None,
    tag: str,
    modality: str,
    suffixes: frozenset[str],
    overwrite: bool,
) -> Rows:
    """Every input with its output, named as the single-machine job names them."""
    from aeinfer.pictures import IMAGE_SUFFIXES

    out = Rows()
    if not any(is_uri(i) for i in inputs) and (output is None or not is_uri(output)):
        plan = plan_outputs(
            [Path(i) for i in inputs],
            None if output is None else Path(output),
            tag,
            input_suffixes=suffixes,
            output_suffix=PNG if modality == IMAGE else None,
            output_suffixes=IMAGE_SUFFIXES if modality == IMAGE else suffixes,
        )
        out.failed = [(str(p), m) for p, m in plan.failed]
        out.notes = list(plan.notes)
        for source, target in plan.pairs:
            if target.exists() and not overwrite:
                out.skipped.append(str(target))
            else:
                out.rows.append({"path": str(source), "target": str(target)})
        return out
    if output is None:
        raise OutputError("inputs given as URIs need -o FOLDER (a local folder or a URI)")
    listed = _listed(inputs, suffixes)
    out.failed = listed.failed
    claimed: dict[str, str] = {}
    base = output.rstrip("/")
    for row in listed.rows:
        source = str(row["path"])
        rel = _relative(source, inputs)
        suffix = PNG if modality == IMAGE else rel.suffix.lower()
        target = f"{base}/{rel.parent.as_posix()}/{rel.stem}{suffix}".replace("/./", "/")
        if target in claimed:  # scan.jpg and scan.png: each keeps its suffix, as on one machine
            target = f"{base}/{rel.parent.as_posix()}/{rel.name}{suffix}".replace("/./", "/")
            out.notes.append(f"{source}: another input also maps to that name; writing {target}")
        if target in claimed:
            out.failed.append((source, f"{source}: two inputs map to {target}; rename one"))
            continue
        claimed[target] = source
        if not overwrite and _exists(target):
            out.skipped.append(target)
        else:
            out.rows.append({"path": source, "target": target})
    return out


def _relative(source: str, inputs: Sequence[str]) -> PurePosixPath:
    for item in inputs:
        root = item.rstrip("/")
        if source.startswith(root + "/"):
            return PurePosixPath(source[len(root) + 1 :])
    return PurePosixPath(PurePosixPath(source.split(URI_MARK, 1)[-1]).name)


def _exists(target: str) -> bool:
    if not is_uri(target):
        return Path(target).exists()
    import pyarrow.fs as pafs

    fs, path = _filesystem(target)
    return fs.get_file_info(path).type != pafs.FileType.NotFound


def _stream(rows: Rows, work: Work, cluster: Cluster, progress: Progress | None) -> Iterable[Any]:
    """Run ``work`` over ``rows`` on the cluster; result batches (Arrow tables) as they come,
    in input order."""
    ray = import_ray()
    connect(cluster.address)
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True  # rows come back in input order
    context.enable_progress_bars = False
    parts = []
    size = batch_size(work, cluster)
    blocks = max(1, -(-len(rows.rows) // size))
    if rows.rows:
        parts.append(ray.data.from_items(rows.rows, override_num_blocks=blocks))
    cpus = int(ray.cluster_resources().get("CPU", 1))
    slots = max(1, cpus // cluster.cpus_per_actor)
    if rows.parquet:
        read = ray.data.read_parquet(rows.parquet, columns=["path", "bytes"])
        blocks += max(1, -(-read.count() // size))
        if slots > 1:
            # The read's tasks need a CPU of their own: a fixed pool holding every CPU would
            # starve the read that feeds it (a deadlock seen on 2 CPUs), so one slot is left.
            slots -= 1
        else:
            read = read.materialize()  # one CPU: read everything first, then run the pool
        parts.append(read)
    if not parts:
        return
    dataset = parts[0].union(*parts[1:]) if len(parts) > 1 else parts[0]
    total = dataset.count()
    # No more actors than batches: an idle actor would only hold a model in memory.
    actors = min(cluster.actors or slots, slots if rows.parquet else cpus, blocks)
    sized = replace(cluster, actors=actors, batch_size=size)
    seen: set[str] = set()
    for batch in build(dataset, work, sized).iter_batches(batch_format="pyarrow", batch_size=None):
        yield batch
        seen.update(batch.column("path").to_pylist())
        if progress is not None:
            progress(len(seen), total)


def map_files(
    inputs: Sequence[str],
    output: str | None,
    tag: str,
    work: Work,
    cluster: Cluster = Cluster(),
    *,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> Any:
    """:func:`aeinfer.jobs.map_files` on a Ray cluster: the same outputs, names and report.
    With ``output`` naming a ``.parquet`` file, results are rows ``(path, model, result)``
    (the output file's bytes) instead, and Parquet inputs are accepted."""
    from aeinfer.jobs import JobReport
    from aeinfer.tasks import input_suffixes

    modality = _card(work.model).data.modality
    if output is not None and codes_table.is_parquet(output):
        return _results_table(inputs, Path(output), work, cluster, overwrite, progress)
    if any(codes_table.is_parquet(item.rstrip("/")) for item in inputs):
        raise OutputError("Parquet inputs give Parquet rows: pass -o RESULTS.parquet")
    planned = _planned(inputs, output, tag, modality, input_suffixes(modality), overwrite)
    report = JobReport(notes=list(planned.notes))
    report.failed = [(Path(p), m) for p, m in planned.failed]
    report.skipped = [Path(t) for t in planned.skipped]
    for row in _rows(_stream(planned, work, cluster, progress)):
        if row["status"] == FAILED:
            report.failed.append((Path(row["path"]), row["message"]))
            continue
        report.processed += 1
        report.notes.extend(f"{row['path']}: {note}" for note in row["notes"] or ())
        report.written.append(Path(row["target"]))
        report.records.append(
            {"input": row["path"], "output": row["target"], "model": row["model"]}
        )
    return report


def _rows(batches: Iterable[Any]) -> Iterable[dict[str, Any]]:
    for batch in batches:
        yield from batch.to_pylist()


def results_schema() -> Any:
    """Rows of a per-file job written as Parquet: the input, the model, the output's bytes."""
    pa = codes_table.import_pyarrow()
    return pa.schema([("path", pa.string()), ("model", pa.string()), ("result", pa.binary())])


def _results_table(
    inputs: Sequence[str],
    output: Path,
    work: Work,
    cluster: Cluster,
    overwrite: bool,
    progress: Progress | None,
) -> Any:
    """A per-file job whose results go into one Parquet table, written by the driver as the
    rows stream in (moved into place at the end; nothing partial is left)."""
    import contextlib

    import pyarrow as pa

    from aeinfer.jobs import JobReport, exists
    from aeinfer.tasks import input_suffixes

    report = JobReport()
    if exists(output, overwrite, report):
        return report
    listed = _listed(inputs, input_suffixes(_card(work.model).data.modality))
    report.failed = [(Path(p), m) for p, m in listed.failed]
    local_inputs = [Path(str(r["path"])) for r in listed.rows if not is_uri(str(r["path"]))]
    with contextlib.ExitStack() as stack:
        sink = None
        for row in _rows(_stream(listed, work, cluster, progress)):
            if row["status"] == FAILED:
                report.failed.append((Path(row["path"]), row["message"]))
                continue
            if sink is None:
                sink = stack.enter_context(
                    codes_table.writer(output, results_schema(), local_inputs, overwrite=overwrite)
                )
            table = {"path": [row["path"]], "model": [row["model"]], "result": [row["result"]]}
            sink.write_table(pa.table(table, schema=results_schema()))
            report.processed += 1
            report.notes.extend(f"{row['path']}: {note}" for note in row["notes"] or ())
            report.records.append(
                {"input": row["path"], "output": str(output), "model": row["model"]}
            )
    if report.processed:
        report.written.append(output)
    return report


def encode_table(
    inputs: Sequence[str],
    output: Path,
    work: Work,
    cluster: Cluster = Cluster(),
    *,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> Any:
    """:func:`aeinfer.jobs.encode_table` on a Ray cluster: the actors encode, the driver
    streams their rows into one codes table (the same file a single machine writes)."""
    import contextlib

    from aeinfer.jobs import JobReport, exists

    if not codes_table.is_parquet(output):
        raise OutputError(
            f"{output}: on Ray, codes are written as a codes table; name it *.parquet "
            "(.npy is for one machine)"
        )
    report = JobReport()
    if exists(output, overwrite, report):
        return report
    from aeinfer.tasks import input_suffixes

    card = _card(work.model)
    listed = _listed(inputs, input_suffixes(card.data.modality))
    report.failed = [(Path(p), m) for p, m in listed.failed]
    local_inputs = [Path(str(r["path"])) for r in listed.rows if not is_uri(str(r["path"]))]
    with contextlib.ExitStack() as stack:
        sink, table_schema, shape, rows_written = None, None, None, 0
        encoded: set[str] = set()
        for batch in _stream(listed, work, cluster, progress):
            for row in batch.to_pylist():
                if row["status"] == FAILED:
                    report.failed.append((Path(row["path"]), row["message"]))
                    continue
                if sink is None:
                    shape = tuple(row["shape"])
                    table_schema = codes_table.schema(card.name, shape)
                    sink = stack.enter_context(
                        codes_table.writer(output, table_schema, local_inputs, overwrite=overwrite)
                    )
                if tuple(row["shape"]) != shape:
                    message = f"its code has shape {tuple(row['shape'])}, the table's {shape}"
                    report.failed.append((Path(row["path"]), f"{row['path']}: {message}"))
                    continue
                sink.write_table(_code_row(row, table_schema))
                rows_written += 1
                encoded.add(row["path"])
        if sink is None:
            return report
    report.processed = len(encoded)
    report.detail.update(shape=(rows_written, *shape), rows=rows_written)
    report.written.append(output)
    return report


def _code_row(row: dict[str, Any], table_schema: Any) -> Any:
    import pyarrow as pa

    return pa.table(
        {"path": [row["path"]], "item": [row["item"]], "code": [row["code"]]},
        schema=table_schema,
    )


def score_files(
    inputs: Sequence[str],
    work: Work,
    cluster: Cluster = Cluster(),
    *,
    progress: Progress | None = None,
) -> Any:
    """:func:`aeinfer.jobs.score_files` on a Ray cluster: the same report."""
    from aeinfer.jobs import ScoreReport
    from aeinfer.tasks import Score, input_suffixes

    card = _card(work.model)
    report = ScoreReport(card.name, None if card.score is None else card.to_json()["score"])
    listed = _listed(inputs, input_suffixes(card.data.modality))
    report.failed = [(Path(p), m) for p, m in listed.failed]
    for batch in _stream(listed, work, cluster, progress):
        for row in batch.to_pylist():
            if row["status"] == FAILED:
                report.failed.append((Path(row["path"]), row["message"]))
                continue
            if row["item"] == 0:
                report.notes.extend(f"{row['path']}: {note}" for note in row["notes"] or ())
            report.rows.append(
                Score(
                    row["label"],
                    row["score"],
                    row["percentile"],
                    row["in_domain"],
                    row["reason"] or "",
                )
            )
    return report


__all__ = [
    "LOCAL",
    "Cluster",
    "Work",
    "Worker",
    "build",
    "connect",
    "encode_table",
    "map_files",
    "read_bytes",
    "result_schema",
    "score_files",
    "write_output",
]
