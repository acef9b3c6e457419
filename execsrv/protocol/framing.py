"""Newline-delimited JSON framing for the stdio transport (sans-IO).

One message per line; blank and whitespace-only lines are skipped and a
trailing ``\\r`` is tolerated, as the reference does. The buffer is bounded:
a line longer than ``max_message_size`` raises :class:`MessageTooLarge`.
"""

from __future__ import annotations

__all__ = ["LineFramer", "MessageTooLarge"]


class MessageTooLarge(Exception):
    """An inbound message exceeded the configured limit."""


class LineFramer:
    """Feed bytes in with :meth:`receive_data`, take whole lines out.

    Lines come out as immutable ``bytes`` (never views into the buffer), so a
    decoded ``msgspec.Raw`` may safely outlive the next read.
    """

    def __init__(self, max_message_size: int) -> None:
        self._buffer = bytearray()
        self._scanned = 0
        self._max = max_message_size
        self._error: MessageTooLarge | None = None

    def receive_data(self, data: bytes) -> list[bytes]:
        """Add ``data`` and return every complete, non-blank line in it.

        Raises :class:`MessageTooLarge` once a line exceeds the limit; lines
        that were complete before it are returned first, by the call that saw
        them, and the error comes on the next call.
        """
        if self._error is not None:
            raise self._error
        self._buffer += data
        lines: list[bytes] = []
        start = 0
        while (end := self._buffer.find(b"\n", max(start, self._scanned))) >= 0:
            line = bytes(self._buffer[start:end]).strip()
            if line:
                if len(line) > self._max:
                    return self._fail(lines, f"message of {len(line)} bytes exceeds {self._max}")
                lines.append(line)
            start = end + 1
        del self._buffer[:start]
        self._scanned = len(self._buffer)
        if self._scanned > self._max:
            return self._fail(lines, f"unterminated message exceeds {self._max} bytes")
        return lines

    def _fail(self, lines: list[bytes], message: str) -> list[bytes]:
        self._error = MessageTooLarge(message)
        self._buffer.clear()
        self._scanned = 0
        if not lines:
            raise self._error
        return lines

    @property
    def error(self) -> MessageTooLarge | None:
        """Set once an over-long line was seen: nothing after it can be framed."""
        return self._error

    @property
    def pending(self) -> bytes:
        """Bytes of an unterminated last line (sent before EOF)."""
        return bytes(self._buffer).strip()
