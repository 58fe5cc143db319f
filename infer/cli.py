"""The ``aeinfer`` command line: each command is one call into the library.

The library raises typed :class:`~aeinfer.errors.AeinferError`; only this module turns them into
a one-line message on stderr and a non-zero exit code. Heavy imports (numpy, onnxruntime,
torch) happen inside commands, so ``aeinfer --version`` and ``--help`` stay fast.
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
from aeinfer.errors import AeinferError, InputError, OutputError, RuntimeMissingError
from aeinfer.metadata import FP32, PRECISIONS
from aeinfer.zoo import DENOISE_MODEL, RECONSTRUCT_MODEL, VARIATIONAL_MODEL

if TYPE_CHECKING:
    from aeinfer.jobs import JobReport, ScoreReport
    from aeinfer.model import Model

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130
# More inputs than this get a progress bar.
PROGRESS_THRESHOLD = 8
TRAIN_MODULES = ("torch", "onnx", "onnxscript")
TRAIN_HINT = "training and export need PyTorch and onnx: pip install 'aeinfer[train]'"
# An input or output named "-" is stdin or stdout.
STDIO = "-"
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
    "digit images; draw latent spaces; train and export models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help: formatting it with rich imports rich (~110 ms), which made `aeinfer --help`
    # 1.3× the import floor of onnxruntime+numpy+PIL; plain, it is 0.7× (docs/benchmarks.md).
    # Progress bars still use rich, imported only when one is shown.
    rich_markup_mode=None,
)
data_app = typer.Typer(help="The MNIST dataset: download it (needs internet) or verify it.")
app.add_typer(data_app, name="data")


class Device(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


# aeinfer.metadata.PRECISIONS as an Enum, so that --help lists the choices.
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
        _say(f"aeinfer: error: {exc}")
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


def _load(model: str, device: Device, precision: Precision = Precision[FP32]) -> Model:
    from aeinfer.model import load

    loaded = load(model, device=device.value, precision=precision.value)
    if device is Device.auto:
        _say(f"aeinfer: {loaded.device_note}")
    return loaded


def _progress_callback(inputs: list[Path], label: str) -> tuple[Any, Any]:
    """A rich progress bar on stderr when there are many inputs (or a folder) and stderr is a
    terminal (a bar in a log file is noise), else nothing."""
    if len(inputs) <= PROGRESS_THRESHOLD and not any(path.is_dir() for path in inputs):
        return contextlib.nullcontext(), None
    from rich.console import Console
    from rich.progress import Progress

    console = Console(stderr=True)
    if not console.is_terminal:
        return contextlib.nullcontext(), None
    bar = Progress(console=console, transient=True)
    task = bar.add_task(label, total=len(inputs))
    return bar, lambda done, total: bar.update(task, completed=done, total=total)


def _is_stdio(path: Path | None) -> bool:
    return path is not None and str(path) == STDIO


def _stdin_bytes() -> bytes:
    """The bytes of one image file piped into stdin."""
    if sys.stdin is None or sys.stdin.isatty():
        raise InputError("<stdin>: nothing piped in ('-' reads one image file from stdin)")
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


def _where(output: Path) -> str:
    return "stdout" if _is_stdio(output) else str(output)


def _finish(report: JobReport, verb: str) -> None:
    for note in report.notes:
        _say(f"aeinfer: note: {note}")
    for target in report.skipped:
        _say(f"aeinfer: skipped {target} (exists; pass --overwrite)")
    for _, message in report.failed:
        _say(f"aeinfer: error: {message}")
    _say(
        f"aeinfer: {verb} {len(report.written)} image(s)"
        + (f", skipped {len(report.skipped)}" if report.skipped else "")
        + (f", {len(report.failed)} failed" if report.failed else "")
    )
    if report.failed:
        raise typer.Exit(EXIT_ERROR)


INPUTS_HELP = "Image files or folders (folders are searched recursively); '-' reads stdin."
MODEL_HELP = "Bundled model name (see `aeinfer models`) or a model directory."
FALLBACK_HELP = f"{MODEL_HELP} [default: {RECONSTRUCT_MODEL} if bundled, else the first bundled]"
DEVICE_HELP = "Where to run: auto (CUDA if it really starts, else CPU), cpu, or cuda."
PRECISION_HELP = (
    "Graphs to run: fp32, or a reduced-precision variant the model ships (see `aeinfer info`)."
)
PICTURE_HELP = "Output file ('-': PNG bytes to stdout)."
FORMAT_HELP = "png: a picture; npy: the images as a float32 array."


@app.command()
def denoise(
    inputs: list[Path] = typer.Argument(..., help=INPUTS_HELP, show_default=False),
    output: Path | None = typer.Option(
        None,
        "-o",
        "--output",
        help="Output image (one input), folder (layout kept), or '-' (PNG to stdout). Default: "
        "<stem>.denoised.png beside each input.",
    ),
    model: str = typer.Option(DENOISE_MODEL, "--model", "-m", help=MODEL_HELP),
    device: Device = typer.Option(Device.auto, "--device", help=DEVICE_HELP),
    precision: Precision = typer.Option(Precision[FP32], "--precision", help=PRECISION_HELP),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing outputs."),
) -> None:
    """Clean noisy digit images; each output has the input's size, polarity and mode."""
    with _errors():
        from aeinfer.jobs import DENOISED_TAG, map_images

        sources, target = _sources(inputs), _target(output)
        loaded = _load(model, device, precision)
        bar, callback = _progress_callback(inputs, "denoising")
        with bar:
            report = map_images(
                loaded, sources, target, DENOISED_TAG, overwrite=overwrite, progress=callback
            )
        _finish(report, "denoised")


@app.command()
def reconstruct(
    inputs: list[Path] = typer.Argument(..., help=INPUTS_HELP, show_default=False),
    output: Path | None = typer.Option(
        None,
        "-o",
        "--output",
        help="The sheet (required; '-': PNG to stdout). With --per-file: an output image (one "
        "input), a folder (layout kept) or '-'; default <stem>.reconstructed.png beside each "
        "input.",
    ),
    model: str | None = typer.Option(None, "--model", "-m", help=FALLBACK_HELP),
    device: Device = typer.Option(Device.auto, "--device", help=DEVICE_HELP),
    precision: Precision = typer.Option(Precision[FP32], "--precision", help=PRECISION_HELP),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing outputs."),
    per_file: bool = typer.Option(
        False,
        "--per-file",
        help="One picture per input: the original and its reconstruction side by side, at the "
        "input's size.",
    ),
) -> None:
    """Show originals beside their reconstructions: one sheet, or one picture per input.

    The sheet pairs each 28×28 digit the model sees with its reconstruction, enlarged ×4.

    --per-file pictures keep each input's own size, polarity and mode.
    """
    with _errors():
        from aeinfer.jobs import reconstruct_files
        from aeinfer.zoo import default_model

        sources, target = _sources(inputs), _target(output)
        loaded = _load(model or default_model(RECONSTRUCT_MODEL), device, precision)
        bar, callback = _progress_callback(inputs, "reconstructing")
        with bar:
            report = reconstruct_files(
                loaded,
                sources,
                target,
                per_file=per_file,
                overwrite=overwrite,
                progress=callback,
            )
        if per_file or report.skipped:
            _finish(report, "reconstructed")
        else:
            _say(f"aeinfer: reconstructed {report.processed} image(s) → {_where(output)}")


@app.command()
def score(
    inputs: list[Path] = typer.Argument(..., help=INPUTS_HELP, show_default=False),
    model: str | None = typer.Option(None, "--model", "-m", help=FALLBACK_HELP),
    device: Device = typer.Option(Device.auto, "--device", help=DEVICE_HELP),
    precision: Precision = typer.Option(Precision[FP32], "--precision", help=PRECISION_HELP),
    as_json: bool = typer.Option(
        False, "--json", help="Print JSON: the scores and the test-set distribution."
    ),
) -> None:
    """Anomaly score per image (reconstruction error), with its percentile in the test set.

    Score: mean squared error per pixel (in 0..1) between the digit and its reconstruction.

    Prints "path  score  percentile", the percentile among MNIST test digits (from the card).
    """
    with _errors():
        from aeinfer.jobs import score_files
        from aeinfer.zoo import default_model

        sources = _sources(inputs)
        loaded = _load(model or default_model(RECONSTRUCT_MODEL), device, precision)
        bar, callback = _progress_callback(inputs, "scoring")
        with bar:
            report = score_files(loaded, sources, progress=callback)
        _print_scores(report, as_json)


def _print_scores(report: ScoreReport, as_json: bool) -> None:
    for note in report.notes:
        _say(f"aeinfer: note: {note}")
    for _, message in report.failed:
        _say(f"aeinfer: error: {message}")
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2))
    else:
        width = max((len(row.path) for row in report.rows), default=0)
        for row in report.rows:
            shown = "-" if row.percentile is None else f"{row.percentile:.{PERCENTILE_DIGITS}f}"
            typer.echo(f"{row.path:<{width}}  {row.score:.{SCORE_DIGITS}f}  {shown}")
        _say(_distribution_line(report))
    if report.failed:
        raise typer.Exit(EXIT_ERROR)


def _distribution_line(report: ScoreReport) -> str:
    dist = report.distribution
    if dist is None:
        return (
            f"aeinfer: note: model {report.model!r} has no test-set score distribution in its "
            "card (exported before aeinfer recorded one); percentiles unavailable"
        )
    cuts = ", ".join(
        f"p{key} {value:.{SCORE_DIGITS}f}" for key, value in dist["percentiles"].items()
    )
    return (
        f"aeinfer: columns: path, {dist['metric']}, percentile in {dist['split']} "
        f"({dist['count']} images: mean {dist['mean']:.{SCORE_DIGITS}f}; {cuts})"
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
    precision: Precision = typer.Option(Precision[FP32], "--precision", help=PRECISION_HELP),
    output_format: Format = typer.Option(Format.png, "--format", help=FORMAT_HELP),
    latents: bool = typer.Option(
        False,
        "--latents",
        help="With --format npy: write the codes z instead, for `aeinfer decode` to redraw.",
    ),
    overwrite: bool = typer.Option(True, "--overwrite/--no-overwrite", help="Replace OUTPUT."),
) -> None:
    """Decode random draws z ~ N(0, I) of a variational model into a grid.

    The grid is the picture `aeinfer decode` makes of the codes --format npy --latents writes.
    """
    with _errors():
        from aeinfer.jobs import OutputFormat, write_samples

        target = _target(output)
        drawn = write_samples(
            _load(model, device, precision),
            count,
            seed,
            target,
            output_format=OutputFormat(output_format.value),
            latents=latents,
            overwrite=overwrite,
        )
        _say(f"aeinfer: sampled {count} image(s), seed {drawn.seed} → {_where(output)}")


@app.command()
def manifold(
    output: Path = typer.Option(..., "-o", "--output", help=PICTURE_HELP),
    size: int = typer.Option(
        DEFAULT_MANIFOLD_SIZE,
        "--size",
        min=2,
        max=MAX_MANIFOLD_SIZE,
        help="Cells per side (each a decoded 28×28 digit).",
    ),
    extent: float = typer.Option(
        DEFAULT_MANIFOLD_RANGE, "--range", min=0.0, help="Codes span −RANGE…+RANGE on each axis."
    ),
    model: str = typer.Option(VARIATIONAL_MODEL, "--model", "-m", help=MODEL_HELP),
    device: Device = typer.Option(Device.auto, "--device", help=DEVICE_HELP),
    precision: Precision = typer.Option(Precision[FP32], "--precision", help=PRECISION_HELP),
    overwrite: bool = typer.Option(True, "--overwrite/--no-overwrite", help="Replace OUTPUT."),
) -> None:
    """Draw a vae's 2-D latent space as a grid of decoded digits, with labelled axes.

    z[0] runs from −RANGE to +RANGE left to right, z[1] bottom to top (as in the Keras VAE).
    """
    with _errors():
        from aeinfer.jobs import write_manifold

        target = _target(output)
        write_manifold(_load(model, device, precision), size, extent, target, overwrite=overwrite)
        _say(f"aeinfer: manifold {size}×{size} over ±{extent:g} → {_where(output)}")


@app.command()
def interpolate(
    first: Path = typer.Argument(..., help="The first image ('-': stdin).", show_default=False),
    last: Path = typer.Argument(..., help="The last image ('-': stdin).", show_default=False),
    output: Path = typer.Option(..., "-o", "--output", help=PICTURE_HELP),
    steps: int = typer.Option(
        DEFAULT_STEPS, "--steps", min=2, help="Images in the strip, both ends included."
    ),
    model: str | None = typer.Option(None, "--model", "-m", help=FALLBACK_HELP),
    device: Device = typer.Option(Device.auto, "--device", help=DEVICE_HELP),
    precision: Precision = typer.Option(Precision[FP32], "--precision", help=PRECISION_HELP),
    output_format: Format = typer.Option(Format.png, "--format", help=FORMAT_HELP),
    overwrite: bool = typer.Option(True, "--overwrite/--no-overwrite", help="Replace OUTPUT."),
) -> None:
    """Decode the straight line between two images' codes into one strip.

    Both ends are included (for a vae the line joins the posterior means); digits are ×4.
    """
    with _errors():
        from aeinfer.jobs import OutputFormat, write_interpolation
        from aeinfer.zoo import default_model

        if _is_stdio(first) and _is_stdio(last):
            raise InputError("only one of the two images can be read from stdin")
        sources, target = (_source(first), _source(last)), _target(output)
        write_interpolation(
            _load(model or default_model(RECONSTRUCT_MODEL), device, precision),
            *sources,
            steps,
            target,
            output_format=OutputFormat(output_format.value),
            overwrite=overwrite,
        )
        _say(f"aeinfer: interpolated {steps} step(s) → {_where(output)}")


@app.command()
def scatter(
    output: Path = typer.Option(..., "-o", "--output", help=PICTURE_HELP),
    data_dir: Path | None = typer.Option(
        None, "--data", help="MNIST folder [default: $AEINFER_DATA, else the user cache]."
    ),
    model: str = typer.Option(VARIATIONAL_MODEL, "--model", "-m", help=MODEL_HELP),
    limit: int | None = typer.Option(
        None, "--limit", min=1, help="Use only the first N test images [default: all 10 000]."
    ),
    device: Device = typer.Option(Device.auto, "--device", help=DEVICE_HELP),
    precision: Precision = typer.Option(Precision[FP32], "--precision", help=PRECISION_HELP),
    overwrite: bool = typer.Option(True, "--overwrite/--no-overwrite", help="Replace OUTPUT."),
) -> None:
    """Plot the MNIST test digits' 2-D codes, coloured by digit, with axes and a legend.

    For a vae the codes are the posterior means (as in the Keras VAE example).
    """
    with _errors():
        from aeinfer.jobs import write_scatter

        target = _target(output)
        points = write_scatter(
            _load(model, device, precision), data_dir, target, limit=limit, overwrite=overwrite
        )
        _say(f"aeinfer: plotted {points} code(s) → {_where(output)}")


@app.command()
def encode(
    inputs: list[Path] = typer.Argument(..., help=INPUTS_HELP, show_default=False),
    output: Path = typer.Option(..., "-o", "--output", help="Where to write the latents (.npy)."),
    model: str = typer.Option(DENOISE_MODEL, "--model", "-m", help=MODEL_HELP),
    device: Device = typer.Option(Device.auto, "--device", help=DEVICE_HELP),
    precision: Precision = typer.Option(Precision[FP32], "--precision", help=PRECISION_HELP),
    overwrite: bool = typer.Option(True, "--overwrite/--no-overwrite", help="Replace OUTPUT."),
) -> None:
    """Encode images to latent codes (.npy), one row per image.

    Rows have shape latent_shape, in input order (folders sorted); a vae's code is its mean.
    """
    with _errors():
        from aeinfer.jobs import encode_files

        codes, files = encode_files(
            _load(model, device, precision), inputs, output, overwrite=overwrite
        )
        _say(f"aeinfer: encoded {len(files)} image(s) → {output} {tuple(codes.shape)}")


@app.command()
def decode(
    latents: Path = typer.Argument(
        ..., help="A .npy of shape (N, *latent_shape).", show_default=False
    ),
    output: Path = typer.Option(
        ..., "-o", "--output", help="An image file (a grid of all decoded images) or a folder."
    ),
    model: str = typer.Option(DENOISE_MODEL, "--model", "-m", help=MODEL_HELP),
    device: Device = typer.Option(Device.auto, "--device", help=DEVICE_HELP),
    precision: Precision = typer.Option(Precision[FP32], "--precision", help=PRECISION_HELP),
    overwrite: bool = typer.Option(True, "--overwrite/--no-overwrite", help="Replace outputs."),
) -> None:
    """Decode latent codes (from `aeinfer encode`) back to 28×28 images."""
    with _errors():
        from aeinfer.jobs import decode_file

        written = decode_file(_load(model, device, precision), latents, output, overwrite=overwrite)
        where = written[0] if len(written) == 1 else output
        _say(f"aeinfer: decoded → {where} ({len(written)} file(s))")


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

        table = Table("name", "family", "latent", "precisions", "description")
        for row in rows:
            table.add_row(
                row["name"],
                row["family"],
                "×".join(map(str, row["latent_shape"])),
                " ".join(row["precisions"]),
                row["description"],
            )
        Console().print(table)


@app.command()
def info(
    model: str = typer.Argument(..., help=MODEL_HELP, show_default=False),
    as_json: bool = typer.Option(False, "--json", help="Print the whole card as JSON."),
) -> None:
    """Show a model's card: family, input layout, latent shape, training, metrics, checksums."""
    with _errors():
        from aeinfer.metadata import read_card
        from aeinfer.zoo import resolve

        card = read_card(resolve(model))
        if as_json:
            typer.echo(json.dumps(card.data, indent=2))
            return
        data = card.data
        lines = [
            f"name:        {card.name}",
            f"family:      {card.family} — {data.get('description', '')}",
            f"path:        {card.directory}",
            f"input:       {card.layout} layout, {data['input'].get('shape')}, "
            f"{data['input'].get('dtype')} in {data['input'].get('range')}",
            f"latent:      {card.latent_kind} {list(card.latent_shape)}",
            f"opset:       {data.get('export', {}).get('opset')}",
            f"training:    {data.get('training', {}).get('data', '?')}, "
            f"{data.get('training', {}).get('epochs', '?')} epochs",
        ]
        lines += [f"metric:      {k} = {v}" for k, v in card.metrics.items()]
        if isinstance(data.get("score"), dict):
            dist = data["score"]
            cuts = ", ".join(f"p{k} {v:.4g}" for k, v in dist.get("percentiles", {}).items())
            lines.append(f"score:       {dist.get('metric')} on {dist.get('split')}: {cuts}")
        lines += _variant_lines(data)
        lines += [f"sha256:      {name} {f['sha256']}" for name, f in data["files"].items()]
        typer.echo("\n".join(lines))


def _variant_lines(card: dict[str, Any]) -> list[str]:
    """One line per reduced-precision variant: its cost on the primary metric and its speed."""
    lines = []
    for precision, variant in card.get("variants", {}).items():
        cost, speed = variant.get("cost", {}), variant.get("speed", {})
        lines.append(
            f"precision:   {precision}: {cost.get('metric')} {cost.get('delta', 0.0):+.4g} vs "
            f"fp32, {speed.get('ratio_to_fp32', 0.0):.2f}× fp32 speed "
            f"(batch {speed.get('batch')}, {speed.get('machine')})"
        )
    lines += [
        f"precision:   {precision}: not made ({why})"
        for precision, why in card.get("variants_not_made", {}).items()
    ]
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
        None, "--train-limit", min=1, help="Use only the first N training images."
    ),
) -> None:
    """Train a model family on MNIST (seeded; resumes from the run folder's last checkpoint)."""
    with _errors():
        _require_training()
        from aeinfer.train.trainer import train as run_training

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
            family, run_dir or Path("runs") / family, data_dir=data_dir, train_overrides=overrides
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
        help="Model folder to create (encoder.onnx, decoder.onnx, card.json).",
    ),
    name: str | None = typer.Option(None, "--name", help="Model name [default: the family]."),
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="MNIST folder, for the real-image parity check."
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
        worst = max(card["export"]["parity_max_abs_diff"].values())
        what = f"{card['name']} ({card['family']})"
        _say(f"aeinfer: exported {what} → {output}; parity max |diff| {worst:.2g}")


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
        from aeinfer.train.data import MNIST_FILES, resolve_data_dir, verify_content

        directory = resolve_data_dir(data_dir)
        for name, md5 in MNIST_FILES.items():
            verify_content(directory / name, md5)
            typer.echo(f"ok  {directory / name}")


def main() -> None:
    """Run the command line (the ``aeinfer`` console script enters through
    :func:`aeinfer.__main__.main`, which answers ``--version`` before importing this module)."""
    app()


if __name__ == "__main__":
    sys.exit(main())
