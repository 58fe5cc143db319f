"""Export-time graph rewrites: nearest ×2 upsampling + 3×3 conv folded into a sub-pixel conv."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from aeinfer.export.optimize import fold_upsample_conv, subpixel_weights

C_IN, C_OUT, SIDE = 3, 5, 6
OPSET = 18
IR_VERSION = 8


def upsample_conv_graph(pad: int, activation: str | None, mode: str = "nearest") -> onnx.ModelProto:
    """x (N, C_IN, SIDE, SIDE) → Resize ×2 → Conv 3×3 (pads ``pad``) [→ activation] → y."""
    rng = np.random.default_rng(pad)
    weight = rng.standard_normal((C_OUT, C_IN, 3, 3)).astype(np.float32)
    bias = rng.standard_normal(C_OUT).astype(np.float32)
    nodes = [
        helper.make_node(
            "Resize", ["x", "", "scales"], ["up"], mode=mode,
            coordinate_transformation_mode="asymmetric", nearest_mode="floor",
        ),
        helper.make_node("Conv", ["up", "w", "b"], ["conv"], kernel_shape=[3, 3], pads=[pad] * 4),
    ]  # fmt: skip
    if activation:
        nodes.append(helper.make_node(activation, ["conv"], ["y"]))
    else:
        nodes[-1].output[0] = "y"
    side_out = 2 * SIDE - 2 * (1 - pad)
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", C_IN, SIDE, SIDE])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", C_OUT, side_out, side_out])],
        initializer=[
            numpy_helper.from_array(np.array([1, 1, 2, 2], dtype=np.float32), "scales"),
            numpy_helper.from_array(weight, "w"),
            numpy_helper.from_array(bias, "b"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION  # what onnxruntime 1.18+ reads; onnx writes newer by default
    return model


def run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0]


@pytest.mark.parametrize("pad", [0, 1])
@pytest.mark.parametrize("activation", [None, "Relu", "Sigmoid"])
def test_fold_is_exact(pad: int, activation: str | None) -> None:
    original = upsample_conv_graph(pad, activation)
    x = np.random.default_rng(7).standard_normal((4, C_IN, SIDE, SIDE)).astype(np.float32)
    expected = run(original, x)
    folded, count = fold_upsample_conv(upsample_conv_graph(pad, activation))
    assert count == 1
    onnx.checker.check_model(folded)
    ops = [node.op_type for node in folded.graph.node]
    assert "Resize" not in ops and "DepthToSpace" in ops
    if activation:  # moved before DepthToSpace, next to the conv, where ORT fuses it
        assert ops.index(activation) == ops.index("Conv") + 1
    if pad == 0:
        assert ops[-1] == "Slice"
    np.testing.assert_allclose(run(folded, x), expected, rtol=1e-5, atol=1e-5)


def test_other_resizes_are_left_alone() -> None:
    model = upsample_conv_graph(1, "Relu", mode="linear")
    before = model.SerializeToString()
    folded, count = fold_upsample_conv(model)
    assert count == 0 and folded.SerializeToString() == before


def test_subpixel_weights_of_a_single_tap() -> None:
    """The centre tap of a 3×3 kernel after upsampling reads the same low-resolution pixel for
    every phase: all four phase kernels get it at their centre and nothing else."""
    weight = np.zeros((1, 1, 3, 3), dtype=np.float32)
    weight[0, 0, 1, 1] = 1.0
    folded = subpixel_weights(weight)
    assert folded.shape == (4, 1, 3, 3)
    for phase in folded:
        assert phase[0, 1, 1] == 1.0 and phase.sum() == 1.0
