"""Errors a client caller may see."""

from __future__ import annotations

__all__ = [
    "AuthenticationFailed",
    "ClientError",
    "Disconnected",
    "HandshakeRejected",
    "RemoteError",
]


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


class HandshakeRejected(Disconnected):
    """The server answered the websocket handshake with an HTTP error.

    ``status`` is the HTTP status (e.g. 503 when the server is at its connection
    limit) and ``body`` the server's short explanation.
    """

    def __init__(self, url: str, status: int, body: str) -> None:
        detail = f": {body}" if body else ""
        super().__init__(f"{url} refused the websocket handshake with HTTP {status}{detail}")
        self.url = url
        self.status = status
        self.body = body


class AuthenticationFailed(HandshakeRejected):
    """HTTP 401 (missing or wrong bearer token) or 403 (``Origin`` not allowed).

    Retrying with the same credentials cannot succeed, so ``auto_resume`` stops.
    """
