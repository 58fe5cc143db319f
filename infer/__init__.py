"""aeinfer: autoencoders served as separate encoder and decoder ONNX graphs on ONNX Runtime.

``aeinfer.load(name_or_path, device="auto")`` returns an :class:`~aeinfer.api.Autoencoder`:
``encode``, ``decode``, ``reconstruct``, ``denoise``, ``score``, ``sample`` and ``interpolate``
on tensors or on files (see :mod:`aeinfer.api`), with the tensor-level
:class:`~aeinfer.model.Model` as ``.model``; ``aeinfer.denoise(files)`` is what the command
``aeinfer denoise`` does, each picture sent to the model made for it. Importing this package
is cheap and never imports torch or onnx: the runtime needs only numpy, Pillow and
onnxruntime, imported when first used.
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
    OutOfDomainError,
    OutputError,
    RuntimeConflictError,
    RuntimeMissingError,
    UnknownFamilyError,
    WebAssetsMissing,
)

if TYPE_CHECKING:
    from aeinfer.api import Autoencoder, denoise, load
    from aeinfer.model import Model
    from aeinfer.session import share_threads
    from aeinfer.zoo import list_models

__version__ = "0.1.0"

__all__ = [
    "AeinferError",
    "Autoencoder",
    "CapabilityError",
    "CheckpointError",
    "DataError",
    "DeviceUnavailableError",
    "ExportError",
    "InputError",
    "Model",
    "ModelIntegrityError",
    "ModelNotFoundError",
    "OutOfDomainError",
    "OutputError",
    "RuntimeConflictError",
    "RuntimeMissingError",
    "UnknownFamilyError",
    "WebAssetsMissing",
    "__version__",
    "denoise",
    "list_models",
    "load",
    "share_threads",
]

_LAZY = {
    "load": "aeinfer.api",
    "denoise": "aeinfer.api",
    "Autoencoder": "aeinfer.api",
    "Model": "aeinfer.model",
    "list_models": "aeinfer.zoo",
    "share_threads": "aeinfer.session",
}


def __getattr__(name: str) -> Any:
    # Lazy so that `import aeinfer` and `aeinfer --version` stay fast (numpy is imported
    # only when a model is actually used).
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'aeinfer' has no attribute {name!r}")
