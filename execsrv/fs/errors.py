"""Filesystem errors, sorted the way the reference sorts Rust's ``io::ErrorKind``.

The operations raise :class:`OSError` straight from the OS, or
:class:`FsError` for failures the OS does not report (a file too large, a
copy onto its own descendant). :func:`kind_of` gives either one's
:class:`ErrorKind`. What leaves the package through
:func:`~.worker.run_fs_operation` is always an :class:`FsError` (an OS error
becomes one with :meth:`FsError.from_os_error`); the server turns its kind into
a JSON-RPC code, the local backend into the client's error type.
"""

from __future__ import annotations

import enum
import errno

from ..protocol.errors import os_error_message

__all__ = ["ErrorKind", "FsError", "kind_of"]


class ErrorKind(enum.Enum):
    """The classes of failure the protocol tells apart."""

    NOT_FOUND = "not found"
    """``ENOENT`` (Rust ``NotFound``)."""
    INVALID_INPUT = "invalid input"
    """``EINVAL``, ``EACCES``, ``EPERM`` and refused requests (Rust ``InvalidInput``,
    ``PermissionDenied``)."""
    OTHER = "other"
    """Everything else."""


class FsError(Exception):
    """A failure of a kind, with the message clients see."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message

    @classmethod
    def from_os_error(cls, error: OSError) -> FsError:
        """``error``'s kind, and its text as Rust renders it (``<text> (os error N)``)."""
        return cls(kind_of(error), os_error_message(error))


_INVALID_INPUT = frozenset({errno.EINVAL, errno.EACCES, errno.EPERM})


def kind_of(error: OSError | FsError) -> ErrorKind:
    """The kind of ``error``, as Rust's ``decode_error_kind`` would classify its errno."""
    if isinstance(error, FsError):
        return error.kind
    if error.errno == errno.ENOENT:
        return ErrorKind.NOT_FOUND
    if error.errno in _INVALID_INPUT:
        return ErrorKind.INVALID_INPUT
    return ErrorKind.OTHER
