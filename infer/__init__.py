"""aeinfer: autoencoders served as separate encoder and decoder ONNX graphs on ONNX Runtime.

``aeinfer.load(name_or_path, device="auto")`` returns a :class:`~aeinfer.model.Model` with
``encode``, ``decode``, ``reconstruct``, ``info`` and ``providers``. Importing this package is
cheap and never imports torch or onnx: the runtime needs only numpy, Pillow and onnxruntime,
and those are imported when first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aeinfer.errors import (
    AeinferError,
    CapabilityError,
    CheckpointError,
    DataError,
    DeviceUnavailableError,
    ExportError,
    InputError,
    ModelIntegrityError,
    ModelNotFoundError,
    OutputError,
    RuntimeConflictError,
    RuntimeMissingError,
    UnknownFamilyError,
)

if TYPE_CHECKING:
    from aeinfer.model import Model, load
    from aeinfer.zoo import list_models

__version__ = "0.1.0"

__all__ = [
    "AeinferError",
    "CapabilityError",
    "CheckpointError",
    "DataError",
    "DeviceUnavailableError",
    "ExportError",
    "InputError",
    "Model",
    "ModelIntegrityError",
    "ModelNotFoundError",
    "OutputError",
    "RuntimeConflictError",
    "RuntimeMissingError",
    "UnknownFamilyError",
    "__version__",
    "list_models",
    "load",
]

_LAZY = {"load": "aeinfer.model", "Model": "aeinfer.model", "list_models": "aeinfer.zoo"}


def __getattr__(name: str) -> Any:
    # Lazy so that `import aeinfer` and `aeinfer --version` stay fast (numpy is imported
    # only when a model is actually used).
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'aeinfer' has no attribute {name!r}")
