"""Export an (encoder, decoder) pair to ``encoder.onnx`` + ``decoder.onnx`` + ``card.json``.

Uses the dynamo-based ``torch.onnx.export`` (the default since torch 2.9) with a dynamic batch
axis, and saves each graph as a single file (no external ``.data``). Before anything is written,
both graphs run in ONNX Runtime on random and real inputs and must match torch within
``Tolerance`` — elementwise ``|ort - torch| <= atol + rtol·|torch|`` — for the encoder, the decoder
and the round trip decoder(encoder(x)); otherwise :class:`ExportError` is raised and the target
directory is left as it was. The whole directory is assembled in a temporary sibling and renamed
into place, so a model directory is never half-written.

Given reference images (:class:`ScoreData`), the card also gets the distribution of the anomaly
score ``aeinfer score`` reports (per-image MSE of the reconstruction), measured with ONNX Runtime
on the very graph bytes that are written, so the runtime's scores compare like with like.

Before the parity check, :mod:`aeinfer.export.optimize` folds nearest-upsampling + 3×3
convolution pairs into sub-pixel convolutions (exact, faster); the gate checks the result.

Any pair of modules can be exported this way, not only aeinfer's families: see
:func:`export_pair` and the README section "Serving your own model".
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from torch import nn

from aeinfer.errors import ExportError
from aeinfer.export.optimize import SUBPIXEL_REWRITE, fold_upsample_conv
from aeinfer.metadata import (
    CARD_FILE,
    CARD_FORMAT_VERSION,
    DECODER_FILE,
    ENCODER_FILE,
    IMAGE_NAME,
    LATENT_DETERMINISTIC,
    LATENT_GAUSSIAN,
    LATENT_NAME,
    LAYOUTS,
    LOGVAR_NAME,
    MEAN_NAME,
    card_to_metadata_props,
    sha256_file,
)
from aeinfer.quality import score_distribution, score_per_image

# Opset 18 runs on every ONNX Runtime since 1.14, which matters for edge devices that lag.
OPSET = 18
BATCH_AXIS = "batch"
PIXEL_RANGE = (0.0, 1.0)
# Parity is checked at several batch sizes to prove the batch axis really is dynamic.
PARITY_BATCHES = (1, 7)
MODEL_DIR_MODE = 0o755
# Images per ONNX Runtime call when measuring the score distribution.
SCORE_BATCH = 1000
SCORE_COMPUTED_WITH = "ONNX Runtime (CPU) on the exported graphs, decoder(encoder(x))"


@dataclass(frozen=True)
class Tolerance:
    """Elementwise tolerance of ONNX Runtime against torch: |ort − torch| ≤ atol + rtol·|torch|."""

    atol: float = 1e-4
    rtol: float = 1e-3


@dataclass(frozen=True)
class ExportSpec:
    """What a model is: the facts written into its card and its graphs' metadata_props.

    ``layout`` is how the encoder takes a batch of images: ``flat`` (N, H·W), ``image``
    (N, 1, H, W) or ``sequence`` (N, H, W). The decoder returns the same layout. Pixels are
    float32 in [0, 1], white digit on black as in MNIST. ``latent_kind`` ``gaussian`` means
    the encoder returns (mean, logvar) and the decoder takes a sample.
    """

    name: str
    family: str
    layout: str
    image_size: tuple[int, int] = (28, 28)
    latent_kind: str = LATENT_DETERMINISTIC
    description: str = ""
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ScoreData:
    """Reference images for the card's score distribution: (N, H, W) float32 in [0, 1], white
    on black, and the name of where they come from (e.g. "MNIST test")."""

    images: np.ndarray
    split: str


def _encoder_outputs(kind: str) -> list[str]:
    return [MEAN_NAME, LOGVAR_NAME] if kind == LATENT_GAUSSIAN else [LATENT_NAME]


def _as_tuple(value: torch.Tensor | tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    return value if isinstance(value, tuple) else (value,)


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Silence the exporter's chatter that says nothing about this model (e.g. "torchvision is
    not installed. Skipping torchvision::nms", deprecation notices inside torch.export)."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.filterwarnings("ignore", message=".*were assigned during export.*")
            yield
    finally:
        logger.setLevel(level)


def _to_proto(module: nn.Module, example: torch.Tensor, inputs: list[str], outputs: list[str]):
    """Dynamo-export ``module`` to an in-memory ModelProto with a dynamic batch axis."""
    batch = torch.export.Dim(BATCH_AXIS, min=1)
    try:
        with _quiet_exporter():
            program = torch.onnx.export(
                module,
                (example,),
                input_names=inputs,
                output_names=outputs,
                dynamic_shapes=({0: batch},),
                opset_version=OPSET,
                dynamo=True,
                external_data=False,
                verbose=False,
            )
    except torch.onnx.errors.OnnxExporterError as exc:
        raise ExportError(f"torch.onnx.export failed for {type(module).__name__}: {exc}") from exc
    if program is None:
        raise ExportError(f"torch.onnx.export returned nothing for {type(module).__name__}")
    return program.model_proto


def _ort_session(proto_bytes: bytes):
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise ExportError(
            "the parity check needs ONNX Runtime: pip install 'aeinfer[cpu]'"
        ) from exc
    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(proto_bytes, options, providers=["CPUExecutionProvider"])


def _compare(
    what: str,
    ort_out: np.ndarray,
    torch_out: torch.Tensor,
    tol: Tolerance,
    report: dict[str, float],
) -> None:
    expected = torch_out.detach().numpy()
    if ort_out.shape != expected.shape:
        raise ExportError(f"parity: {what} shape {ort_out.shape} != torch {expected.shape}")
    diff = np.abs(ort_out - expected)
    report[what] = max(report.get(what, 0.0), float(diff.max(initial=0.0)))
    bad = diff > tol.atol + tol.rtol * np.abs(expected)
    if bad.any():
        raise ExportError(
            f"parity: {what} differs from torch beyond atol={tol.atol}, rtol={tol.rtol} "
            f"(max |diff| {diff.max():.3g} at {int(bad.sum())} of {bad.size} values)"
        )


def check_parity(
    encoder: nn.Module,
    decoder: nn.Module,
    encoder_bytes: bytes,
    decoder_bytes: bytes,
    inputs: list[torch.Tensor],
    tol: Tolerance,
) -> dict[str, float]:
    """Run both graphs in ONNX Runtime on each input batch; raise ExportError on a mismatch.

    Returns the largest absolute difference seen per check.
    """
    enc_sess, dec_sess = _ort_session(encoder_bytes), _ort_session(decoder_bytes)
    report: dict[str, float] = {}
    with torch.no_grad():
        for x in inputs:
            torch_codes = _as_tuple(encoder(x))
            ort_codes = enc_sess.run(None, {IMAGE_NAME: x.numpy()})
            for name, o, t in zip(
                _encoder_outputs_of(enc_sess), ort_codes, torch_codes, strict=True
            ):
                _compare(f"encoder.{name}", o, t, tol, report)
            code = torch_codes[0]
            _compare(
                "decoder",
                dec_sess.run(None, {LATENT_NAME: code.numpy()})[0],
                decoder(code),
                tol,
                report,
            )
            # A latent off the data manifold exercises the decoder where training never went.
            off = code + torch.randn(code.shape, generator=torch.Generator().manual_seed(0))
            _compare(
                "decoder.perturbed",
                dec_sess.run(None, {LATENT_NAME: off.numpy()})[0],
                decoder(off),
                tol,
                report,
            )
            round_trip = dec_sess.run(None, {LATENT_NAME: ort_codes[0]})[0]
            _compare("decoder(encoder(x))", round_trip, decoder(code), tol, report)
    return report


def measure_scores(
    encoder_bytes: bytes, decoder_bytes: bytes, images: np.ndarray, input_shape: tuple[int, ...]
) -> np.ndarray:
    """Per-image MSE of decoder(encoder(x)) in ONNX Runtime, as ``aeinfer score`` computes it
    (the first encoder output is the code: the mean for a variational model)."""
    enc_sess, dec_sess = _ort_session(encoder_bytes), _ort_session(decoder_bytes)
    scores = []
    for start in range(0, len(images), SCORE_BATCH):
        chunk = np.ascontiguousarray(images[start : start + SCORE_BATCH], dtype=np.float32)
        code = enc_sess.run(None, {IMAGE_NAME: chunk.reshape((len(chunk), *input_shape))})[0]
        recon = dec_sess.run(None, {LATENT_NAME: code})[0].reshape(chunk.shape)
        scores.append(score_per_image(np.clip(recon, *PIXEL_RANGE), chunk))
    return np.concatenate(scores)


def _encoder_outputs_of(session) -> list[str]:
    return [o.name for o in session.get_outputs()]


def _parity_inputs(example: torch.Tensor, real: torch.Tensor | None) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    shape = tuple(example.shape[1:])
    batches = [torch.rand((n, *shape), generator=gen) for n in PARITY_BATCHES]
    if real is not None:
        batches.append(real.reshape((real.shape[0], *shape)).float())
    return batches


def export_pair(
    encoder: nn.Module,
    decoder: nn.Module,
    example: torch.Tensor,
    out_dir: Path,
    spec: ExportSpec,
    *,
    real_inputs: torch.Tensor | None = None,
    tolerance: Tolerance = Tolerance(),
    score_data: ScoreData | None = None,
) -> dict[str, Any]:
    """Export ``encoder`` and ``decoder`` into ``out_dir`` and return the card written there.

    ``example`` is one batch in the encoder's input layout (values in [0, 1]); ``real_inputs``
    is a batch of real images for the parity check (any shape that reshapes to the example's
    per-item shape). Raises :class:`ExportError` if ORT and torch disagree beyond ``tolerance``.
    With ``score_data`` the card gets a ``score`` entry: the distribution of per-image MSE of
    the reconstructions of those images (see :func:`aeinfer.quality.score_distribution`).
    """
    if spec.layout not in LAYOUTS:
        raise ExportError(f"unknown layout {spec.layout!r}; valid: {', '.join(LAYOUTS)}")
    if spec.latent_kind not in (LATENT_DETERMINISTIC, LATENT_GAUSSIAN):
        raise ExportError(f"unknown latent kind {spec.latent_kind!r}")
    encoder, decoder = encoder.eval(), decoder.eval()
    enc_outputs = _encoder_outputs(spec.latent_kind)
    with torch.no_grad():
        codes = _as_tuple(encoder(example))
    if len(codes) != len(enc_outputs):
        raise ExportError(
            f"encoder returns {len(codes)} tensor(s); a {spec.latent_kind} latent needs "
            f"{len(enc_outputs)} ({', '.join(enc_outputs)})"
        )
    enc_proto, enc_folded = fold_upsample_conv(
        _to_proto(encoder, example, [IMAGE_NAME], enc_outputs)
    )
    dec_proto, dec_folded = fold_upsample_conv(
        _to_proto(decoder, codes[0], [LATENT_NAME], [IMAGE_NAME])
    )
    enc_bytes, dec_bytes = enc_proto.SerializeToString(), dec_proto.SerializeToString()
    report = check_parity(
        encoder, decoder, enc_bytes, dec_bytes, _parity_inputs(example, real_inputs), tolerance
    )

    card: dict[str, Any] = {
        "format_version": CARD_FORMAT_VERSION,
        "name": spec.name,
        "family": spec.family,
        "description": spec.description,
        "input": {
            "layout": spec.layout,
            "shape": list(example.shape[1:]),
            "image_size": list(spec.image_size),
            "dtype": "float32",
            "range": list(PIXEL_RANGE),
            "polarity": "white on black (MNIST)",
        },
        "latent": {"kind": spec.latent_kind, "shape": list(codes[0].shape[1:])},
        "graphs": {
            "encoder": {"inputs": [IMAGE_NAME], "outputs": enc_outputs},
            "decoder": {"inputs": [LATENT_NAME], "outputs": [IMAGE_NAME]},
        },
        "training": spec.training,
        "metrics": spec.metrics,
        **_score_entry(enc_bytes, dec_bytes, score_data, tuple(example.shape[1:])),
        "export": {
            "opset": OPSET,
            "exporter": f"torch.onnx dynamo, torch {torch.__version__}, onnx {onnx.__version__}",
            "graph_rewrites": {SUBPIXEL_REWRITE: enc_folded + dec_folded},
            "tolerance": asdict(tolerance),
            "parity_max_abs_diff": report,
        },
    }
    _write_model_dir(out_dir, card, {ENCODER_FILE: enc_proto, DECODER_FILE: dec_proto})
    return json.loads((out_dir / CARD_FILE).read_text(encoding="utf-8"))


def _score_entry(
    encoder_bytes: bytes,
    decoder_bytes: bytes,
    score_data: ScoreData | None,
    input_shape: tuple[int, ...],
) -> dict[str, Any]:
    """``{"score": distribution}`` for the card, or nothing without reference images."""
    if score_data is None:
        return {}
    scores = measure_scores(encoder_bytes, decoder_bytes, score_data.images, input_shape)
    return {"score": score_distribution(scores, score_data.split, SCORE_COMPUTED_WITH)}


def _write_model_dir(out_dir: Path, card: dict[str, Any], protos: dict[str, Any]) -> None:
    """Assemble the model directory in a temporary sibling, then swap it into place."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    staging.chmod(MODEL_DIR_MODE)  # mkdtemp makes it private; a model folder is for sharing
    try:
        files: dict[str, dict[str, Any]] = {}
        for file_name, proto in protos.items():
            role = file_name.removesuffix(".onnx")
            del proto.metadata_props[:]
            for key, value in card_to_metadata_props(card, role).items():
                proto.metadata_props.add(key=key, value=value)
            proto.producer_name = "aeinfer"
            onnx.checker.check_model(proto)
            path = staging / file_name
            onnx.save_model(proto, path, save_as_external_data=False)
            files[file_name] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
        (staging / CARD_FILE).write_text(
            json.dumps({**card, "files": files}, indent=2, sort_keys=False) + "\n", encoding="utf-8"
        )
        swap_into_place(staging, out_dir)
    finally:
        if staging.exists():
            shutil.rmtree(staging)


def swap_into_place(staging: Path, out_dir: Path) -> None:
    """Replace ``out_dir`` by the finished ``staging`` sibling with two renames, so readers see
    the old directory or the new one, never a mixture."""
    if not out_dir.exists():
        staging.rename(out_dir)
        return
    old = out_dir.with_name(f".{out_dir.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    out_dir.rename(old)
    staging.rename(out_dir)
    shutil.rmtree(old)
