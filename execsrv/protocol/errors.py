"""JSON-RPC error codes and the reference's error messages.

The codes and message texts are part of the wire contract
(codex exec-server 0.130.0); clients match on both.
"""

from __future__ import annotations

import errno
import os
from typing import Any, Final

__all__ = [
    "ALREADY_ATTACHED",
    "INTERNAL_ERROR",
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "METHOD_NOT_FOUND",
    "MUSL_STRERROR",
    "NOT_FOUND",
    "MalformedParams",
    "RpcError",
    "os_error_message",
]

INVALID_REQUEST: Final = -32600
METHOD_NOT_FOUND: Final = -32601
INVALID_PARAMS: Final = -32602
INTERNAL_ERROR: Final = -32603
NOT_FOUND: Final = -32004  # filesystem "not found" only
ALREADY_ATTACHED: Final = -32010  # codex 0.171: resuming a session attached elsewhere


class RpcError(Exception):
    """An error answered to one request; the connection stays usable.

    Raise it from a handler with the reference's code and message. The
    dispatcher turns it into ``{"error": {"code", "message"}, "id"}``.
    """

    def __init__(self, code: int, message: str, *, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data
        """The error object's ``data``, or None to leave it out (codex sends it only for
        0.171 spawn errors: ``{"kind": "spawnNotFound"}``)."""

    @classmethod
    def invalid_request(cls, message: str) -> RpcError:
        return cls(INVALID_REQUEST, message)

    @classmethod
    def invalid_params(cls, message: str) -> RpcError:
        return cls(INVALID_PARAMS, message)

    @classmethod
    def internal(cls, message: str) -> RpcError:
        return cls(INTERNAL_ERROR, message)

    @classmethod
    def method_not_found(cls, method: str) -> RpcError:
        return cls(METHOD_NOT_FOUND, f"exec-server stub does not implement `{method}` yet")

    def __repr__(self) -> str:
        return f"RpcError({self.code}, {self.message!r})"


class MalformedParams(Exception):
    """Params the reference cannot even read as JSON (``number out of range``).

    serde_json parses the whole message before any params are decoded, so it
    fails the message as a whole: the reply is the parse error (``-32600``
    with id ``-1``, see :func:`execsrv.protocol.jsonrpc.parse_error`), not a
    ``-32602`` for the request, and the connection stays usable.
    """


def os_error_message(error: OSError) -> str:
    """Render an OS error as Rust's ``io::Error`` does: ``<text> (os error N)``.

    ``<text>`` is musl's ``strerror``, as in the reference (a musl build): for
    most errors it is glibc's text, and :data:`MUSL_STRERROR` has the others
    (``Resource busy (os error 16)``, ``I/O error (os error 5)``).
    """
    if error.errno is None:
        return str(error)
    text = MUSL_STRERROR.get(error.errno) or error.strerror or os.strerror(error.errno)
    return f"{text} (os error {error.errno})"


MUSL_STRERROR: Final[dict[int, str]] = {
    # musl's text where it differs from glibc's (checked against the strings
    # in the codex 0.130.0 binary); every other errno has glibc's text.
    errno.EILSEQ: "Illegal byte sequence",
    errno.EDOM: "Domain error",
    errno.ERANGE: "Result not representable",
    errno.ENOTTY: "Not a tty",
    errno.EOVERFLOW: "Value too large for data type",
    errno.ENOMEM: "Out of memory",
    errno.EBUSY: "Resource busy",
    errno.ESPIPE: "Invalid seek",
    errno.EXDEV: "Cross-device link",
    errno.ETIMEDOUT: "Operation timed out",
    errno.EHOSTUNREACH: "Host is unreachable",
    errno.EADDRINUSE: "Address in use",
    errno.EIO: "I/O error",
    errno.ELOOP: "Symbolic link loop",
    errno.ENAMETOOLONG: "Filename too long",
    errno.EMFILE: "No file descriptors available",
    errno.ECHILD: "No child process",
    errno.EDEADLK: "Resource deadlock would occur",
    errno.EOWNERDEAD: "Previous owner died",
    errno.ETIME: "Device timeout",
    errno.ENOTSOCK: "Not a socket",
    errno.EMSGSIZE: "Message too large",
    errno.ENOTSUP: "Not supported",
    errno.EADDRNOTAVAIL: "Address not available",
    errno.ENETUNREACH: "Network unreachable",
    errno.ENETRESET: "Connection reset by network",
    errno.ECONNABORTED: "Connection aborted",
    errno.EISCONN: "Socket is connected",
    errno.ENOTCONN: "Socket not connected",
    errno.ESHUTDOWN: "Cannot send after socket shutdown",
    errno.EINPROGRESS: "Operation in progress",
    errno.EDQUOT: "Quota exceeded",
}
