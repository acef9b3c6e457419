"""The body of a streamed ``http/request`` response, fed by the notification router.

Frames (``http/request/bodyDelta``) arrive on the client's reader task, which
must never wait for a consumer: the stream buffers :data:`BODY_BUFFER_FRAMES`
and fails when a consumer falls further behind.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import trio

from ..protocol.http import HttpRequestBodyDeltaNotification
from .errors import ClientError

__all__ = ["BODY_BUFFER_FRAMES", "HttpBodyStream", "HttpStreamError"]

BODY_BUFFER_FRAMES: Final = 256
"""Frames a stream holds for a consumer (the reference client's channel capacity).

The client's reader cannot wait for one slow consumer without holding up every
other call and stream on the connection, so a consumer that falls this far
behind fails its stream, as the reference does (``body delta channel filled
before delivery``). Read promptly, or use a buffered request.
"""


class HttpStreamError(ClientError):
    """A streamed body cannot be completed; ``reason`` says why.

    The message follows the reference client: ``http response stream `<id>`
    failed: <reason>``, or ``… received seq X, expected Y`` for a gap.
    """

    def __init__(self, request_id: str, message: str, reason: str) -> None:
        super().__init__(message)
        self.request_id = request_id
        self.reason = reason

    @classmethod
    def failed(cls, request_id: str, reason: str) -> HttpStreamError:
        return cls(request_id, f"http response stream `{request_id}` failed: {reason}", reason)

    @classmethod
    def gap(cls, request_id: str, received: int, expected: int) -> HttpStreamError:
        message = (
            f"http response stream `{request_id}` received seq {received}, expected {expected}"
        )
        return cls(request_id, message, message)


class HttpBodyStream:
    """The chunks of a streamed body, in order; iterate it once.

    Ends when the server's last frame (``done``) arrives, or raises
    :class:`HttpStreamError` / :class:`~.errors.Disconnected`. Chunks that
    arrived before a failure are still delivered first. :meth:`close` stops
    listening (later frames are dropped).
    """

    def __init__(self, request_id: str, on_finish: Callable[[HttpBodyStream], None]) -> None:
        """``on_finish`` runs once, when the stream takes no more frames (it ended,
        failed or was closed): the router stops routing to it then."""
        self.request_id = request_id
        self._on_finish = on_finish
        self._send, self._receive = trio.open_memory_channel[bytes](BODY_BUFFER_FRAMES)
        self._expected_seq = 1
        self._error: ClientError | None = None
        self._open = True  # still accepting frames

    def __aiter__(self) -> HttpBodyStream:
        return self

    async def __anext__(self) -> bytes:
        try:
            return await self._receive.receive()
        except trio.EndOfChannel:
            if self._error is not None:
                raise self._error from None
            raise StopAsyncIteration from None

    @property
    def finished(self) -> bool:
        """No more frames are taken: the body ended, failed, or was closed."""
        return not self._open

    async def read(self) -> bytes:
        """The rest of the body, joined."""
        return b"".join([chunk async for chunk in self])

    def close(self) -> None:
        """Stop receiving: frames still to come are dropped, iteration ends."""
        self._finish(None)

    def feed(self, delta: HttpRequestBodyDeltaNotification) -> None:
        """Take one frame from the client's reader; never blocks."""
        if not self._open:
            return
        if delta.seq != self._expected_seq:
            self._finish(HttpStreamError.gap(self.request_id, delta.seq, self._expected_seq))
            return
        self._expected_seq += 1
        if delta.delta_base64:
            try:
                self._send.send_nowait(delta.delta_base64)
            except trio.WouldBlock:
                reason = "body delta channel filled before delivery"
                self._finish(HttpStreamError.failed(self.request_id, reason))
                return
        if delta.done:
            error = None
            if delta.error is not None:
                error = HttpStreamError.failed(self.request_id, delta.error)
            self._finish(error)

    def fail(self, error: ClientError) -> None:
        """End the stream with ``error`` (e.g. the connection is gone)."""
        self._finish(error)

    def _finish(self, error: ClientError | None) -> None:
        if not self._open:
            return
        self._open = False
        self._error = error
        self._send.close()  # the consumer drains what is buffered, then sees the end
        self._on_finish(self)
