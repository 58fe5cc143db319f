"""File-level jobs behind the CLI: many images in, one file out per image, bad files reported.

Each job expands files and folders, plans every output path before reading anything, skips
outputs that exist (unless ``overwrite``), refuses to write over an input, processes images in
bounded batches, writes each result atomically, and carries on past a bad file, collecting
what failed in the returned :class:`JobReport`. The library reports; the CLI decides the exit
code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from aeinfer.errors import AeinferError, InputError, OutputError
from aeinfer.imageio import (
    IMAGE_SUFFIXES,
    LoadedImage,
    expand_inputs,
    grid,
    load_image,
    restore,
    save_npy_atomic,
    write_image_atomic,
)
from aeinfer.model import Model

# Images loaded and run together; bounds memory for folders of any size.
FILE_BATCH = 64
OUTPUT_SUFFIX = ".png"
NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGIC = b"PK\x03\x04"

Progress = Callable[[int, int], None]


@dataclass
class JobReport:
    """Outcome of a file job: outputs written, outputs skipped, and inputs that failed."""

    written: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed


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


def _batches(items: list[tuple[Path, Path]]) -> Iterator[list[tuple[Path, Path]]]:
    for start in range(0, len(items), FILE_BATCH):
        yield items[start : start + FILE_BATCH]


def map_images(
    model: Model,
    inputs: Sequence[Path],
    output: Path | None,
    tag: str,
    *,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> JobReport:
    """Reconstruct every input image through ``model`` and write it at its original size,
    polarity and mode family (for the ``denoise`` model this is denoising)."""
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
    done = 0
    for batch in _batches(todo):
        loaded: list[tuple[LoadedImage, Path, Path]] = []
        for source, target in batch:
            try:
                image = load_image(source)
            except InputError as exc:
                report.failed.append((source, str(exc)))
                continue
            report.notes.extend(f"{source}: {note}" for note in image.notes)
            loaded.append((image, source, target))
        if loaded:
            results = model.reconstruct(np.stack([item[0].digit for item in loaded]))
            for (image, source, target), result in zip(loaded, results, strict=True):
                try:
                    if make_folders:
                        target.parent.mkdir(parents=True, exist_ok=True)
                    write_image_atomic(
                        restore(image, result), target, inputs=all_inputs, overwrite=True
                    )
                except (OutputError, OSError) as exc:
                    report.failed.append((source, str(exc)))
                    continue
                report.written.append(target)
        done += len(batch)
        if progress is not None:
            progress(done, len(todo))
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
    try:
        images = model.decode(read_latents(latents))
    except InputError as exc:
        message = str(exc)
        if message.startswith(str(latents)):
            raise
        raise InputError(f"{latents}: {message}") from exc
    if output.suffix.lower() in IMAGE_SUFFIXES:
        picture = grid(images) if len(images) != 1 else grid(images, columns=1, pad=0)
        write_image_atomic(picture, output, inputs=[latents], overwrite=overwrite)
        return [output]
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{output}: cannot create output folder ({exc.strerror})") from exc
    written = []
    width = max(5, len(str(len(images))))
    for index, image in enumerate(images):
        target = output / f"{index:0{width}d}{OUTPUT_SUFFIX}"
        write_image_atomic(grid(image[None], columns=1, pad=0), target, overwrite=overwrite)
        written.append(target)
    return written


__all__ = [
    "AeinferError",
    "JobReport",
    "decode_file",
    "encode_files",
    "map_images",
    "plan_outputs",
    "read_latents",
]
