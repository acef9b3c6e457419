"""Newline-delimited JSON over a pair of byte streams (stdio, child pipes)."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Final

import trio

from ..protocol.framing import LineFramer, MessageTooLarge
from .base import EncodedMessage, TransportClosed

__all__ = ["READ_BYTES", "LineTransport"]

READ_BYTES: Final = 256 * 1024


class LineTransport:
    """A :class:`~execsrv.transport.base.MessageTransport` of one message per line.

    Several queued messages go out in one write. An over-long line raises
    :class:`~execsrv.protocol.framing.MessageTooLarge` from
    :meth:`receive_message` in its place; the rest of it is dropped and the
    transport stays usable.
    """

    def __init__(
        self,
        receive_stream: trio.abc.ReceiveStream,
        send_stream: trio.abc.SendStream,
        *,
        description: str,
        max_message_size: int,
    ) -> None:
        self._receive = receive_stream
        self._send = send_stream
        self._framer = LineFramer(max_message_size)
        self._ready: deque[bytes | MessageTooLarge] = deque()
        self._end: str | None = None  # why input ended, once it has
        self.description = description
        self._send_lock = trio.StrictFIFOLock()

    async def receive_message(self) -> bytes:
        """The next line; :class:`MessageTooLarge` for one over the limit."""
        while not self._ready:
            if self._end is not None:
                raise TransportClosed(self._end)
            try:
                data = await self._receive.receive_some(READ_BYTES)
            except (trio.BrokenResourceError, trio.ClosedResourceError) as error:
                raise TransportClosed(f"input broken: {error}") from None
            if not data:
                self._end = "end of input"
                tail = self._framer.pending
                if tail:
                    self._ready.append(tail)
                continue
            self._ready.extend(self._framer.receive_data(bytes(data)))
        item = self._ready.popleft()
        if isinstance(item, MessageTooLarge):
            raise item
        return item

    async def send_messages(self, messages: Sequence[EncodedMessage]) -> None:
        """Write messages as lines; concurrent callers go in call order.

        Whole messages are joined into one write; a split one is written part
        by part, never copied."""
        try:
            async with self._send_lock:
                joined: list[bytes] = []
                for message in messages:
                    if isinstance(message, bytes):
                        joined.append(message)
                        continue
                    if joined:
                        await self._send.send_all(b"\n".join(joined) + b"\n")
                        joined = []
                    for part in message.parts:
                        await self._send.send_all(part)
                    await self._send.send_all(b"\n")
                if joined:
                    await self._send.send_all(b"\n".join(joined) + b"\n")
        except (trio.BrokenResourceError, trio.ClosedResourceError) as error:
            raise TransportClosed(f"output broken: {error}") from None

    async def abort(self) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await trio.aclose_forcefully(self._send)
        await trio.aclose_forcefully(self._receive)
