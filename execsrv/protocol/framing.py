"""Newline-delimited JSON framing for the stdio transport (sans-IO).

One message per line; blank and whitespace-only lines are skipped and a
trailing ``\\r`` is tolerated, as the reference does. The buffer is bounded:
a line longer than ``max_message_size`` comes out as a :class:`MessageTooLarge`
in its place, and the rest of it is dropped up to its newline, so the lines
after it are read as usual.
"""

from __future__ import annotations

__all__ = ["LineFramer", "MessageTooLarge"]


class MessageTooLarge(Exception):
    """An inbound message exceeded the configured limit (and was dropped)."""


class LineFramer:
    """Feed bytes in with :meth:`receive_data`, take whole lines out.

    Lines come out as immutable ``bytes`` (never views into the buffer), so a
    decoded ``msgspec.Raw`` may safely outlive the next read. At most
    ``max_message_size`` bytes are ever buffered.
    """

    def __init__(self, max_message_size: int) -> None:
        self._buffer = bytearray()
        self._scanned = 0
        self._max = max_message_size
        self._dropping = False  # inside an over-long line: drop up to its newline

    def receive_data(self, data: bytes) -> list[bytes | MessageTooLarge]:
        """Add ``data``; return every complete, non-blank line in it, in order.

        An over-long line is a :class:`MessageTooLarge` in the list, returned
        as soon as the line passes the limit (before its newline arrives).
        """
        items: list[bytes | MessageTooLarge] = []
        if self._dropping:
            newline = data.find(b"\n")
            if newline < 0:
                return items
            self._dropping = False
            data = data[newline + 1 :]
        self._buffer += data
        start = 0
        while (end := self._buffer.find(b"\n", max(start, self._scanned))) >= 0:
            line = bytes(self._buffer[start:end]).strip()
            if len(line) > self._max:
                items.append(self._too_large())
            elif line:
                items.append(line)
            start = end + 1
        del self._buffer[:start]
        self._scanned = len(self._buffer)
        if self._scanned > self._max:
            items.append(self._too_large())
            self._buffer.clear()
            self._scanned = 0
            self._dropping = True
        return items

    def _too_large(self) -> MessageTooLarge:
        return MessageTooLarge(f"message exceeds the limit of {self._max} bytes")

    @property
    def pending(self) -> bytes:
        """Bytes of an unterminated last line (sent before EOF)."""
        return bytes(self._buffer).strip()
