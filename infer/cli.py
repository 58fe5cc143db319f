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
from typing import TYPE_CHECKING, Any

import typer

from aeinfer import __version__
from aeinfer.errors import AeinferError, RuntimeMissingError

if TYPE_CHECKING:
    from aeinfer.jobs import JobReport
    from aeinfer.model import Model

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130
# More inputs than this get a progress bar.
PROGRESS_THRESHOLD = 8
TRAIN_HINT = "training and export need PyTorch and onnx: pip install 'aeinfer[train]'"

app = typer.Typer(
    name="aeinfer",
    help="Autoencoders on ONNX Runtime: denoise, encode and decode images; train and export "
    "models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
data_app = typer.Typer(help="The MNIST dataset: download it (needs internet) or verify it.")
app.add_typer(data_app, name="data")


class Device(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


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


def _load(model: str, device: Device) -> Model:
    from aeinfer.model import load

    loaded = load(model, device=device.value)
    if device is Device.auto:
        _say(f"aeinfer: {loaded.device_note}")
    return loaded


def _progress_callback(total: int, label: str) -> tuple[Any, Any]:
    """A rich progress bar on stderr when there are many inputs, else nothing."""
    if total <= PROGRESS_THRESHOLD:
        return contextlib.nullcontext(), None
    from rich.console import Console
    from rich.progress import Progress

    bar = Progress(console=Console(stderr=True), transient=True)
    task = bar.add_task(label, total=total)
    return bar, lambda done, _total: bar.update(task, completed=done)


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


INPUTS_HELP = "Image files or folders (folders are searched recursively)."
MODEL_HELP = "Bundled model name (see `aeinfer models`) or a model directory."
DEVICE_HELP = "Where to run: auto (CUDA if it really starts, else CPU), cpu, or cuda."


@app.command()
def denoise(
    inputs: list[Path] = typer.Argument(..., help=INPUTS_HELP, show_default=False),
    output: Path | None = typer.Option(
        None,
        "-o",
        "--output",
        help="Output image (one input) or folder (layout kept). Default: <stem>.denoised.png "
        "beside each input.",
    ),
    model: str = typer.Option("denoise", "--model", "-m", help=MODEL_HELP),
    device: Device = typer.Option(Device.auto, "--device", help=DEVICE_HELP),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing outputs."),
) -> None:
    """Clean noisy digit images; each output has the input's size, polarity and mode."""
    with _errors():
        from aeinfer.jobs import map_images

        loaded = _load(model, device)
        bar, callback = _progress_callback(len(inputs), "denoising")
        with bar:
            report = map_images(
                loaded, inputs, output, "denoised", overwrite=overwrite, progress=callback
            )
        _finish(report, "denoised")


@app.command()
def encode(
    inputs: list[Path] = typer.Argument(..., help=INPUTS_HELP, show_default=False),
    output: Path = typer.Option(..., "-o", "--output", help="Where to write the latents (.npy)."),
    model: str = typer.Option("denoise", "--model", "-m", help=MODEL_HELP),
    device: Device = typer.Option(Device.auto, "--device", help=DEVICE_HELP),
    overwrite: bool = typer.Option(True, "--overwrite/--no-overwrite", help="Replace OUTPUT."),
) -> None:
    """Encode images to latent codes: one row of shape latent_shape per image, in input order
    (folders sorted). For a vae the code is the posterior mean."""
    with _errors():
        from aeinfer.jobs import encode_files

        codes, files = encode_files(_load(model, device), inputs, output, overwrite=overwrite)
        _say(f"aeinfer: encoded {len(files)} image(s) → {output} {tuple(codes.shape)}")


@app.command()
def decode(
    latents: Path = typer.Argument(
        ..., help="A .npy of shape (N, *latent_shape).", show_default=False
    ),
    output: Path = typer.Option(
        ..., "-o", "--output", help="An image file (a grid of all decoded images) or a folder."
    ),
    model: str = typer.Option("denoise", "--model", "-m", help=MODEL_HELP),
    device: Device = typer.Option(Device.auto, "--device", help=DEVICE_HELP),
    overwrite: bool = typer.Option(True, "--overwrite/--no-overwrite", help="Replace outputs."),
) -> None:
    """Decode latent codes (from `aeinfer encode`) back to 28×28 images."""
    with _errors():
        from aeinfer.jobs import decode_file

        written = decode_file(_load(model, device), latents, output, overwrite=overwrite)
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

        table = Table("name", "family", "latent", "description")
        for row in rows:
            table.add_row(
                row["name"],
                row["family"],
                "×".join(map(str, row["latent_shape"])),
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
        lines += [f"sha256:      {name} {f['sha256']}" for name, f in data["files"].items()]
        typer.echo("\n".join(lines))


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
    try:
        import onnx  # noqa: F401
        import torch  # noqa: F401
    except ImportError as exc:
        raise RuntimeMissingError(TRAIN_HINT) from exc


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
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    sys.exit(main())
