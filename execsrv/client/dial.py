"""Dial a websocket so that an HTTP refusal is a typed error, not a crashed nursery.

trio-websocket raises ``ConnectionRejected`` in its reader task, which would
take down whichever nursery hosts that task (the client's own, on a re-dial)
and leave the socket open. Here each dial runs its reader in a nursery of its
own: a refusal becomes :class:`~.errors.HandshakeRejected` (or
:class:`~.errors.AuthenticationFailed` for 401/403) raised by :func:`dial_websocket`,
and the socket is closed whenever the handshake does not complete, also when the
connection is lost halfway through it.
"""

from __future__ import annotations

import ssl
from functools import partial
from typing import Final
from urllib.parse import urlsplit

import trio

from ..transport.websocket import (
    ConnectionRejected,
    WebSocketConnection,
    client_websocket,
    run_reader,
    wait_open,
)
from .errors import AuthenticationFailed, Disconnected, HandshakeRejected

__all__ = ["dial_websocket"]

MAX_REJECTION_BODY_CHARS: Final = 500


async def dial_websocket(
    nursery: trio.Nursery,
    url: str,
    *,
    extra_headers: list[tuple[bytes, bytes]],
    max_message_size: int,
    receive_buffer_size: int,
) -> WebSocketConnection:
    """Open a client websocket whose reader task runs (and ends) under ``nursery``.

    Raises:
        AuthenticationFailed: the server answered 401 or 403.
        HandshakeRejected: the server answered another HTTP status.
        Disconnected: no TCP connection, or a malformed URL.
    """
    run = partial(
        _run_websocket,
        url,
        extra_headers=extra_headers,
        max_message_size=max_message_size,
        receive_buffer_size=receive_buffer_size,
    )
    websocket: WebSocketConnection = await nursery.start(run)
    return websocket


async def _run_websocket(
    url: str,
    *,
    extra_headers: list[tuple[bytes, bytes]],
    max_message_size: int,
    receive_buffer_size: int,
    task_status: trio.TaskStatus[WebSocketConnection],
) -> None:
    try:
        host, port, resource, use_ssl = _split_url(url)
    except ValueError as error:
        raise Disconnected(f"could not connect to {url}: {error}") from None
    stream: trio.SocketStream | trio.SSLStream[trio.SocketStream]
    try:
        if use_ssl:
            stream = await trio.open_ssl_over_tcp_stream(
                host, port, ssl_context=ssl.create_default_context(), https_compatible=True
            )
        else:
            stream = await trio.open_tcp_stream(host, port)
    except OSError as error:
        raise Disconnected(f"could not connect to {url}: {error}") from None
    host_header = host if port in (80, 443) else f"{host}:{port}"
    websocket = client_websocket(
        stream,
        host=host_header,
        path=resource,
        extra_headers=extra_headers,
        max_message_size=max_message_size,
        receive_buffer_size=receive_buffer_size,
    )
    accepted = False
    try:
        async with trio.open_nursery() as reader:
            with trio.CancelScope() as handshake:
                reader.start_soon(_read, websocket, handshake)
                await wait_open(websocket)
            accepted = not handshake.cancelled_caught
            if accepted:
                task_status.started(websocket)
    except BaseExceptionGroup as group:
        rejected = None if accepted else _first(group, ConnectionRejected)
        if rejected is None:
            raise
        raise _typed(url, rejected) from None
    finally:
        if not accepted:
            await trio.aclose_forcefully(stream)
    if not accepted:
        raise Disconnected(
            f"could not connect to {url}: connection lost in the websocket handshake"
        )


async def _read(websocket: WebSocketConnection, handshake: trio.CancelScope) -> None:
    """trio-websocket's reader; its end before the opening handshake completes (a reset
    or EOF mid-handshake) cancels the wait for it, which trio-websocket 0.12 never ends."""
    try:
        await run_reader(websocket)
    finally:
        handshake.cancel()


def _split_url(url: str) -> tuple[str, int, str, bool]:
    """Host, port, request target (path and query) and whether to use TLS."""
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss"):
        raise ValueError('the URL scheme must be "ws" or "wss"')
    if not parts.hostname:
        raise ValueError("the URL has no host")
    use_ssl = parts.scheme == "wss"
    port = parts.port  # raises ValueError if malformed
    if port is None:
        port = 443 if use_ssl else 80
    target = parts.path or "/"  # RFC 9112 3.2.1: an empty path is sent as "/"
    if "?" in url:
        target += f"?{parts.query}"
    return parts.hostname, port, target, use_ssl


def _first(
    group: BaseExceptionGroup[BaseException], kind: type[ConnectionRejected]
) -> ConnectionRejected | None:
    for error in group.exceptions:
        if isinstance(error, kind):
            return error
        if isinstance(error, BaseExceptionGroup):
            found = _first(error, kind)
            if found is not None:
                return found
    return None


def _typed(url: str, error: ConnectionRejected) -> HandshakeRejected:
    body = (error.body or b"").decode("utf-8", errors="replace").strip()
    body = body[:MAX_REJECTION_BODY_CHARS]
    kind = AuthenticationFailed if error.status_code in (401, 403) else HandshakeRejected
    return kind(url, error.status_code, body)
