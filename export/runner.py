"""Running an exported graph at export time: ONNX Runtime when installed, else ONNX's reference.

Export checks the graphs it writes by running them (the parity gate, the score distribution).
``aeinfer[train]`` must be able to export on its own, and it cannot depend on ONNX Runtime:
``onnxruntime`` and ``onnxruntime-gpu`` overwrite each other, so a user picks one through
``[cpu]`` or ``[gpu]``. So graphs run in ONNX Runtime where either is installed, and otherwise
in ``onnx.reference.ReferenceEvaluator`` — the ONNX specification's own semantics, in numpy;
slower, and just as strict. The card records which one checked the graphs.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx


def ort_available() -> bool:
    """Whether an ONNX Runtime distribution is importable (it is looked up, not imported)."""
    try:
        return importlib.util.find_spec("onnxruntime") is not None
    except (ImportError, ValueError):
        return False


class GraphRunner:
    """One graph, runnable by name: ``run(feeds) → outputs`` and its I/O descriptions."""

    def __init__(self, proto: onnx.ModelProto, *, use_ort: bool | None = None) -> None:
        self.use_ort = ort_available() if use_ort is None else use_ort
        data = proto.SerializeToString()
        if self.use_ort:
            from aeinfer.session import session_options

            ort = importlib.import_module("onnxruntime")
            # aeinfer's options: in the process-wide pool where there is one (ORT refuses a
            # session of its own there), else a pool of its own.
            options = session_options(ort)
            self._session: Any = ort.InferenceSession(
                data, options, providers=["CPUExecutionProvider"]
            )
            self.engine = f"ONNX Runtime {ort.__version__} (CPU)"
        else:
            from onnx.reference import ReferenceEvaluator

            self._session = ReferenceEvaluator(onnx.load_from_string(data))
            self.engine = f"onnx {onnx.__version__} reference evaluator"
        self.inputs = [i.name for i in proto.graph.input]
        self.outputs = [o.name for o in proto.graph.output]

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        results = self._session.run(None, feeds)
        return [np.asarray(r, dtype=np.float32) for r in results]


@dataclass(frozen=True)
class TensorInfo:
    """A graph input or output as ONNX Runtime's ``get_inputs()`` describes it."""

    name: str
    type: str
    shape: list[int | str | None]


def proto_io(proto: onnx.ModelProto) -> tuple[list[TensorInfo], list[TensorInfo]]:
    """A graph's inputs and outputs, described as ONNX Runtime describes them, read from the
    proto (so the card can be checked against a graph before any runtime loads it)."""

    def describe(value: onnx.ValueInfoProto) -> TensorInfo:
        tensor = value.type.tensor_type
        dtype = (
            "tensor(float)" if tensor.elem_type == onnx.TensorProto.FLOAT else str(tensor.elem_type)
        )
        shape: list[int | str | None] = [
            dim.dim_value if dim.HasField("dim_value") else (dim.dim_param or None)
            for dim in tensor.shape.dim
        ]
        return TensorInfo(value.name, dtype, shape)

    initializers = {init.name for init in proto.graph.initializer}
    inputs = [describe(v) for v in proto.graph.input if v.name not in initializers]
    return inputs, [describe(v) for v in proto.graph.output]


__all__ = ["GraphRunner", "TensorInfo", "ort_available", "proto_io"]
