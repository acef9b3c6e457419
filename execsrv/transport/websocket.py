"""WebSocket transport over trio-websocket: one JSON-RPC message per frame.

Outgoing messages are text frames (as the reference sends); incoming text
and binary frames are both accepted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import trio
import trio_websocket

from ..protocol.jsonrpc import Buffer, SplitMessage
from .base import EncodedMessage, TransportClosed

__all__ = [
    "CLOSE_HANDSHAKE_SECONDS",
    "DIRECT_FRAME_BYTES",
    "RECEIVE_BUFFER_BYTES",
    "WebSocketTransport",
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
