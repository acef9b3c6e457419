"""Errors a client caller may see."""

from __future__ import annotations

__all__ = ["ClientError", "Disconnected", "RemoteError"]


class ClientError(Exception):
    """Base of the client's errors."""


class RemoteError(ClientError):
    """The server answered a call with a JSON-RPC error.

    ``code`` and ``message`` are the server's, verbatim (match on both: the
    reference changed some codes between versions).
    """

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{message} (code {code})")
        self.code = code
        self.message = message


class Disconnected(ClientError):
    """The transport is gone: every pending and every later call raises this.

    ``reason`` says what happened (peer closed, connection reset, ...).
    """

    def __init__(self, reason: str) -> None:
        super().__init__(f"exec-server transport disconnected: {reason}")
        self.reason = reason
