"""File-level jobs behind the CLI: images in, pictures, arrays and scores out.

Per-image jobs (:func:`map_images` for denoise and ``reconstruct --per-file``, :func:`score_files`)
expand files and folders, plan every output path before reading anything, skip outputs that
exist (unless ``overwrite``), refuse to write over an input, process images in bounded batches,
write each result atomically, and carry on past a bad file, collecting what failed in the
returned report. The library reports; the CLI decides the exit code.

Jobs with one output (the reconstruction sheet, samples, the manifold, an interpolation strip,
the scatter plot) fail as a whole on a bad input, before anything is written. Wherever an output
is named, an open binary stream may be given instead (the CLI passes stdout for ``-o -``), and
where an input is named, the bytes of one image file (the CLI passes stdin for ``-``). The
pictures themselves are drawn by :mod:`aeinfer.generate`.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol, TypeVar

import numpy as np
from PIL import Image

from aeinfer.errors import AeinferError, InputError, OutputError
from aeinfer.imageio import (
    IMAGE_SUFFIXES,
    LoadedImage,
    expand_inputs,
    image_bytes,
    load_image,
    original_image,
    restore,
    save_npy_atomic,
    write_image_atomic,
)
from aeinfer.model import Model
from aeinfer.quality import (
    SCORE_METRIC,
    card_score_distribution,
    percentile_of,
    score_per_image,
)

# The functions that draw import aeinfer.generate (and Pillow's drawing and fonts) themselves:
# denoising, the common job, does not need it at start-up.
if TYPE_CHECKING:
    from aeinfer import generate

# Images loaded and run together; bounds memory for folders of any size.
FILE_BATCH = 64
OUTPUT_SUFFIX = ".png"
NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGIC = b"PK\x03\x04"
DENOISED_TAG = "denoised"
RECONSTRUCTED_TAG = "reconstructed"
STDIN_LABEL = "<stdin>"
STDOUT_LABEL = "<stdout>"

Progress = Callable[[int, int], None]
Output = Path | BinaryIO
"""Where a job writes: a file (or folder) path, or an open binary stream such as stdout."""
Sources = Sequence[Path] | bytes
Item = TypeVar("Item")


class _Log(Protocol):
    """Where a batch job records unreadable inputs and the loader's notes."""

    failed: list[tuple[Path, str]]
    notes: list[str]


def _first(pair: tuple[Path, Path]) -> Path:
    return pair[0]


"""What a job reads: files and folders, or the bytes of one image file (e.g. stdin)."""


class Compose(str, Enum):
    """What a per-image job writes for each input, at the input's size, polarity and mode."""

    RESULT = "result"
    """The model's result alone (denoise)."""
    SIDE_BY_SIDE = "side-by-side"
    """The original on the left, the result on the right (reconstruct --per-file)."""


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
    """Images run through the model."""

    @property
    def ok(self) -> bool:
        return not self.failed


def is_stream(output: Output | None) -> bool:
    """Whether ``output`` is an open stream rather than a path."""
    return output is not None and not isinstance(output, Path)


def _write_stream(data: bytes, stream: BinaryIO) -> None:
    try:
        stream.write(data)
        stream.flush()
    except OSError as exc:
        raise OutputError(f"{STDOUT_LABEL}: cannot write ({exc.strerror or exc})") from exc


def write_picture(
    picture: Image.Image, output: Output, *, inputs: Sequence[Path] = (), overwrite: bool = True
) -> None:
    """Write ``picture`` atomically to a path (format from its suffix), or as PNG to a stream."""
    if isinstance(output, Path):
        write_image_atomic(picture, output, inputs=inputs, overwrite=overwrite)
    else:
        _write_stream(image_bytes(picture), output)


def write_array(
    array: np.ndarray, output: Output, *, inputs: Sequence[Path] = (), overwrite: bool = True
) -> None:
    """Write ``array`` as ``.npy``, atomically to a path or whole to a stream."""
    if isinstance(output, Path):
        save_npy_atomic(array, output, inputs=inputs, overwrite=overwrite)
    else:
        buffer = io.BytesIO()
        np.save(buffer, np.asarray(array), allow_pickle=False)
        _write_stream(buffer.getvalue(), output)


def _written(output: Output) -> Path:
    return output if isinstance(output, Path) else Path(STDOUT_LABEL)


def _source_paths(source: Path | bytes) -> list[Path]:
    return [] if isinstance(source, bytes) else [Path(source)]


def _source_label(source: Path | bytes) -> Path:
    return Path(STDIN_LABEL) if isinstance(source, bytes) else Path(source)


def plan_outputs(
    inputs: Sequence[Path], output: Path | None, tag: str, report: JobReport
) -> list[tuple[Path, Path]]:
    """(input file, output file) pairs. Missing inputs are recorded as failures.

    Without ``output``: ``<stem>.<tag>.png`` beside each input. With ``output`` naming an image
    file and a single input file: that file. Otherwise ``output`` is a folder and the inputs'
    relative layout is kept under it.
    """
    pairs: list[tuple[Path, Path]] = []
    single_file_target = _single_file_target(inputs, output)
    for item in inputs:
        try:
            expanded = expand_inputs([Path(item)])
        except InputError as exc:
            report.failed.append((Path(item), str(exc)))
            continue
        for file, rel in expanded:
            if output is None:
                target = file.with_name(f"{file.stem}.{tag}{OUTPUT_SUFFIX}")
            elif single_file_target:
                target = output
            else:
                target = output / rel.parent / f"{rel.stem}{OUTPUT_SUFFIX}"
            pairs.append((file, target))
    return pairs


def _single_file_target(inputs: Sequence[Path], output: Path | None) -> bool:
    """Whether ``output`` names the one output image (rather than a folder of outputs)."""
    return (
        output is not None
        and output.suffix.lower() in IMAGE_SUFFIXES
        and len(inputs) == 1
        and not Path(inputs[0]).is_dir()
    )


def _reconstructed(
    model: Model,
    items: Sequence[Item],
    source_of: Callable[[Item], Path | bytes],
    name_of: Callable[[Item], Path],
    log: _Log,
    progress: Progress | None,
) -> Iterator[tuple[Item, LoadedImage, np.ndarray]]:
    """Load ``items`` in batches of FILE_BATCH and yield each readable one with its image and
    the model's 28×28 reconstruction; unreadable ones go to ``log.failed``, loader notes to
    ``log.notes``, and ``progress`` hears after each batch has been handled."""
    done = 0
    for start in range(0, len(items), FILE_BATCH):
        batch = items[start : start + FILE_BATCH]
        loaded: list[tuple[Item, LoadedImage]] = []
        for item in batch:
            try:
                image = load_image(source_of(item))
            except InputError as exc:
                log.failed.append((name_of(item), str(exc)))
                continue
            log.notes.extend(f"{name_of(item)}: {note}" for note in image.notes)
            loaded.append((item, image))
        if loaded:
            results = model.reconstruct(np.stack([image.digit for _, image in loaded]))
            for (item, image), result in zip(loaded, results, strict=True):
                yield item, image, result
        done += len(batch)
        if progress is not None:
            progress(done, len(items))


def compose(image: LoadedImage, result: np.ndarray, how: Compose) -> Image.Image:
    """The output for one input: ``result`` (28×28) mapped back onto the input's size,
    polarity and mode, alone or to the right of the original."""
    restored = restore(image, result)
    if how is Compose.RESULT:
        return restored
    width, height = restored.size
    both = Image.new(restored.mode, (2 * width, height))
    both.paste(original_image(image), (0, 0))
    both.paste(restored, (width, 0))
    return both


def map_images(
    model: Model,
    inputs: Sources,
    output: Output | None,
    tag: str,
    *,
    compose_as: Compose = Compose.RESULT,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> JobReport:
    """Reconstruct every input image through ``model`` and write what ``compose_as`` says at
    the input's size, polarity and mode family (for the ``denoise`` model this is denoising).

    Outputs are planned by :func:`plan_outputs`. Image bytes (stdin) as input, or a stream
    (stdout) as output, make a one-image job: see :func:`map_one`.
    """
    if isinstance(inputs, bytes) or is_stream(output):
        return map_one(model, inputs, output, compose_as=compose_as, overwrite=overwrite)
    report = JobReport()
    planned = plan_outputs(inputs, output, tag, report)
    all_inputs = [source for source, _ in planned]
    # An output folder (and the inputs' layout under it) is created; the parent of a single
    # named output file must already exist, as for encode and decode.
    make_folders = output is not None and not _single_file_target(inputs, output)
    todo: list[tuple[Path, Path]] = []
    for source, target in planned:
        if target.exists() and not overwrite and not _same(source, target):
            report.skipped.append(target)
        else:
            todo.append((source, target))
    pairs = _reconstructed(model, todo, _first, _first, report, progress)
    for (source, target), image, result in pairs:
        report.processed += 1
        try:
            if make_folders:
                target.parent.mkdir(parents=True, exist_ok=True)
            write_image_atomic(
                compose(image, result, compose_as), target, inputs=all_inputs, overwrite=True
            )
        except (OutputError, OSError) as exc:
            report.failed.append((source, str(exc)))
            continue
        report.written.append(target)
    return report


def map_one(
    model: Model,
    inputs: Sources,
    output: Output | None,
    *,
    compose_as: Compose = Compose.RESULT,
    overwrite: bool = False,
) -> JobReport:
    """The one-image form of :func:`map_images`: image bytes in (stdin), or exactly one input
    file, to a named file or a stream (stdout). A bad input is raised, not reported."""
    if output is None:
        raise OutputError(f"{STDIN_LABEL}: an image read from stdin needs -o FILE or -o -")
    if isinstance(inputs, bytes):
        source: Path | bytes = inputs
    else:
        files = [file for file, _ in expand_inputs([Path(p) for p in inputs])]
        if len(files) != 1:
            raise OutputError(
                f"{STDOUT_LABEL}: one image can be written to stdout; got {len(files)} inputs"
            )
        source = files[0]
    report = JobReport()
    if isinstance(output, Path) and output.exists() and not overwrite:
        report.skipped.append(output)
        return report
    image = load_image(source)
    report.notes.extend(f"{_source_label(source)}: {note}" for note in image.notes)
    result = model.reconstruct(image.digit[None])[0]
    report.processed = 1
    picture = compose(image, result, compose_as)
    write_picture(picture, output, inputs=_source_paths(source), overwrite=True)
    report.written.append(_written(output))
    return report


def _same(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve()


def encode_files(
    model: Model, inputs: Sequence[Path], output: Path, *, overwrite: bool = True
) -> tuple[np.ndarray, list[Path]]:
    """Encode all input images into one ``.npy`` of shape (N, *latent_shape).

    Rows follow the order of the returned file list. Any bad input fails the whole job before
    anything is written, since a missing row would misalign the rest.
    """
    files = [file for file, _ in expand_inputs([Path(p) for p in inputs])]
    if output.suffix.lower() != ".npy":
        raise OutputError(f"{output}: latents are written as .npy; name the file *.npy")
    digits = np.stack([load_image(file).digit for file in files])
    codes = model.encode(digits)
    save_npy_atomic(codes, output, inputs=files, overwrite=overwrite)
    return codes, files


def read_latents(path: Path) -> np.ndarray:
    """Load a latent array from a ``.npy`` file, with one-line errors for anything else."""
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, expected a .npy file")
    try:
        with path.open("rb") as handle:
            head = handle.read(len(NPY_MAGIC))
            # Without the header numpy falls back to unpickling and blames pickles; say what
            # is really wrong. Zip archives (.npz) are let through to the message below.
            if head != NPY_MAGIC and head[:4] != ZIP_MAGIC:
                why = "empty file" if not head else "no NumPy .npy header"
                raise InputError(f"{path}: not a readable .npy array ({why})")
            handle.seek(0)
            array = np.load(handle, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise InputError(f"{path}: not a readable .npy array ({exc})") from exc
    if not isinstance(array, np.ndarray):
        raise InputError(f"{path}: holds several arrays (.npz); expected one .npy array")
    return array


def decode_file(model: Model, latents: Path, output: Path, *, overwrite: bool = True) -> list[Path]:
    """Decode a ``.npy`` of latents: ``output`` ending in an image suffix gets one grid image
    (or the single image); otherwise ``output`` is a folder of ``00000.png``, ``00001.png``…"""
    from aeinfer import generate

    try:
        images = model.decode(read_latents(latents))
    except InputError as exc:
        message = str(exc)
        if message.startswith(str(latents)):
            raise
        raise InputError(f"{latents}: {message}") from exc
    if output.suffix.lower() in IMAGE_SUFFIXES:
        write_image_atomic(
            generate.digits_grid(images), output, inputs=[latents], overwrite=overwrite
        )
        return [output]
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{output}: cannot create output folder ({exc.strerror})") from exc
    written = []
    width = max(5, len(str(len(images))))
    for index, image in enumerate(images):
        target = output / f"{index:0{width}d}{OUTPUT_SUFFIX}"
        write_image_atomic(generate.digits_grid(image[None]), target, overwrite=overwrite)
        written.append(target)
    return written


# --------------------------------------------------------------------------------------------
# reconstruct
# --------------------------------------------------------------------------------------------


def reconstruct_files(
    model: Model,
    inputs: Sources,
    output: Output | None,
    *,
    per_file: bool = False,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> JobReport:
    """Reconstruct the inputs: one sheet of original | reconstruction pairs written to
    ``output`` (see :func:`aeinfer.generate.pair_sheet`), or with ``per_file`` one
    ``<stem>.reconstructed.png`` per input holding the original and its reconstruction side by
    side at the input's size (planned as :func:`map_images` plans them)."""
    if per_file:
        return map_images(
            model,
            inputs,
            output,
            RECONSTRUCTED_TAG,
            compose_as=Compose.SIDE_BY_SIDE,
            overwrite=overwrite,
            progress=progress,
        )
    return reconstruct_sheet(model, inputs, output, overwrite=overwrite, progress=progress)


def _load_all(inputs: Sources, report: JobReport) -> tuple[list[LoadedImage], list[Path]]:
    """Every input image, in order; the first bad one fails the whole job."""
    if isinstance(inputs, bytes):
        image = load_image(inputs)
        report.notes.extend(f"{STDIN_LABEL}: {note}" for note in image.notes)
        return [image], []
    files = [file for file, _ in expand_inputs([Path(p) for p in inputs])]
    images = []
    for file in files:
        image = load_image(file)
        report.notes.extend(f"{file}: {note}" for note in image.notes)
        images.append(image)
    return images, files


def reconstruct_sheet(
    model: Model,
    inputs: Sources,
    output: Output | None,
    *,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> JobReport:
    """One sheet of original | reconstruction pairs (the 28×28 digits the model sees, enlarged)
    for all inputs. An existing file ``output`` is skipped unless ``overwrite``; any bad input
    fails the job before anything is written."""
    from aeinfer import generate

    if output is None:
        raise OutputError(
            "reconstruct writes one sheet: pass -o SHEET.png (or -o - for stdout), "
            "or --per-file for one picture per input"
        )
    report = JobReport()
    if isinstance(output, Path) and output.exists() and not overwrite:
        report.skipped.append(output)
        return report
    images, files = _load_all(inputs, report)
    digits = np.stack([image.digit for image in images])
    results = []
    for start in range(0, len(digits), FILE_BATCH):
        results.append(model.reconstruct(digits[start : start + FILE_BATCH]))
        if progress is not None:
            progress(min(start + FILE_BATCH, len(digits)), len(digits))
    report.processed = len(digits)
    write_picture(
        generate.pair_sheet(digits, np.concatenate(results)), output, inputs=files, overwrite=True
    )
    report.written.append(_written(output))
    return report


# --------------------------------------------------------------------------------------------
# score
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoreRow:
    """One input's anomaly score and where it falls in the model's test-set distribution."""

    path: str
    score: float
    percentile: float | None


@dataclass
class ScoreReport:
    """Scores of the inputs that could be read, the inputs that failed, and the reference
    distribution from the model card (None when the card has none)."""

    model: str
    distribution: dict[str, Any] | None
    rows: list[ScoreRow] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return {
            "model": self.model,
            "metric": SCORE_METRIC,
            "scores": [
                {"path": row.path, "score": row.score, "percentile": row.percentile}
                for row in self.rows
            ],
            "distribution": self.distribution,
            "failed": [{"path": str(path), "error": message} for path, message in self.failed],
        }


def score_files(model: Model, inputs: Sources, *, progress: Progress | None = None) -> ScoreReport:
    """Anomaly score of each input: the mean squared error per pixel between the 28×28 digit
    the model sees and its reconstruction, with its percentile in the model card's test-set
    distribution. Bad files are reported and the rest still scored."""
    report = ScoreReport(model.name, card_score_distribution(model.info))
    if isinstance(inputs, bytes):
        entries: list[tuple[str, Path | bytes]] = [("-", inputs)]
    else:
        entries = []
        for item in inputs:
            try:
                entries.extend((str(file), file) for file, _ in expand_inputs([Path(item)]))
            except InputError as exc:
                report.failed.append((Path(item), str(exc)))
    scored = _reconstructed(
        model, entries, lambda entry: entry[1], lambda entry: Path(entry[0]), report, progress
    )
    for (name, _), image, result in scored:
        score = float(score_per_image(result[None], image.digit[None])[0])
        percentile = (
            None if report.distribution is None else percentile_of(score, report.distribution)
        )
        report.rows.append(ScoreRow(name, score, percentile))
    return report


# --------------------------------------------------------------------------------------------
# sample, manifold, interpolate, scatter
# --------------------------------------------------------------------------------------------


def write_samples(
    model: Model,
    count: int,
    seed: int | None,
    output: Output,
    *,
    output_format: OutputFormat = OutputFormat.PNG,
    latents: bool = False,
    overwrite: bool = True,
) -> generate.Samples:
    """Decode ``count`` draws from N(0, I) and write them: a grid picture (the same picture
    ``aeinfer decode`` makes of the codes), the images (N, H, W) float32 as ``.npy``, or with
    ``latents`` the codes themselves (N, *latent_shape) as ``.npy``."""
    from aeinfer import generate

    if latents and output_format is not OutputFormat.NPY:
        raise InputError("--latents writes the codes as an array; pass --format npy")
    drawn = generate.sample(model, count, seed)
    if output_format is OutputFormat.NPY:
        write_array(drawn.latents if latents else drawn.images, output, overwrite=overwrite)
    else:
        write_picture(generate.digits_grid(drawn.images), output, overwrite=overwrite)
    return drawn


def write_manifold(
    model: Model, size: int, extent: float, output: Output, *, overwrite: bool = True
) -> None:
    """Draw the 2-D latent manifold (see :func:`aeinfer.generate.manifold`) into ``output``."""
    from aeinfer import generate

    write_picture(generate.manifold(model, size, extent), output, overwrite=overwrite)


def write_interpolation(
    model: Model,
    first: Path | bytes,
    last: Path | bytes,
    steps: int,
    output: Output,
    *,
    output_format: OutputFormat = OutputFormat.PNG,
    overwrite: bool = True,
) -> np.ndarray:
    """Encode two images, decode ``steps`` points on the line between their codes (ends
    included) and write them as one strip picture or as ``.npy`` (steps, H, W) float32."""
    from aeinfer import generate

    if steps < generate.MIN_STEPS:
        raise InputError(f"interpolation needs at least {generate.MIN_STEPS} steps, got {steps}")
    images = generate.interpolate(model, load_image(first).digit, load_image(last).digit, steps)
    sources = _source_paths(first) + _source_paths(last)
    if output_format is OutputFormat.NPY:
        write_array(images, output, inputs=sources, overwrite=overwrite)
    else:
        write_picture(generate.strip(images), output, inputs=sources, overwrite=overwrite)
    return images


def write_scatter(
    model: Model,
    data_dir: Path | None,
    output: Output,
    *,
    limit: int | None = None,
    overwrite: bool = True,
) -> int:
    """Encode the MNIST test split (its first ``limit`` images) to 2-D codes and draw them
    coloured by label (see :func:`aeinfer.generate.scatter_plot`). Returns the point count."""
    from aeinfer import generate
    from aeinfer.train.data import load_split  # numpy only; no torch

    generate.require_plane(model, "the scatter plot", variational=False)
    if limit is not None and limit < 1:
        raise InputError(f"--limit must be at least 1, got {limit}")
    split = load_split("test", data_dir)
    images, labels = split.images[:limit], split.labels[:limit]
    codes = model.encode(images)
    what = "posterior means" if model.is_variational else "codes"
    title = f"{model.name}: {what} of {len(images)} MNIST test digits"
    write_picture(generate.scatter_plot(codes, labels, title), output, overwrite=overwrite)
    return len(images)


__all__ = [
    "AeinferError",
    "Compose",
    "JobReport",
    "OutputFormat",
    "ScoreReport",
    "ScoreRow",
    "decode_file",
    "encode_files",
    "map_images",
    "map_one",
    "plan_outputs",
    "read_latents",
    "reconstruct_files",
    "reconstruct_sheet",
    "score_files",
    "write_array",
    "write_interpolation",
    "write_manifold",
    "write_picture",
    "write_samples",
    "write_scatter",
]
