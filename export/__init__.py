"""Export side of aeinfer: torch (encoder, decoder) → two ONNX graphs, a card, a parity gate.

Needs the ``[train]`` extra (torch, onnx, onnxscript) and ONNX Runtime for the parity check.
"""
