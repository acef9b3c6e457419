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

import trio
import trio_websocket
from trio_websocket._impl import _url_to_host
from wsproto import ConnectionType, WSConnection

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
) -> trio_websocket.WebSocketConnection:
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
    websocket: trio_websocket.WebSocketConnection = await nursery.start(run)
    return websocket


async def _run_websocket(
    url: str,
    *,
    extra_headers: list[tuple[bytes, bytes]],
    max_message_size: int,
    receive_buffer_size: int,
    task_status: trio.TaskStatus[trio_websocket.WebSocketConnection],
) -> None:
    try:
        host, port, resource, use_ssl = _url_to_host(url, None)
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
    websocket = trio_websocket.WebSocketConnection(
        stream,
        WSConnection(ConnectionType.CLIENT),
        host=host_header,
        path=resource,
        client_extra_headers=extra_headers,
        max_message_size=max_message_size,
        receive_buffer_size=receive_buffer_size,
    )
    accepted = False
    try:
        async with trio.open_nursery() as reader:
            with trio.CancelScope() as handshake:
                reader.start_soon(_read, websocket, handshake)
                await websocket._open_handshake.wait()
            accepted = not handshake.cancelled_caught
            if accepted:
                task_status.started(websocket)
    except BaseExceptionGroup as group:
        rejected = None if accepted else _first(group, trio_websocket.ConnectionRejected)
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


async def _read(websocket: trio_websocket.WebSocketConnection, handshake: trio.CancelScope) -> None:
    """trio-websocket's reader; its end before the opening handshake completes (a reset
    or EOF mid-handshake) cancels the wait for it, which trio-websocket 0.12 never ends."""
    try:
        await websocket._reader_task()
    finally:
        handshake.cancel()


def _first(
    group: BaseExceptionGroup[BaseException], kind: type[trio_websocket.ConnectionRejected]
) -> trio_websocket.ConnectionRejected | None:
    for error in group.exceptions:
        if isinstance(error, kind):
            return error
        if isinstance(error, BaseExceptionGroup):
            found = _first(error, kind)
            if found is not None:
                return found
    return None


def _typed(url: str, error: trio_websocket.ConnectionRejected) -> HandshakeRejected:
    body = (error.body or b"").decode("utf-8", errors="replace").strip()
    body = body[:MAX_REJECTION_BODY_CHARS]
    kind = AuthenticationFailed if error.status_code in (401, 403) else HandshakeRejected
    return kind(url, error.status_code, body)
