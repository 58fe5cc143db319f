"""Which files a job reads, and where each result goes: folder walking and output planning.

:func:`expand_inputs` turns files and folders into a deterministic list of input files with their
paths relative to the folder given. A job's own outputs are never its inputs: files named like
an earlier result (``*.denoised.*``, ``*.reconstructed.*``) and everything under the job's output
folder are left out, so ``aeinfer denoise . -o cleaned`` run twice reads the same files twice.

:func:`plan_outputs` decides every output path before anything is read. No result is ever lost:
when two inputs would map to one output (``scan.jpg`` and ``scan.png`` both to
``scan.denoised.png``), each keeps its own suffix in the output name (``scan.jpg.denoised.png``,
``scan.png.denoised.png``) and a note says so; an output that would land on an input is refused
for that input.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from aeinfer.errors import InputError

OUTPUT_TAGS = ("denoised", "reconstructed")
"""Tags of per-file outputs (``<stem>.<tag><suffix>``); files so named are never inputs."""


def is_previous_output(name: str) -> bool:
    stem = Path(name).stem.lower()
    return any(stem.endswith(f".{tag}") for tag in OUTPUT_TAGS)


def _inside(path: Path, folders: Sequence[Path]) -> bool:
    resolved = path.resolve()
    return any(resolved == f or f in resolved.parents for f in folders)


def walk(
    root: Path, suffixes: Iterable[str], exclude: Sequence[Path] = ()
) -> list[tuple[Path, Path]]:
    """(file, path relative to ``root``) of every file under ``root`` whose suffix is one of
    ``suffixes``, sorted; hidden files and folders, earlier outputs and ``exclude`` left out."""
    wanted = {s.lower() for s in suffixes}
    excluded = [p.resolve() for p in exclude]
    found: list[tuple[Path, Path]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = sorted(
            d for d in dirnames if not d.startswith(".") and not _inside(here / d, excluded)
        )
        for name in filenames:
            if name.startswith(".") or is_previous_output(name):
                continue
            if Path(name).suffix.lower() not in wanted:
                continue
            file = here / name
            found.append((file, file.relative_to(root)))
    found.sort(key=lambda pair: pair[1].parts)
    return found


def expand_inputs(
    inputs: Sequence[Path], suffixes: Iterable[str], exclude: Sequence[Path] = ()
) -> list[tuple[Path, Path]]:
    """Files and folders → (file, relative path) pairs in a deterministic order.

    A file gives ``(file, Path(file.name))`` whatever its suffix (it was named on purpose); a
    folder is walked recursively (see :func:`walk`). Raises :class:`InputError` for a path that
    does not exist or a folder with no input files.
    """
    suffixes = tuple(suffixes)
    pairs: list[tuple[Path, Path]] = []
    for item in inputs:
        path = Path(item)
        if not path.exists():
            raise InputError(f"{path}: no such file or directory")
        if not path.is_dir():
            pairs.append((path, Path(path.name)))
            continue
        found = walk(path, suffixes, exclude)
        if not found:
            kinds = ", ".join(sorted(suffixes))
            raise InputError(f"{path}: no input files found (looked for {kinds})")
        pairs.extend(found)
    return pairs


@dataclass
class Plan:
    """Every (input, output) pair of a per-file job, and what planning had to say."""

    pairs: list[tuple[Path, Path]] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    make_folders: bool = False
    """Whether the outputs' folders are created (an output folder and the layout under it)."""


def single_output(inputs: Sequence[Path], output: Path | None, suffixes: Iterable[str]) -> bool:
    """Whether ``output`` names the one output file of a one-file job (not a folder)."""
    return (
        output is not None
        and output.suffix.lower() in {s.lower() for s in suffixes}
        and len(inputs) == 1
        and not Path(inputs[0]).is_dir()
    )


def plan_outputs(
    inputs: Sequence[Path],
    output: Path | None,
    tag: str,
    *,
    input_suffixes: Iterable[str],
    output_suffix: str | None,
    output_suffixes: Iterable[str],
) -> Plan:
    """Plan a per-file job's outputs; missing inputs and refused outputs become failures.

    Without ``output``: ``<stem>.<tag><suffix>`` beside each input. With ``output`` naming a
    file (one of ``output_suffixes``) and a single input file: that file. Otherwise ``output``
    is a folder and the inputs' relative layout is kept under it (``<rel stem><suffix>``).
    ``output_suffix`` is the suffix of every output, or None to keep each input's own.
    """
    plan = Plan()
    input_suffixes = tuple(input_suffixes)
    single = single_output(inputs, output, output_suffixes)
    plan.make_folders = output is not None and not single
    exclude = [output] if plan.make_folders and output is not None else []
    planned: list[tuple[Path, Path]] = []
    for item in inputs:
        try:
            expanded = expand_inputs([Path(item)], input_suffixes, exclude)
        except InputError as exc:
            plan.failed.append((Path(item), str(exc)))
            continue
        planned.extend(expanded)
    targets = []
    for file, rel in planned:
        suffix = output_suffix or file.suffix.lower()
        if output is None:
            targets.append(file.with_name(f"{file.stem}.{tag}{suffix}"))
        elif single:
            targets.append(output)
        else:
            targets.append(output / rel.parent / f"{rel.stem}{suffix}")
    claims: dict[Path, int] = {}
    for target in targets:
        key = target.resolve()
        claims[key] = claims.get(key, 0) + 1
    sources = {file.resolve() for file, _ in planned}
    for (file, rel), target in zip(planned, targets, strict=True):
        if claims[target.resolve()] > 1:
            renamed = _disambiguated(file, rel, target, output, tag, output_suffix, single)
            plan.notes.append(
                f"{file}: another input also maps to {target}; writing {renamed.name} instead"
            )
            target = renamed
        if target.resolve() in sources:
            plan.failed.append((file, f"{file}: its output {target} would overwrite an input"))
            continue
        plan.pairs.append((file, target))
    seen: set[Path] = set()
    for file, target in list(plan.pairs):
        if target.resolve() in seen:
            plan.pairs.remove((file, target))
            plan.failed.append((file, f"{file}: two inputs map to {target}; rename one"))
        seen.add(target.resolve())
    return plan


def _disambiguated(
    file: Path,
    rel: Path,
    target: Path,
    output: Path | None,
    tag: str,
    output_suffix: str | None,
    single: bool,
) -> Path:
    """The output name that keeps the input's own suffix: ``scan.jpg.denoised.png``."""
    suffix = output_suffix or file.suffix.lower()
    if output is None:
        return file.with_name(f"{file.name}.{tag}{suffix}")
    if single:
        return target
    return output / rel.parent / f"{rel.name}{suffix}"


__all__ = ["OUTPUT_TAGS", "Plan", "expand_inputs", "is_previous_output", "plan_outputs", "walk"]
