"""JSON-RPC error codes and the reference's error messages.

The codes and message texts are part of the wire contract
(codex exec-server 0.130.0); clients match on both.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "INTERNAL_ERROR",
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "METHOD_NOT_FOUND",
    "NOT_FOUND",
    "RpcError",
    "method_family",
    "os_error_message",
]

INVALID_REQUEST: Final = -32600
METHOD_NOT_FOUND: Final = -32601
INVALID_PARAMS: Final = -32602
INTERNAL_ERROR: Final = -32603
NOT_FOUND: Final = -32004  # filesystem "not found" only


class RpcError(Exception):
    """An error answered to one request; the connection stays usable.

    Raise it from a handler with the reference's code and message. The
    dispatcher turns it into ``{"error": {"code", "message"}, "id"}``.
    """

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

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


def method_family(method: str) -> str:
    """The family name the reference uses in handshake errors."""
    if method.startswith("fs/"):
        return "filesystem"
    if method.startswith("http/"):
        return "http"
    return "exec"


def os_error_message(error: OSError) -> str:
    """Render an OS error as Rust's ``io::Error`` does: ``<text> (os error N)``."""
    if error.errno is None:
        return str(error)
    return f"{error.strerror} (os error {error.errno})"
