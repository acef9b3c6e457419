"""Two connected message transports over a pair of memory channels.

The server's ``Connection`` and the ``Client`` can then talk in one trio run
without a socket: a test runs them on the autojump clock, where grace periods,
TTLs and back-off happen exactly and at once.

The ends keep a websocket's promises, as far as
:class:`~execsrv.transport.base.MessageTransport` states them: messages arrive
whole and in order; a sender waits while :data:`MEMORY_BUFFER_MESSAGES` of its
messages are unreceived (a peer that does not read pushes back, as over TCP);
closing either end reaches the other, which still receives what was sent before
and then :class:`TransportClosed` with the closer's reason; a message over
``max_message_size`` ends the connection, on both ends, as a websocket's 1009
close does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import trio

from .base import EncodedMessage, TransportClosed

__all__ = ["MEMORY_BUFFER_MESSAGES", "MemoryTransport", "memory_transport_pair"]

MEMORY_BUFFER_MESSAGES: Final = 16
"""Messages in flight per direction before the sender waits (a socket's buffer)."""

PEER_CLOSED: Final = "peer closed the connection"
PEER_ABORTED: Final = "peer aborted the connection"
CLOSED_HERE: Final = "transport closed"


def memory_transport_pair(max_message_size: int) -> tuple[MemoryTransport, MemoryTransport]:
    """Two connected ends; each receives at most ``max_message_size`` bytes a message."""
    first_to_second, second_from_first = trio.open_memory_channel[bytes](MEMORY_BUFFER_MESSAGES)
    second_to_first, first_from_second = trio.open_memory_channel[bytes](MEMORY_BUFFER_MESSAGES)
    first = MemoryTransport(first_to_second, first_from_second, max_message_size)
    second = MemoryTransport(second_to_first, second_from_first, max_message_size)
    first._peer, second._peer = second, first
    return first, second


class MemoryTransport:
    """One end of :func:`memory_transport_pair`; a
    :class:`~execsrv.transport.base.MessageTransport`.

    Cancelling :meth:`receive_message` loses nothing; cancelling
    :meth:`send_messages` may leave a prefix of the messages sent, as on a socket.
    """

    peer = "memory"
    description = "JSON-RPC message from exec-server memory transport"

    def __init__(
        self,
        send_channel: trio.MemorySendChannel[bytes],
        receive_channel: trio.MemoryReceiveChannel[bytes],
        max_message_size: int,
    ) -> None:
        self._send_channel = send_channel
        self._receive_channel = receive_channel
        self._max_message_size = max_message_size
        self._peer: MemoryTransport | None = None
        self._closed: str | None = None  # why this end's own calls fail, once they do
        self._peer_gone = PEER_CLOSED  # what the peer's close said, once it has closed

    async def receive_message(self) -> bytes:
        """The next message; :class:`TransportClosed` once the connection has ended
        (after every message the peer sent before it closed)."""
        if self._closed is not None:
            raise TransportClosed(self._closed)
        try:
            message = await self._receive_channel.receive()
        except trio.EndOfChannel:
            raise TransportClosed(self._peer_gone) from None
        except trio.ClosedResourceError:  # closed here while we waited
            raise TransportClosed(self._closed or CLOSED_HERE) from None
        if len(message) > self._max_message_size:
            reason = (
                f"message of {len(message)} bytes is over the limit of "
                f"{self._max_message_size} bytes"
            )
            self._end(reason, reason)
            raise TransportClosed(reason)
        return message

    async def send_messages(self, messages: Sequence[EncodedMessage]) -> None:
        """Send each message (a split one joined), waiting while the buffer is full."""
        if self._closed is not None:
            raise TransportClosed(self._closed)
        try:
            for message in messages:
                whole = message if isinstance(message, bytes) else b"".join(message.parts)
                await self._send_channel.send(whole)
        except trio.BrokenResourceError:
            raise TransportClosed(self._peer_gone) from None
        except trio.ClosedResourceError:  # closed here while we waited
            raise TransportClosed(self._closed or CLOSED_HERE) from None

    async def aclose(self, *, reason: str = PEER_CLOSED) -> None:
        """Close both directions; the peer's calls report ``reason``. Idempotent:
        the first close's reason is the one the peer sees."""
        self._end(CLOSED_HERE, reason)
        await trio.lowlevel.checkpoint()

    async def abort(self) -> None:
        """Close at once; the peer's calls report :data:`PEER_ABORTED`."""
        await self.aclose(reason=PEER_ABORTED)

    def _end(self, reason_here: str, reason_there: str) -> None:
        if self._closed is not None:
            return
        self._closed = reason_here
        peer = self._peer
        if peer is not None and peer._closed is None:
            peer._peer_gone = reason_there
        self._send_channel.close()
        self._receive_channel.close()
