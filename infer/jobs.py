"""File jobs behind the command line: expand inputs, plan outputs, call a task, write, report.

This module is plumbing only; every result comes from :mod:`aeinfer.tasks`. Per-file jobs
(:func:`map_files` for denoise and ``reconstruct --per-file``, :func:`score_files`) plan every
output before reading anything (:func:`aeinfer.inputs.plan_outputs`), skip outputs that exist
unless ``overwrite``, write each result atomically and never over an input, and carry on past a
bad file, collecting what failed in the returned report. Jobs with one output (a sheet, codes,
samples, a manifold, a strip, a scatter plot) fail as a whole on a bad input, before anything
is written.

One rule for every command: **an existing output is never replaced unless ``overwrite``**; it is
skipped, and the report says so. Wherever an output is named, an open binary stream may be given
instead (the CLI passes stdout for ``-o -``), and where inputs are named, the bytes of one file
(the CLI passes stdin for ``-``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np

from aeinfer import codes_table, exchange, tasks
from aeinfer.atomic import input_keys, npy_bytes, write_bytes_atomic
from aeinfer.card import DENOISE, IMAGE, RECONSTRUCT
from aeinfer.errors import InputError, OutOfDomainError, OutputError
from aeinfer.inputs import expand_inputs, plan_outputs
from aeinfer.pictures import IMAGE_SUFFIXES, image_format, picture_bytes, read_file
from aeinfer.progress import Progress

# Drawing (sheets, grids, strips) and Pillow's image type are only needed by the commands that
# draw; denoising, the common job, starts without them.
if TYPE_CHECKING:
    from PIL import Image

DENOISED_TAG = "denoised"
RECONSTRUCTED_TAG = "reconstructed"
STDIN_LABEL = "<stdin>"
STDOUT_LABEL = "<stdout>"
NPY = ".npy"
PNG = ".png"

Output = Path | BinaryIO
"""Where a job writes: a file (or folder) path, or an open binary stream such as stdout."""
Sources = Sequence[Path] | bytes
"""What a job reads: files and folders, or the bytes of one file (e.g. stdin)."""


class OutputFormat(str, Enum):
    """A picture (PNG, or any image suffix of the output file) or the raw array (.npy)."""

    PNG = "png"
    NPY = "npy"


@dataclass
class JobReport:
    """Outcome of a file job: outputs written, outputs skipped, and inputs that failed."""

    written: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    processed: int = 0
    """Inputs run through the model."""
    detail: dict[str, Any] = field(default_factory=dict)
    """What a job has to add (a seed, a shape, a count)."""
    records: list[dict[str, str]] = field(default_factory=list)
    """Per written file: input, output and the model that made it (``--json``)."""

    @property
    def ok(self) -> bool:
        return not self.failed


def is_stream(output: Output | None) -> bool:
    return output is not None and not isinstance(output, Path)


def _label(output: Output) -> Path:
    return output if isinstance(output, Path) else Path(STDOUT_LABEL)


def _write_stream(data: bytes, stream: BinaryIO) -> None:
    try:
        stream.write(data)
        stream.flush()
    except OSError as exc:
        raise OutputError(f"{STDOUT_LABEL}: cannot write ({exc.strerror or exc})") from exc


def write(
    data: bytes,
    output: Output,
    report: JobReport,
    *,
    inputs: Sequence[Path] | frozenset[object] = (),
    overwrite: bool = False,
) -> None:
    """Write ``data`` to a path atomically (recorded as written) or whole to a stream."""
    if isinstance(output, Path):
        write_bytes_atomic(data, output, inputs=inputs, overwrite=overwrite)
    else:
        _write_stream(data, output)
    report.written.append(_label(output))


def exists(output: Output | None, overwrite: bool, report: JobReport) -> bool:
    """Whether ``output`` is a file that stays as it is (recorded as skipped)."""
    if isinstance(output, Path) and output.exists() and not output.is_dir() and not overwrite:
        report.skipped.append(output)
        return True
    return False


def _picture_suffix(output: Output) -> str:
    if isinstance(output, Path):
        image_format(output.suffix, str(output))
        return output.suffix or PNG
    return PNG


def picture_bytes_for(picture: Image.Image, output: Output) -> bytes:
    """A picture in the format the output's suffix names (PNG for a stream)."""
    return picture_bytes(picture, _picture_suffix(output), str(_label(output)))


def _files(pipe: tasks.Pipeline, inputs: Sources) -> tuple[list[Any], list[str], list[Path]]:
    """(sources, labels, paths) of a job's inputs: the stdin bytes, or every file they name."""
    if isinstance(inputs, bytes):
        return [inputs], [STDIN_LABEL], []
    files = [file for file, _ in expand_inputs([Path(p) for p in inputs], pipe.input_suffixes)]
    return list(files), [str(f) for f in files], list(files)


# --- per-file jobs: denoise, reconstruct --per-file ----------------------------------------------


def map_files(
    pipe: tasks.Pipeline,
    inputs: Sources,
    output: Output | None,
    tag: str,
    *,
    task: str = DENOISE,
    side_by_side: bool = False,
    overwrite: bool = False,
    progress: Progress | None = None,
    force: bool = False,
    route: tasks.Pipeline | None = None,
) -> JobReport:
    """Run ``task`` (reconstruct or denoise) on every input and write each result at the
    input's size and kind — with ``side_by_side``, the original beside it (pictures).
    ``force`` takes inputs outside the model's domain anyway; ``route`` (denoise only) is the
    model for the inputs the first one's domain check refuses (see
    :func:`aeinfer.tasks.denoise_routed_each`).

    Outputs are planned by :func:`aeinfer.inputs.plan_outputs`: ``<stem>.<tag>.png`` beside
    each input (a signal keeps its own format), a named file for one input, or a folder
    keeping the inputs' layout. Image bytes (stdin) in, or a stream (stdout) out, make a
    one-input job (:func:`map_one`).
    """
    tasks.require(pipe, task)
    if isinstance(inputs, bytes) or is_stream(output):
        return map_one(
            pipe, inputs, output, task=task, side_by_side=side_by_side, overwrite=overwrite,
            force=force, route=route,
        )  # fmt: skip
    image = pipe.modality == IMAGE
    plan = plan_outputs(
        inputs,
        output if isinstance(output, Path) else None,
        tag,
        input_suffixes=pipe.input_suffixes,
        output_suffix=PNG if image else None,
        output_suffixes=IMAGE_SUFFIXES if image else pipe.input_suffixes,
    )
    report = JobReport(failed=list(plan.failed), notes=list(plan.notes))
    every_input = input_keys([source for source, _ in plan.pairs])
    todo = [
        (source, target) for source, target in plan.pairs if not exists(target, overwrite, report)
    ]
    sources, labels = [s for s, _ in todo], [str(s) for s, _ in todo]
    if route is not None and task == DENOISE:
        outcomes = tasks.denoise_routed_each(pipe, route, sources, labels)
    else:
        outcomes = tasks.reconstruct_each(pipe, sources, labels, task=task, force=force)
    # One outcome alive at a time: not zip(todo, outcomes), which keeps its last tuple (and so
    # the last outcome: a large picture's input, output and tensors) while the next is made.
    for done_count, (source, target) in enumerate(todo, 1):
        outcome = next(outcomes)
        if isinstance(outcome, tasks.Failed):
            report.failed.append((source, failure_line(outcome.error)))
        else:
            report.processed += 1
            report.notes.extend(f"{outcome.label}: {note}" for note in outcome.notes)
            result, model = exchange.per_file_result(pipe, outcome, side_by_side), outcome.model
            # The input's tensor and the model's output die here, before the result is
            # encoded: a 12-megapixel photo's are 290 MB of float32.
            del outcome
            _write_result(result, model, source, target, report, every_input, plan.make_folders)
        if progress is not None:
            progress(done_count, len(todo))
    return report


def failure_line(error: BaseException) -> str:
    """The line a file job (and the command line) gives for an error: its message, and for an
    input outside a digit model's domain what to do about it, in the command line's terms."""
    if isinstance(error, OutOfDomainError):
        use = f"for a photograph use --model {error.instead}, " if error.instead else ""
        return f"{error}; {use}crop one digit per file, or pass --force"
    return str(error)


def _write_result(
    result: tasks.Raw,
    model: str,
    source: Path,
    target: Path,
    report: JobReport,
    every_input: frozenset[object],
    make_folders: bool,
) -> None:
    """Write one result where it was planned and record it."""
    try:
        if make_folders:
            target.parent.mkdir(parents=True, exist_ok=True)
        data = tasks.output_bytes(result, target.suffix or PNG, str(target))
        write(data, target, report, inputs=every_input, overwrite=True)
        report.records.append({"input": str(source), "output": str(target), "model": model})
    except (OutputError, OSError) as exc:
        report.failed.append((source, str(exc)))


def map_one(
    pipe: tasks.Pipeline,
    inputs: Sources,
    output: Output | None,
    *,
    task: str = DENOISE,
    side_by_side: bool = False,
    overwrite: bool = False,
    force: bool = False,
    route: tasks.Pipeline | None = None,
) -> JobReport:
    """The one-input form of :func:`map_files`: bytes in (stdin), or one input file, to a
    named file or a stream (stdout). A bad input is raised, not reported."""
    if output is None:
        raise OutputError(f"{STDIN_LABEL}: an input read from stdin needs -o FILE or -o -")
    sources, labels, paths = _files(pipe, inputs)
    if len(sources) != 1:
        raise OutputError(
            f"{STDOUT_LABEL}: one result can be written to stdout; got {len(sources)} inputs"
        )
    report = JobReport()
    if exists(output, overwrite, report):
        return report
    if route is not None and task == DENOISE:
        done = tasks.unwrap(next(tasks.denoise_routed_each(pipe, route, sources, labels)))
    else:
        done = tasks.reconstruct(pipe, sources[0], labels[0], task=task, force=force)
    report.processed = 1
    report.notes.extend(f"{done.label}: {note}" for note in done.notes)
    result = exchange.per_file_result(pipe, done, side_by_side)
    suffix = output.suffix if isinstance(output, Path) and output.suffix else PNG
    write(
        tasks.output_bytes(result, suffix, str(_label(output))),
        output,
        report,
        inputs=paths,
        overwrite=True,
    )
    return report


# --- reconstruct: one sheet -----------------------------------------------------------------------


def reconstruct_sheet(
    pipe: tasks.Pipeline,
    inputs: Sources,
    output: Output | None,
    *,
    overwrite: bool = False,
    progress: Progress | None = None,
    force: bool = False,
) -> JobReport:
    """One sheet of original | reconstruction pairs — the items the model sees and gives,
    enlarged when small — for all inputs. Any bad input fails the job before anything is
    written."""
    from aeinfer import render

    if output is None:
        raise OutputError(
            "reconstruct writes one sheet: pass -o SHEET.png (or -o - for stdout), "
            "or --per-file for one result per input"
        )
    tasks.require(pipe, RECONSTRUCT)
    report = JobReport()
    if exists(output, overwrite, report):
        return report
    sources, labels, paths = _files(pipe, inputs)
    data, scale = pipe.card.data, render.enlargement(pipe.card.data)
    # Tiles are drawn as each input is done: inputs of a free-size model may differ in size,
    # and a large photo's tensors are let go of once its thumbnails exist.
    originals: list[Image.Image] = []
    results: list[Image.Image] = []
    outcomes = tasks.reconstruct_each(pipe, sources, labels, force=force)
    for count, outcome in enumerate(outcomes, 1):
        done = tasks.unwrap(outcome)
        report.notes.extend(f"{done.label}: {note}" for note in done.notes)
        assert done.prepared is not None  # reconstruct keeps what the model saw
        originals.extend(render.tiles(done.prepared, data, scale))
        results.extend(render.tiles(done.result, data, scale))
        if progress is not None:
            progress(count, len(sources))
    report.processed = len(sources)
    sheet = render.pair_sheet(originals, results)
    write(picture_bytes_for(sheet, output), output, report, inputs=paths, overwrite=True)
    return report


def reconstruct_files(
    pipe: tasks.Pipeline,
    inputs: Sources,
    output: Output | None,
    *,
    per_file: bool = False,
    overwrite: bool = False,
    progress: Progress | None = None,
    force: bool = False,
) -> JobReport:
    """A sheet of every input (:func:`reconstruct_sheet`), or with ``per_file`` one result per
    input: the original and its reconstruction side by side (a signal's reconstruction in
    its own format), named ``<stem>.reconstructed.png``."""
    if per_file:
        return map_files(
            pipe, inputs, output, RECONSTRUCTED_TAG, task=RECONSTRUCT, side_by_side=True,
            overwrite=overwrite, progress=progress, force=force,
        )  # fmt: skip
    return reconstruct_sheet(
        pipe, inputs, output, overwrite=overwrite, progress=progress, force=force
    )


# --- score ----------------------------------------------------------------------------------------


@dataclass
class ScoreReport:
    """Scores of the inputs that could be read, the inputs that failed, and the reference
    distribution from the model card (None when the card has none)."""

    model: str
    distribution: dict[str, Any] | None
    rows: list[tasks.Score] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "metric": None if self.distribution is None else self.distribution["metric"],
            "scores": [row.as_dict() for row in self.rows],
            "distribution": self.distribution,
            "failed": [{"path": str(path), "error": message} for path, message in self.failed],
        }


def score_files(
    pipe: tasks.Pipeline, inputs: Sources, *, progress: Progress | None = None
) -> ScoreReport:
    """The anomaly score of every input with its percentile in the card's reference
    distribution. Bad files are reported and the rest still scored."""
    card = pipe.card
    distribution = None if card.score is None else card.to_json()["score"]
    report = ScoreReport(card.name, distribution)
    if isinstance(inputs, bytes):
        sources: list[Any] = [inputs]
        labels = ["-"]
    else:
        sources, labels = [], []
        for item in inputs:
            try:
                found = expand_inputs([Path(item)], pipe.input_suffixes)
            except InputError as exc:
                report.failed.append((Path(item), str(exc)))
                continue
            sources.extend(file for file, _ in found)
            labels.extend(str(file) for file, _ in found)
    for count, outcome in enumerate(tasks.score_each(pipe, sources, labels), 1):
        if isinstance(outcome, tasks.Failed):
            report.failed.append((Path(outcome.label), failure_line(outcome.error)))
        else:
            report.rows.extend(outcome.output)
            report.notes.extend(f"{outcome.label}: {note}" for note in outcome.notes)
        if progress is not None:
            progress(count, len(sources))
    return report


# --- encode and decode ----------------------------------------------------------------------------


def encode_files(
    pipe: tasks.Pipeline,
    inputs: Sources,
    output: Output,
    *,
    overwrite: bool = False,
    force: bool = False,
    progress: Progress | None = None,
) -> JobReport:
    """Encode all inputs into one ``.npy`` of shape (N, *latent), rows in input order
    (folders sorted; a signal file holding a batch gives a row per item). Any bad input fails
    the whole job before anything is written (a missing row would misalign the rest).
    ``-o codes.parquet`` writes a codes table instead (:func:`encode_table`)."""
    if isinstance(output, Path) and codes_table.is_parquet(output):
        return encode_table(
            pipe, inputs, output, overwrite=overwrite, force=force, progress=progress
        )
    if isinstance(output, Path) and output.suffix.lower() != NPY:
        raise OutputError(
            f"{output}: codes are written as .npy or .parquet; name the file *.npy or "
            "*.parquet (or -o - for .npy to stdout)"
        )
    report = JobReport()
    if exists(output, overwrite, report):
        return report
    sources, labels, paths = _files(pipe, inputs)
    codes, rows = tasks.encode(pipe, sources, labels, force=force)
    report.processed = len(sources)
    report.detail.update(shape=tuple(codes.shape), rows=rows)
    write(npy_bytes(codes), output, report, inputs=paths, overwrite=True)
    return report


def encode_table(
    pipe: tasks.Pipeline,
    inputs: Sources,
    output: Path,
    *,
    overwrite: bool = False,
    force: bool = False,
    progress: Progress | None = None,
) -> JobReport:
    """Encode all inputs into a codes table (:mod:`aeinfer.codes_table`): one row
    ``(path, item, code)`` per item, in input order. Rows are keyed by path, so a bad input is
    reported and the rest still written (as in the per-file jobs); nothing is written when no
    input could be encoded. All codes must share one shape (one size for free-size models)."""
    report = JobReport()
    if exists(output, overwrite, report):
        return report
    sources, labels, paths = _files(pipe, inputs)
    with contextlib.ExitStack() as stack:
        sink, shape = None, None
        outcomes = tasks.encode_each(pipe, sources, labels, force=force)
        for count, outcome in enumerate(outcomes, 1):
            if isinstance(outcome, tasks.Failed):
                report.failed.append((Path(outcome.label), failure_line(outcome.error)))
            elif sink is not None and outcome.output.shape[1:] != shape:
                report.failed.append(
                    (Path(outcome.label), f"{outcome.label}: its code has shape "
                     f"{outcome.output.shape[1:]}, the table's {shape}; encode it on its own")
                )  # fmt: skip
            else:
                if sink is None:
                    shape = outcome.output.shape[1:]
                    table_schema = codes_table.schema(pipe.card.name, shape)
                    sink = stack.enter_context(
                        codes_table.writer(output, table_schema, paths, overwrite=overwrite)
                    )
                sink.write_table(codes_table.rows(outcome.label, outcome.output, table_schema))
                report.processed += 1
                report.detail["rows"] = report.detail.get("rows", 0) + len(outcome.output)
            if progress is not None:
                progress(count, len(sources))
        if sink is None:
            return report
    report.detail["shape"] = (report.detail["rows"], *shape)
    report.written.append(output)
    return report


def read_codes(source: Path | bytes) -> np.ndarray:
    """Codes from a ``.npy`` file (or its bytes), with one-line errors for anything else."""
    label = STDIN_LABEL if isinstance(source, bytes) else str(source)
    data = source if isinstance(source, bytes) else read_file(Path(source), label)
    return exchange.codes_from_bytes(data, label)


def decode_file(
    pipe: tasks.Pipeline, codes: Path | bytes, output: Output, *, overwrite: bool = False
) -> JobReport:
    """Decode a ``.npy`` of codes: ``-o x.npy`` gets the items (N, *item) as an array;
    ``-o grid.png`` (any image suffix) one grid picture of them; any other ``-o`` is a folder
    of ``00000.png``, ``00001.png`` … (``.npy`` files for a signal model)."""
    label = STDIN_LABEL if isinstance(codes, bytes) else str(codes)
    items = tasks.decode(pipe, read_codes(codes), label)
    report = JobReport(processed=len(items))
    inputs = [] if isinstance(codes, bytes) else [Path(codes)]
    picture = isinstance(output, Path) and output.suffix.lower() in IMAGE_SUFFIXES
    if not isinstance(output, Path) or output.suffix.lower() == NPY or picture:
        if exists(output, overwrite, report):
            return report
        if picture:
            data = picture_bytes_for(exchange.grid_picture(pipe, items), output)
        else:
            data = npy_bytes(items)
        write(data, output, report, inputs=inputs, overwrite=True)
        return report
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{output}: cannot create output folder ({exc.strerror})") from exc
    width = max(5, len(str(len(items))))
    for index, raw in enumerate(tasks.as_outputs(pipe, items, label)):
        suffix = PNG if pipe.modality == IMAGE else NPY
        target = output / f"{index:0{width}d}{suffix}"
        if not exists(target, overwrite, report):
            write(tasks.output_bytes(raw, suffix), target, report, inputs=inputs, overwrite=True)
    return report


# --- sample, manifold, interpolate, scatter -------------------------------------------------------


def write_samples(
    pipe: tasks.Pipeline,
    count: int,
    seed: int | None,
    output: Output,
    *,
    output_format: OutputFormat = OutputFormat.PNG,
    latents: bool = False,
    overwrite: bool = False,
) -> JobReport:
    """Decode ``count`` draws from the prior and write them: a grid picture (the picture
    ``aeinfer decode`` makes of the codes), the items as ``.npy``, or with ``latents`` the
    codes themselves. The seed used is in ``report.detail["seed"]``."""
    if latents and output_format is not OutputFormat.NPY:
        raise InputError("--latents writes the codes as an array; pass --format npy")
    report = JobReport()
    if exists(output, overwrite, report):
        return report
    drawn = tasks.sample(pipe, count, seed)
    report.processed = count
    report.detail["seed"] = drawn.seed
    if output_format is OutputFormat.NPY:
        data = npy_bytes(drawn.latents if latents else drawn.items)
    else:
        data = picture_bytes_for(exchange.grid_picture(pipe, drawn.items), output)
    write(data, output, report, overwrite=True)
    return report


def write_manifold(
    pipe: tasks.Pipeline, size: int, extent: float, output: Output, *, overwrite: bool = False
) -> JobReport:
    """Draw the 2-D latent manifold (see :func:`aeinfer.plots.manifold`) into ``output``."""
    from aeinfer import plots

    report = JobReport()
    if exists(output, overwrite, report):
        return report
    picture = plots.manifold(pipe.card, lambda codes: tasks.decode(pipe, codes), size, extent)
    report.processed = size * size
    write(picture_bytes_for(picture, output), output, report, overwrite=True)
    return report


def write_interpolation(
    pipe: tasks.Pipeline,
    first: Path | bytes,
    last: Path | bytes,
    steps: int,
    output: Output,
    *,
    output_format: OutputFormat = OutputFormat.PNG,
    overwrite: bool = False,
    force: bool = False,
) -> JobReport:
    """Encode two inputs, decode ``steps`` points on the line between their codes (ends
    included) and write them as one strip picture or as ``.npy`` (steps, *item)."""

    report = JobReport()
    if exists(output, overwrite, report):
        return report
    labels = [STDIN_LABEL if isinstance(s, bytes) else str(s) for s in (first, last)]
    items = tasks.interpolate(pipe, first, last, steps, labels, force=force)
    report.processed = 2
    sources = [Path(s) for s in (first, last) if not isinstance(s, bytes)]
    if output_format is OutputFormat.NPY:
        data = npy_bytes(items)
    else:
        data = picture_bytes_for(exchange.strip_picture(pipe, items), output)
    write(data, output, report, inputs=sources, overwrite=True)
    return report


def write_scatter(
    pipe: tasks.Pipeline,
    data_dir: Path | None,
    output: Output,
    *,
    limit: int | None = None,
    overwrite: bool = False,
) -> JobReport:
    """Encode labelled data to 2-D codes and draw them coloured by label (see
    :func:`aeinfer.plots.scatter_plot`): the MNIST test split when ``data_dir`` holds the MNIST
    files (or is not given), else a folder with one subfolder of inputs per label."""
    from aeinfer import mnist, plots

    plots.require_plane(pipe.card, "the scatter plot", prior=False)
    if limit is not None and limit < 1:
        raise InputError(f"--limit must be at least 1, got {limit}")
    report = JobReport()
    if exists(output, overwrite, report):
        return report
    if data_dir is None or mnist.holds_mnist(data_dir):
        split = mnist.load_split("test", data_dir)
        images, labels = split.images[:limit], [int(v) for v in split.labels[:limit]]
        codes = pipe.model.encode(images)
        what, legend = f"{len(images)} MNIST test digits", "digit"
    else:
        found = expand_inputs([data_dir], pipe.input_suffixes)[:limit]
        labels = [rel.parts[0] if len(rel.parts) > 1 else "." for _, rel in found]
        codes, rows = tasks.encode(
            pipe, [f for f, _ in found], [str(f) for f, _ in found], force=True
        )
        if len(rows) != len(labels):
            raise InputError(
                f"{data_dir}: a file holds several items; scatter takes one item per file"
            )
        what, legend = f"{len(found)} inputs from {data_dir}", "folder"
    kind = "posterior means" if pipe.model.is_variational else "codes"
    picture = plots.scatter_plot(codes, labels, f"{pipe.card.name}: {kind} of {what}", legend)
    report.processed = len(labels)
    write(picture_bytes_for(picture, output), output, report, overwrite=True)
    return report


__all__ = [
    "JobReport",
    "OutputFormat",
    "ScoreReport",
    "decode_file",
    "encode_files",
    "encode_table",
    "map_files",
    "map_one",
    "read_codes",
    "reconstruct_files",
    "reconstruct_sheet",
    "score_files",
    "write_interpolation",
    "write_manifold",
    "write_samples",
    "write_scatter",
]
