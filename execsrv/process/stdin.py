"""A process's stdin as an ordered queue drained by one writer task.

``process/write`` takes effect when its bytes are queued (so a later
``process/terminate`` is never stuck behind a child that does not read);
the RPC answer then waits until the queue has room again, which is the
backpressure a writing client feels.
"""

from __future__ import annotations

import os
from collections import deque
from typing import Final

import trio

from ..changed import Changed
from ..protocol.process import WriteStatus

__all__ = ["STDIN_BUFFER_BYTES", "StdinQueue"]

STDIN_BUFFER_BYTES: Final = 1 << 20
"""Queued stdin bytes above which ``process/write`` answers only once drained."""


class StdinQueue:
    """Bytes waiting to be written to a child's stdin, then optional EOF."""

    def __init__(self, stream: trio.abc.SendStream, *, owns_stream: bool) -> None:
        self._stream = stream
        self._owns_stream = owns_stream  # a PTY master is closed by its reader
        self._queue: deque[bytes] = deque()
        self._queued_bytes = 0
        self._eof_requested = False
        self.closed = False
        self._changed = Changed()  # the queue, EOF or closed changed

    @property
    def eof_requested(self) -> bool:
        """``process/closeStdin`` asked for EOF (as opposed to the pipe breaking)."""
        return self._eof_requested

    @property
    def queued_bytes(self) -> int:
        """Bytes accepted and not yet written to the child."""
        return self._queued_bytes

    def offer(self, data: bytes) -> WriteStatus:
        """Queue ``data``; ``stdinClosed`` once EOF was requested or the pipe broke."""
        if self.closed or self._eof_requested:
            return "stdinClosed"
        if data and not self._queue:
            data = data[self._write_now(data) :]
        if data:
            self._queue.append(data)
            self._queued_bytes += len(data)
            self._changed.notify()
        return "accepted"

    def _write_now(self, data: bytes) -> int:
        """Write what the (non-blocking) fd takes at once; nothing is queued, so order holds.

        Interactive input then reaches the child without a switch to the writer
        task. Errors are left to :meth:`run`, which meets them on its own write.
        """
        if not isinstance(self._stream, trio.lowlevel.FdStream):
            return 0
        try:
            return os.write(self._stream.fileno(), data)
        except OSError:  # BlockingIOError (full), or broken: run() finds out
            return 0

    def request_eof(self) -> WriteStatus:
        """Close stdin once the queued bytes are written."""
        if self.closed or self._eof_requested:
            return "stdinClosed"
        self._eof_requested = True
        self._changed.notify()
        return "accepted"

    def would_wait(self, size: int) -> bool:
        """Whether queueing ``size`` more bytes would make :meth:`wait_room` wait."""
        return self._queued_bytes + size > STDIN_BUFFER_BYTES and not self.closed

    async def wait_room(self) -> None:
        """Return once at most :data:`STDIN_BUFFER_BYTES` are queued (or stdin is gone)."""
        await self._changed.wait_until(
            lambda: self._queued_bytes <= STDIN_BUFFER_BYTES or self.closed
        )

    def _break(self) -> None:
        self.closed = True
        self._queue.clear()
        self._queued_bytes = 0
        self._changed.notify()

    async def run(self) -> None:
        """Write queued bytes in order until EOF, a broken pipe, or cancellation."""
        try:
            while True:
                if self._queue:
                    data = self._queue[0]
                    try:
                        await self._stream.send_all(data)
                    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                        return
                    self._queue.popleft()
                    self._queued_bytes -= len(data)
                    self._changed.notify()
                elif self._eof_requested:
                    return
                else:
                    await self._changed.wait()
        finally:
            self._break()
            if self._owns_stream:
                await trio.aclose_forcefully(self._stream)
