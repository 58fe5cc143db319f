"""Typed errors raised by aeinfer.

Every error the library raises derives from :class:`AeinferError`, so an application can catch
one class. Only the CLI turns these into messages and exit codes; the library never exits.
"""

from __future__ import annotations


class AeinferError(Exception):
    """Base class of every error aeinfer raises on purpose."""


class ModelNotFoundError(AeinferError):
    """A model name is not bundled, or a model folder lacks a graph or its card."""


class ModelIntegrityError(AeinferError):
    """A model file is truncated, tampered with, or disagrees with its card."""


class RuntimeMissingError(AeinferError):
    """A required optional dependency (ONNX Runtime, torch, ...) is not installed."""


class RuntimeConflictError(RuntimeMissingError):
    """Several ONNX Runtime distributions are installed and overwrite each other's files."""


class DeviceUnavailableError(AeinferError):
    """The requested execution device could not be obtained."""


class InputError(AeinferError):
    """An input (image, array or latent file) is missing, unreadable or malformed."""


class OutputError(AeinferError):
    """An output location cannot be written, or would overwrite an input."""


class UnknownFamilyError(AeinferError):
    """A model family name is not in the registry."""


class DataError(AeinferError):
    """A dataset file is missing, corrupt, truncated or fails its checksum."""


class ExportError(AeinferError):
    """Export failed, including ONNX Runtime disagreeing with torch beyond tolerance."""


class CheckpointError(AeinferError):
    """A training checkpoint is missing or does not describe a model aeinfer can rebuild."""


class CapabilityError(AeinferError):
    """The model cannot do what was asked (e.g. sampling from a non-variational model)."""


class WebAssetsMissing(AeinferError):
    """The browser page's ONNX Runtime Web files are not built (see ``aeinfer.web.assets``)."""


class OutOfDomainError(InputError):
    """An input is not of the kind the model was trained on (e.g. not one digit on plain paper,
    for a digit model). The message says why; ``instead`` names a bundled model made for such
    inputs (None if there is none). What to do about it — that model, or forcing the input
    through — each front end says in its own terms (``--force``, ``force=True``,
    ``?force=true``)."""

    def __init__(self, message: str, instead: str | None = None) -> None:
        super().__init__(message)
        self.instead = instead

    def __reduce__(self) -> tuple[type[OutOfDomainError], tuple[str, str | None]]:
        # Crosses process boundaries (Ray actors) with ``instead``, not only the message.
        return (type(self), (str(self), self.instead))
