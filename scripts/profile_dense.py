"""Where the fully connected models spend their time at large batches, op by op, ONNX Runtime
against torch eager on the same weights and the same shapes, in one run.

    python scripts/profile_dense.py [--models dense sparse deep vae] [--batch 1024]
        [--rounds 6] [--round-seconds 0.2]

The bundled fp32 graphs of these models are chains of ``Gemm`` (``transB=1``), ``Relu`` and
``Sigmoid`` nodes. Each node is timed alone, at the shape it sees at ``--batch``, three ways in
interleaved rounds (``bench_timing.interleaved``): a one-node ONNX Runtime session made with
aeinfer's session options, the same with one intra-op thread, and the torch op on the same
weights (``torch.nn.functional.linear``, ``torch.relu``, ``torch.sigmoid``: what the family's
``nn.Linear``/activation modules call). Then the whole chain: aeinfer's ``Model.reconstruct``,
the two bare sessions, and torch running the same nodes in order on the same weights (no
checkpoint needed: the weights are read from the graphs). Printed per model: a table of ops
(ms per call, GFLOP/s for the GEMMs, ORT/torch speed) and where the end-to-end gap comes from.

For meaningful numbers, run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
import torch
from bench_machine import machine, markdown_table  # scripts/ is on sys.path when run as a script
from bench_timing import MS, interleaved
from onnx import helper, numpy_helper

import aeinfer
from aeinfer.card import FP32, ROLES
from aeinfer.session import CPU_PROVIDER, cpu_threads, import_runtime, session_options

MODELS = ("dense", "sparse", "deep", "vae")
BATCH = 1024
ROUNDS = 6
ROUND_SECONDS = 0.2
OPSET = 18
FLOPS_PER_MAC = 2
GIGA = 1e9
ORT, ORT_1, TORCH = "ort", "ort 1 thread", "torch"
SEED = 0


@dataclass
class Node:
    """One node of a graph, its weights as torch tensors and numpy arrays."""

    graph: str
    op: str
    name: str
    inputs: list[str]
    output: str
    weights: dict[str, np.ndarray]
    attributes: dict[str, Any]


def read_nodes(model: aeinfer.Autoencoder) -> list[Node]:
    """The nodes of the encoder then the decoder, with their initializers."""
    nodes = []
    for role in ROLES:
        graph = onnx.load(str(model.card.graph_path(role, FP32))).graph
        inits = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
        for node in graph.node:
            if node.op_type not in ("Gemm", "Relu", "Sigmoid"):
                raise SystemExit(f"{model.name}: {node.op_type} is not profiled by this script")
            nodes.append(
                Node(
                    role,
                    node.op_type,
                    node.name,
                    list(node.input),
                    node.output[0],
                    {name: inits[name] for name in node.input if name in inits},
                    {a.name: helper.get_attribute_value(a) for a in node.attribute},
                )
            )
    return nodes


def one_node_session(node: Node, width: int, threads: int) -> Any:
    """An ORT session that runs ``node`` alone on (batch, width) float32 input."""
    ort = import_runtime()
    x = helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["batch", width])
    y = helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)
    weights = [numpy_helper.from_array(v, name) for name, v in node.weights.items()]
    inputs = ["x", *[name for name in node.inputs if name in node.weights]]
    made = helper.make_node(node.op, inputs, ["y"], **node.attributes)
    graph = helper.make_graph([made], node.name or node.op, [x], [y], weights)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    options = session_options(ort, threads)
    return ort.InferenceSession(proto.SerializeToString(), options, providers=[CPU_PROVIDER])


def torch_op(node: Node) -> Callable[[torch.Tensor], torch.Tensor]:
    """The torch call a family's module makes for ``node`` (``nn.Linear`` → ``F.linear``)."""
    if node.op == "Relu":
        return torch.relu
    if node.op == "Sigmoid":
        return torch.sigmoid
    if node.attributes.get("transB") != 1 or node.attributes.get("transA", 0):
        raise SystemExit(f"{node.name}: only Gemm with transB=1 is profiled")
    weight, bias = (torch.from_numpy(v.copy()) for v in node.weights.values())
    return lambda x: torch.nn.functional.linear(x, weight, bias)


def _width(node: Node, widths: dict[str, int]) -> int:
    return widths[node.inputs[0]]


def profile(name: str, batch: int, rounds: int, budget: float) -> tuple[str, list[str]]:
    model = aeinfer.load(name, device="cpu")
    nodes = read_nodes(model)
    rng = np.random.default_rng(SEED)
    item = tuple(int(s) for s in model.item_shape if s is not None)
    flat = int(np.prod(item))
    widths: dict[str, int] = {}
    card = model.card
    widths[card.encoder.inputs[0].name] = flat
    rows = []
    sums = {ORT: 0.0, ORT_1: 0.0, TORCH: 0.0}
    decoder_input = card.decoder.inputs[0].name
    code_name = card.encoder.outputs[0].name
    for node in nodes:
        if node.graph == "decoder" and node.inputs[0] == decoder_input:
            widths[decoder_input] = widths[code_name]
        width = _width(node, widths)
        out_width = node.weights[node.inputs[1]].shape[0] if node.op == "Gemm" else width
        widths[node.output] = out_width
        x = rng.random((batch, width), dtype=np.float32)
        xt = torch.from_numpy(x)
        full = one_node_session(node, width, cpu_threads())
        single = one_node_session(node, width, 1)
        op = torch_op(node)

        def run_torch(
            op: Callable[[torch.Tensor], torch.Tensor] = op, xt: torch.Tensor = xt
        ) -> Any:
            with torch.inference_mode():
                return op(xt).numpy()

        ort_out = full.run(None, {"x": x})[0]
        if not np.allclose(ort_out, run_torch(), atol=1e-4, rtol=1e-4):
            raise SystemExit(f"{name} {node.name}: ORT and torch disagree")
        timings = interleaved(
            {
                ORT: lambda s=full, x=x: s.run(None, {"x": x}),
                ORT_1: lambda s=single, x=x: s.run(None, {"x": x}),
                TORCH: run_torch,
            },
            batch,
            rounds,
            budget,
        )
        ms = {k: t.median_ms for k, t in timings.items()}
        for key in sums:
            sums[key] += ms[key]
        macs = batch * width * out_width if node.op == "Gemm" else 0
        shape = f"({batch}×{width}) · ({width}×{out_width})" if macs else f"({batch}×{width})"

        def rate(key: str, macs: int = macs, ms: dict[str, float] = ms) -> str:
            return f"{FLOPS_PER_MAC * macs / (ms[key] / MS) / GIGA:.0f}" if macs else ""

        rows.append(
            [
                node.graph,
                node.op,
                shape,
                f"{ms[ORT]:.3f}",
                f"{ms[ORT_1]:.3f}",
                f"{ms[TORCH]:.3f}",
                rate(ORT),
                rate(TORCH),
                f"{ms[TORCH] / ms[ORT]:.2f}×",
            ]
        )
    rows.append(
        [
            "sum",
            "",
            "",
            f"{sums[ORT]:.3f}",
            f"{sums[ORT_1]:.3f}",
            f"{sums[TORCH]:.3f}",
            "",
            "",
            f"{sums[TORCH] / sums[ORT]:.2f}×",
        ]
    )
    table = markdown_table(
        [
            "graph",
            "op",
            "shape",
            "ORT ms",
            "ORT 1 thread ms",
            "torch ms",
            "ORT GFLOP/s",
            "torch GFLOP/s",
            "ORT speed vs torch",
        ],
        rows,
    )
    whole = end_to_end(model, nodes, batch, rounds, budget, item)
    return table, whole


def torch_chain(nodes: list[Node], card: Any) -> Callable[[np.ndarray], np.ndarray]:
    """The graphs' nodes in order, in torch, on the graphs' weights: what torch eager runs."""
    ops = [(node, torch_op(node)) for node in nodes]
    first = card.encoder.inputs[0].name
    code_name = card.encoder.outputs[0].name
    decoder_input = card.decoder.inputs[0].name
    final = card.decoder.outputs[0].name

    def run(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            values = {first: torch.from_numpy(x).reshape(x.shape[0], -1)}
            for node, op in ops:
                if node.inputs[0] == decoder_input and decoder_input not in values:
                    values[decoder_input] = values[code_name]
                values[node.output] = op(values[node.inputs[0]])
            return values[final].reshape(x.shape).numpy()

    return run


def end_to_end(
    model: aeinfer.Autoencoder,
    nodes: list[Node],
    batch: int,
    rounds: int,
    budget: float,
    item: tuple[int, ...],
) -> list[str]:
    """aeinfer's reconstruct, the bare sessions and the torch chain, interleaved."""
    x = np.random.default_rng(SEED).random((batch, *item), dtype=np.float32)
    tensor_model = model.model
    card = tensor_model.card
    ort = import_runtime()
    sessions = [  # made as aeinfer makes its own: the same graphs, the same options
        ort.InferenceSession(
            card.graph_path(role, FP32).read_bytes(),
            session_options(ort),
            providers=[CPU_PROVIDER],
        )
        for role in ROLES
    ]
    image_name = card.encoder.inputs[0].name
    code_name = card.encoder.outputs[0].name
    latent_name = card.decoder.inputs[0].name
    graph_x = tensor_model.to_graph(tensor_model.check_items(x))
    chain = torch_chain(nodes, card)
    if not np.allclose(model.reconstruct(x), chain(x), atol=1e-4):
        raise SystemExit(f"{model.name}: aeinfer and the torch chain disagree")

    def bare() -> Any:
        encoder, decoder = sessions
        code = encoder.run([code_name], {image_name: graph_x})[0]
        return decoder.run(None, {latent_name: code})

    timings = interleaved(
        {"aeinfer": lambda: model.reconstruct(x), "sessions": bare, TORCH: lambda: chain(x)},
        batch,
        rounds,
        budget,
    )
    ms = {k: t.median_ms for k, t in timings.items()}
    return [
        f"aeinfer `reconstruct` {ms['aeinfer']:.3f} ms, the two bare sessions "
        f"{ms['sessions']:.3f} ms, torch eager {ms[TORCH]:.3f} ms per {batch} images: "
        f"aeinfer/torch speed {ms[TORCH] / ms['aeinfer']:.2f}×, sessions/torch "
        f"{ms[TORCH] / ms['sessions']:.2f}×; aeinfer's own work around the sessions "
        f"(checks, layout, clip) {ms['aeinfer'] - ms['sessions']:.3f} ms"
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=list(MODELS))
    parser.add_argument("--batch", type=int, default=BATCH)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--round-seconds", type=float, default=ROUND_SECONDS)
    args = parser.parse_args()
    torch.set_num_threads(cpu_threads())
    print("\n".join(machine().describe()))
    print(f"torch threads {torch.get_num_threads()}, ORT intra-op threads {cpu_threads()}\n")
    for name in args.models:
        table, whole = profile(name, args.batch, args.rounds, args.round_seconds)
        print(f"### {name}, batch {args.batch}, median ms per call\n\n{table}\n")
        print("\n".join(whole) + "\n")


if __name__ == "__main__":
    main()
