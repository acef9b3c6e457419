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

    def receive_data(self, data: bytes) -> list[bytes]:
        """Add ``data`` and return every complete, non-blank line in it."""
        self._buffer += data
        lines: list[bytes] = []
        start = 0
        while (end := self._buffer.find(b"\n", max(start, self._scanned))) >= 0:
            line = bytes(self._buffer[start:end]).strip()
            if line:
                if len(line) > self._max:
                    raise MessageTooLarge(f"message of {len(line)} bytes exceeds {self._max}")
                lines.append(line)
            start = end + 1
        del self._buffer[:start]
        self._scanned = len(self._buffer)
        if self._scanned > self._max:
            raise MessageTooLarge(f"unterminated message exceeds {self._max} bytes")
        return lines

    @property
    def pending(self) -> bytes:
        """Bytes of an unterminated last line (sent before EOF)."""
        return bytes(self._buffer).strip()
