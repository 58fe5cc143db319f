"""Names used across aeinfer, defined once in a module with no imports, so that the command
line can use them (``--help`` lists the precisions; the model zoo finds cards) without loading
the card module.

fp32 is the exported graph pair itself; fp16 and int8 are variants made from it at export
(:mod:`aeinfer.export.variants`).
"""

CARD_FILE = "card.json"
FP32 = "fp32"
FP16 = "fp16"
INT8 = "int8"
PRECISIONS = (FP32, FP16, INT8)
