"""Errors a client caller may see."""

from __future__ import annotations

from typing import Final

from ..protocol.errors import NOT_FOUND

__all__ = [
    "AuthenticationFailed",
    "ClientError",
    "Disconnected",
    "FileNotFound",
    "HandshakeRejected",
    "RemoteError",
    "client_error",
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


class FileNotFound(RemoteError):
    """The path (or a parent of it) does not exist on the server: code ``-32004``."""


_ERROR_CLASSES: Final[dict[int, type[RemoteError]]] = {NOT_FOUND: FileNotFound}


def client_error(code: int, message: str) -> RemoteError:
    """The exception for a server's error answer: the one place codes become classes.

    The client's peer raises what this returns from every call, and the local
    backend uses it too, so ``except FileNotFound`` works on any call and backend.
    """
    return _ERROR_CLASSES.get(code, RemoteError)(code, message)


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
