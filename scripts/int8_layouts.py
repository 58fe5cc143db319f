"""Ways to quantize the denoise model to int8, each timed against fp32 and judged, in one run.

    python scripts/int8_layouts.py [--data-dir ../shared/data/mnist] [--model denoise]
        [--batches 64 1024] [--rounds 6] [--round-seconds 0.25]

The bundled int8 variant of a convolutional model is static QDQ, per channel
(``aeinfer.export.variants``). ONNX Runtime runs its quantized convolutions in NHWC while the
graph around them (DepthToSpace of the sub-pixel decoder, max-pooling) stays NCHW, so the
quantized graph pays for transposes (docs/benchmarks.md). This script quantizes the bundled
fp32 graphs several ways, with the same calibration (256 training images, and the fp32
encoder's codes of them for the decoder):

- ``qdq``: what the export does (QDQ, per channel, uint8 activations, int8 weights);
- ``qoperator``: the QOperator format (QLinearConv nodes instead of Q/DQ pairs);
- ``qdq-conv-only``: QDQ, but only the convolutions quantized (pooling and DepthToSpace left
  in float, so they need no quantized layout);
- ``qdq-encoder-only``: the encoder quantized, the decoder fp32;
- ``qdq-decoder-only``: the decoder quantized, the encoder fp32.

Each is timed against the fp32 pair (aeinfer's session options, a pool per session: ONNX
Runtime's quantizer makes sessions of its own, which a process-wide pool would refuse; interleaved
rounds, encoder then decoder on graph-ready input) and judged on the model's own metric: PSNR of
the reconstruction of 2000 noisy test digits (the card's noise factor) against the clean ones,
beside fp32's on the same draw.
"""

from __future__ import annotations

import argparse
import copy
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from bench_machine import machine, markdown_table  # scripts/ is on sys.path when run as a script
from bench_timing import interleaved

import aeinfer
from aeinfer import mnist
from aeinfer.card import FP32, ROLES
from aeinfer.quality import NOISE_FACTOR, add_noise, psnr_per_image
from aeinfer.session import CPU_PROVIDER, import_runtime, session_options

CALIBRATION = 256
JUDGED = 2000
SEED = 0
WAYS = ("qdq", "qoperator", "qdq-conv-only", "qdq-encoder-only", "qdq-decoder-only")


def quantize(
    graph: onnx.ModelProto, target: Path, feeds: list[dict[str, np.ndarray]], way: str
) -> None:
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._feeds = iter(feeds)

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self._feeds, None)

    model = copy.deepcopy(graph)
    del model.graph.value_info[:]
    quantize_static(
        model,
        target,
        Reader(),
        quant_format=QuantFormat.QOperator if way == "qoperator" else QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        op_types_to_quantize=["Conv"] if way == "qdq-conv-only" else None,
    )


def session(path: Path) -> Any:
    ort = import_runtime()
    return ort.InferenceSession(str(path), session_options(ort), providers=[CPU_PROVIDER])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--model", default="denoise")
    parser.add_argument("--batches", nargs="*", type=int, default=[64, 1024])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--round-seconds", type=float, default=0.25)
    args = parser.parse_args()
    print("\n".join(machine().describe()))
    model = aeinfer.load(args.model, device="cpu").model
    card = model.card
    noise = float((card.metrics or {}).get("noise_factor", NOISE_FACTOR))
    train = mnist.load_split("train", args.data_dir).images[:CALIBRATION]
    test = mnist.load_split("test", args.data_dir).images[:JUDGED]
    calib = model.to_graph(model.check_items(train[:, None]))
    clean = model.check_items(test[:, None])
    noisy = model.to_graph(add_noise(clean, noise, np.random.default_rng(SEED)))
    names = {
        "image": card.encoder.inputs[0].name,
        "code": card.encoder.outputs[0].name,
        "latent": card.decoder.inputs[0].name,
    }
    fp32 = {role: card.graph_path(role, FP32) for role in ROLES}
    encoder32 = session(fp32["encoder"])
    codes = [encoder32.run([names["code"]], {names["image"]: calib[i : i + 32]})[0]
             for i in range(0, CALIBRATION, 32)]  # fmt: skip
    feeds = {
        "encoder": [{names["image"]: calib[i : i + 32]} for i in range(0, CALIBRATION, 32)],
        "decoder": [{names["latent"]: c} for c in codes],
    }
    pairs: dict[str, dict[str, Any]] = {"fp32": {r: session(p) for r, p in fp32.items()}}
    with tempfile.TemporaryDirectory(prefix="aeinfer-int8-") as tmp:
        for way in WAYS:
            pair = {}
            for role in ROLES:
                keep = (way == "qdq-encoder-only" and role == "decoder") or (
                    way == "qdq-decoder-only" and role == "encoder"
                )
                if keep:
                    pair[role] = pairs["fp32"][role]
                    continue
                target = Path(tmp) / f"{way}-{role}.onnx"
                quantize(onnx.load(str(fp32[role])), target, feeds[role], way)
                pair[role] = session(target)
            pairs[way] = pair

    def run(pair: dict[str, Any], x: np.ndarray) -> np.ndarray:
        code = pair["encoder"].run([names["code"]], {names["image"]: x})[0]
        return pair["decoder"].run(None, {names["latent"]: code})[0]

    psnr = {}
    for way, pair in pairs.items():
        out = np.clip(run(pair, noisy).reshape(clean.shape), 0.0, 1.0)
        psnr[way] = float(psnr_per_image(out, clean).mean())
    speed: dict[int, dict[str, float]] = {}
    for batch in args.batches:
        x = noisy[:batch] if batch <= JUDGED else np.resize(noisy, (batch, *noisy.shape[1:]))
        timings = interleaved(
            {way: (lambda p=pair, x=x: run(p, x)) for way, pair in pairs.items()},
            batch,
            args.rounds,
            args.round_seconds,
        )
        speed[batch] = {way: t.images_per_s for way, t in timings.items()}
    rows = []
    for way in pairs:
        row = [way, f"{psnr[way]:.3f}", f"{psnr[way] - psnr['fp32']:+.3f}"]
        row += [f"{speed[b][way] / speed[b]['fp32']:.2f}×" for b in args.batches]
        rows.append(row)
    header = [
        "way",
        "PSNR noisy→clean dB",
        "vs fp32 dB",
        *[f"× fp32, batch {b}" for b in args.batches],
    ]
    print(f"\n{args.model}: noise factor {noise}, {JUDGED} test digits, ", end="")
    print(f"{CALIBRATION} calibration images\n")
    print(markdown_table(header, rows))


if __name__ == "__main__":
    main()
