"""WebSocket transport over trio-websocket: one JSON-RPC message per frame.

Outgoing messages are text frames (as the reference sends); incoming text
and binary frames are both accepted.

The server side reads and checks the HTTP upgrade request itself
(:func:`receive_upgrade_request`), then hands the parsed handshake to
trio-websocket (:func:`accept_websocket`). trio-websocket's own server parses
the request in its reader task, where wsproto lets ``UnicodeError`` escape into
the server's nursery for a non-ASCII header, and it waits for a request past the
peer's EOF. The client side dials with :func:`client_websocket`,
:func:`run_reader` and :func:`wait_open`, so that a refusal or a reset during
the handshake is the caller's to handle.

This module is the only one that imports trio-websocket (others use the names
it re-exports) and the only one that touches private parts of it:
``WebSocketConnection._reader_task``, ``._open_handshake``, ``._stream`` and
``._stream_lock``, and ``WebSocketRequest(connection, event)``. The version
range in ``pyproject.toml`` is the one tested;
``tests/transport/test_trio_websocket_contract.py`` fails if an upgrade
breaks any of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Final

import h11
import trio
import trio_websocket
import wsproto
import wsproto.events
import wsproto.utilities

from ..protocol.jsonrpc import Buffer, SplitMessage
from .base import EncodedMessage, TransportClosed

ConnectionClosed = trio_websocket.ConnectionClosed
ConnectionRejected = trio_websocket.ConnectionRejected
HandshakeError = trio_websocket.HandshakeError
WebSocketConnection = trio_websocket.WebSocketConnection

__all__ = [
    "CLOSE_HANDSHAKE_SECONDS",
    "DIRECT_FRAME_BYTES",
    "RECEIVE_BUFFER_BYTES",
    "BadUpgradeRequest",
    "ConnectionClosed",
    "ConnectionRejected",
    "HandshakeError",
    "RequestHead",
    "UpgradeRequest",
    "WebSocketConnection",
    "WebSocketTransport",
    "accept_websocket",
    "client_websocket",
    "receive_upgrade_request",
    "refuse_upgrade",
    "run_reader",
    "wait_open",
]

RECEIVE_BUFFER_BYTES: Final = 256 * 1024
"""Socket read size; trio-websocket's 4 KiB default caps throughput."""

CLOSE_HANDSHAKE_SECONDS: Final = 2.0
"""How long a close we initiate waits for the peer's close frame."""

DIRECT_FRAME_BYTES: Final = 64 * 1024
"""A server's message this large is framed here and written from where it is
(wsproto would copy it three times: to str, back to bytes, into the frame)."""

_LARGE_TEXT_FRAME: Final = bytes((0x81, 127))
"""FIN + text opcode, unmasked, length in the next 8 bytes (RFC 6455 §5.2): the
minimal encoding for the 64 KiB and more that go direct."""


UPGRADE_READ_BYTES: Final = 16 * 1024
"""Socket read size while the upgrade request arrives (h11 refuses a head unfinished
after 16 KiB)."""


@dataclass(frozen=True)
class RequestHead:
    """An HTTP request's method, target and headers (names lowercased), as received:
    the server serves some requests as plain HTTP (see ``execsrv.server.probes``)."""

    method: bytes
    target: bytes
    """ASCII: the path (with its query) or, rarely, an absolute URL or ``*``."""
    headers: list[tuple[bytes, bytes]]


class BadUpgradeRequest(Exception):
    """The bytes are not a websocket upgrade request; answer ``status`` and close."""

    def __init__(
        self,
        message: str,
        status: int = 400,
        headers: list[tuple[bytes, bytes]] | None = None,
        *,
        head: RequestHead | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.headers = headers or []
        self.head = head
        """The request, when it was a well-formed HTTP request that only is no websocket
        upgrade (a plain ``GET``, another method, a header missing); else None."""


@dataclass(frozen=True)
class UpgradeRequest:
    """A parsed upgrade request, not yet answered."""

    stream: trio.SocketStream
    headers: list[tuple[bytes, bytes]]
    """Header names lowercased; ``Host`` and the ``Sec-WebSocket-Extensions`` and
    ``-Protocol`` headers are left out (wsproto keeps them apart)."""
    _protocol: wsproto.WSConnection
    _event: wsproto.events.Request

    @property
    def head(self) -> RequestHead:
        return RequestHead(b"GET", self._event.target.encode("ascii"), self.headers)


async def receive_upgrade_request(stream: trio.SocketStream) -> UpgradeRequest:
    """Read one upgrade request from a new connection.

    Raises :class:`BadUpgradeRequest` for anything but a well-formed websocket
    upgrade request, and :class:`TransportClosed` if the peer closes or resets
    before the request is complete. Never times out: the caller's cancel scope
    is the handshake deadline. Cancellation leaves the stream half-read.
    """
    protocol = wsproto.WSConnection(wsproto.ConnectionType.SERVER)
    received = bytearray()  # what wsproto has seen, for _plain_head (the head is <= 16 KiB)
    while True:
        try:
            data = await stream.receive_some(UPGRADE_READ_BYTES)
        except trio.BrokenResourceError:
            raise TransportClosed("connection reset during the upgrade request") from None
        if not data:
            raise TransportClosed("connection closed during the upgrade request")
        received += data
        try:
            protocol.receive_data(data)
            events = list(protocol.events())
        except wsproto.utilities.RemoteProtocolError as error:
            hint = error.event_hint
            if isinstance(hint, wsproto.events.RejectConnection):
                raise BadUpgradeRequest(
                    str(error), hint.status_code, list(hint.headers), head=_plain_head(received)
                ) from None
            raise BadUpgradeRequest(str(error)) from None
        except UnicodeError:
            # wsproto decodes the target and some header values (Host as IDNA) unchecked.
            raise BadUpgradeRequest(
                "non-ASCII request target or header value, or an invalid Host"
            ) from None
        for event in events:
            if isinstance(event, wsproto.events.Request):
                return UpgradeRequest(stream, event.extra_headers, protocol, event)


def _plain_head(received: bytearray) -> RequestHead | None:
    """The request in ``received`` if it is well-formed HTTP with an ASCII target.

    wsproto refused it as an upgrade without saying what was asked for; h11 (which
    wsproto parses with) reads the same bytes again, once, for the method and target.
    """
    parser = h11.Connection(h11.SERVER)
    try:
        parser.receive_data(bytes(received))
        event = parser.next_event()
    except h11.RemoteProtocolError:
        return None
    if not isinstance(event, h11.Request) or not event.target.isascii():
        return None
    return RequestHead(event.method, event.target, list(event.headers))


async def refuse_upgrade(
    stream: trio.abc.SendStream,
    status: int,
    body: bytes,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    """Answer the request with plain HTTP instead of an upgrade: an error, or a probe's
    answer (``Connection: close``).

    Closing the stream is the caller's. Raises :class:`TransportClosed` if the peer
    has gone; a peer that does not read can hold this until cancelled.
    """
    head = [
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}".encode(),
        *(name + b": " + value for name, value in headers or []),
        b"Content-Length: %d" % len(body),
        b"Connection: close",
    ]
    try:
        await stream.send_all(b"\r\n".join(head) + b"\r\n\r\n" + body)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        raise TransportClosed("connection lost before the handshake answer") from None


async def accept_websocket(
    nursery: trio.Nursery, request: UpgradeRequest, *, max_message_size: int
) -> trio_websocket.WebSocketConnection:
    """Answer 101 and return the open websocket; its reader task runs in ``nursery``.

    Raises :class:`TransportClosed` if the peer has gone.
    """
    connection = trio_websocket.WebSocketConnection(
        request.stream,
        request._protocol,
        max_message_size=max_message_size,
        receive_buffer_size=RECEIVE_BUFFER_BYTES,
    )
    try:
        await trio_websocket.WebSocketRequest(connection, request._event).accept()
    except trio_websocket.ConnectionClosed as error:
        raise TransportClosed(_reason(error)) from None
    # Started after the 101, as wsproto is then open: the task only reads frames.
    nursery.start_soon(connection._reader_task)
    return connection


def client_websocket(
    stream: trio.abc.Stream,
    *,
    host: str,
    path: str,
    extra_headers: list[tuple[bytes, bytes]],
    max_message_size: int,
    receive_buffer_size: int,
) -> WebSocketConnection:
    """A client websocket over ``stream``, not yet open: run :func:`run_reader`,
    which sends the upgrade request and reads, and :func:`wait_open` for the 101."""
    return trio_websocket.WebSocketConnection(
        stream,
        wsproto.WSConnection(wsproto.ConnectionType.CLIENT),
        host=host,
        path=path,
        client_extra_headers=extra_headers,
        max_message_size=max_message_size,
        receive_buffer_size=receive_buffer_size,
    )


async def run_reader(websocket: WebSocketConnection) -> None:
    """trio-websocket's reader task, until the connection ends. A client's raises
    :class:`ConnectionRejected` if the server answers the upgrade with an error."""
    await websocket._reader_task()


async def wait_open(websocket: WebSocketConnection) -> None:
    """Until a client's opening handshake has completed (never, if the reader ends
    first: cancel this when :func:`run_reader` returns)."""
    await websocket._open_handshake.wait()


def _reason(error: trio_websocket.ConnectionClosed) -> str:
    reason = error.reason
    if reason is None:
        return "websocket closed"
    text = f"websocket closed with code {reason.code} ({reason.name})"
    return f"{text}: {reason.reason}" if reason.reason else text


class WebSocketTransport:
    """A :class:`~execsrv.transport.base.MessageTransport` over a websocket."""

    def __init__(self, connection: trio_websocket.WebSocketConnection, *, role: str) -> None:
        self.connection = connection
        remote = connection.remote
        peer = (
            f"{remote.address}:{remote.port}"
            if isinstance(remote, trio_websocket.Endpoint)
            else str(remote)
        )
        self.peer = peer
        self.description = f"websocket JSON-RPC message from exec-server {role} {peer}"

    async def receive_message(self) -> bytes | str:
        try:
            return await self.connection.get_message()
        except trio_websocket.ConnectionClosed as error:
            raise TransportClosed(_reason(error)) from None

    async def send_messages(self, messages: Sequence[EncodedMessage]) -> None:
        try:
            for message in messages:
                if self.connection.is_client or len(message) < DIRECT_FRAME_BYTES:
                    whole = message if isinstance(message, bytes) else b"".join(message.parts)
                    await self.connection.send_message(whole.decode())
                else:
                    parts = message.parts if isinstance(message, SplitMessage) else (message,)
                    await self._send_direct(parts)
        except trio_websocket.ConnectionClosed as error:
            raise TransportClosed(_reason(error)) from None

    async def _send_direct(self, parts: tuple[Buffer, ...]) -> None:
        """Write one text frame of ``parts`` (:data:`DIRECT_FRAME_BYTES` or more) to
        the socket, under trio-websocket's send lock, without joining them. Server
        side only (a client's frames are masked); the frame is whole and final, so
        wsproto's state is unaffected."""
        connection = self.connection
        if connection.closed is not None:
            raise trio_websocket.ConnectionClosed(connection.closed)
        length = sum(len(part) for part in parts)
        async with connection._stream_lock:
            try:
                await connection._stream.send_all(_LARGE_TEXT_FRAME + length.to_bytes(8, "big"))
                for part in parts:
                    await connection._stream.send_all(part)
            except (trio.BrokenResourceError, trio.ClosedResourceError) as error:
                raise TransportClosed(f"output broken: {error}") from None

    async def aclose(self, code: int = 1000, reason: str | None = None) -> None:
        """Close handshake (bounded by :data:`CLOSE_HANDSHAKE_SECONDS`), then the socket."""
        with trio.move_on_after(CLOSE_HANDSHAKE_SECONDS, shield=True):
            await self.connection.aclose(code, reason)
        await self.abort()

    async def abort(self) -> None:
        """Close the socket now, without a close handshake."""
        # trio-websocket 0.12 leaves the socket open after an abnormal closure.
        await trio.aclose_forcefully(self.connection._stream)
