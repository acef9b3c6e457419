"""WebSocket transport over trio-websocket: one JSON-RPC message per frame.

Outgoing messages are text frames (as the reference sends); incoming text
and binary frames are both accepted.
"""

from __future__ import annotations

from typing import Final

import trio
import trio_websocket

from .base import TransportClosed

__all__ = ["CLOSE_HANDSHAKE_SECONDS", "RECEIVE_BUFFER_BYTES", "WebSocketTransport"]

RECEIVE_BUFFER_BYTES: Final = 256 * 1024
"""Socket read size; trio-websocket's 4 KiB default caps throughput."""

CLOSE_HANDSHAKE_SECONDS: Final = 2.0
"""How long a close we initiate waits for the peer's close frame."""


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

    async def send_messages(self, messages: list[bytes]) -> None:
        try:
            for message in messages:
                await self.connection.send_message(message.decode())
        except trio_websocket.ConnectionClosed as error:
            raise TransportClosed(_reason(error)) from None

    async def aclose(self, code: int = 1000, reason: str | None = None) -> None:
        """Close handshake (bounded by :data:`CLOSE_HANDSHAKE_SECONDS`), then the socket."""
        with trio.move_on_after(CLOSE_HANDSHAKE_SECONDS, shield=True):
            await self.connection.aclose(code, reason)
        await self.abort()

    async def abort(self) -> None:
        """Close the socket now, without a close handshake."""
        # trio-websocket 0.12 leaves the socket open after an abnormal closure.
        await trio.aclose_forcefully(self.connection._stream)
