"""Process events as a client sees them, in seq order, each seq exactly once.

:class:`ProcessEventStream` re-orders notifications by seq (they may arrive
out of order), buffers a bounded number, and when it falls behind (a slow
consumer, or a disconnect followed by a resume) catches up with
``process/read afterSeq`` instead of growing without bound. Output that
retention already dropped shows up as an explicit :class:`Gap`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

import trio

from ..protocol.process import OutputStream, ReadResponse

__all__ = [
    "EVENT_BUFFER",
    "Closed",
    "Exited",
    "Failed",
    "Gap",
    "Output",
    "ProcessEvent",
    "ProcessEventStream",
]

EVENT_BUFFER: Final = 1024
"""Events held for a consumer before the stream switches to catching up by reads."""

CATCH_UP_BYTES: Final = 4 << 20
"""``maxBytes`` of each catch-up read."""


@dataclass(frozen=True, slots=True)
class Output:
    seq: int
    stream: OutputStream
    data: bytes


@dataclass(frozen=True, slots=True)
class Exited:
    seq: int
    exit_code: int
    signal: str | None = None


@dataclass(frozen=True, slots=True)
class Closed:
    """The last event of a process."""

    seq: int


@dataclass(frozen=True, slots=True)
class Gap:
    """Seqs ``first``..``last`` were evicted by the server's retention: lost."""

    first: int
    last: int


@dataclass(frozen=True, slots=True)
class Failed:
    """The stream cannot continue (the connection is gone); the last event."""

    reason: str


ProcessEvent = Output | Exited | Closed | Gap | Failed
Reader = Callable[[int], Awaitable[ReadResponse]]


class ProcessEventStream:
    """Single-consumer async iterator over one process's events."""

    def __init__(self, read_after: Reader) -> None:
        self._read_after = read_after
        self._expected = 1
        self._future: dict[int, Output | Exited | Closed] = {}
        self._ready: deque[ProcessEvent] = deque()
        self._changed = trio.Event()
        self._behind = False
        self._failure: str | None = None
        self._finished = False
        self._exit_seen = False

    # -- fed by the client's reader task (synchronous) ------------------------

    def feed(self, seq: int, event: Output | Exited | Closed) -> None:
        if self._behind or self._finished or seq < self._expected or seq in self._future:
            return
        self._future[seq] = event
        self._advance()
        if len(self._ready) + len(self._future) > EVENT_BUFFER:
            self.fall_behind()
        self._wake()

    def fall_behind(self) -> None:
        """Stop buffering; the consumer will catch up with reads."""
        self._behind = True
        self._future.clear()
        self._wake()

    def fail(self, reason: str) -> None:
        self._failure = reason
        self._wake()

    def recover(self) -> None:
        """The connection is back (resumed): catch up instead of failing."""
        self._failure = None
        self.fall_behind()

    # -- consumer side --------------------------------------------------------

    def _wake(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    def _advance(self) -> None:
        while self._expected in self._future:
            event = self._future.pop(self._expected)
            if isinstance(event, Exited):
                self._exit_seen = True
            self._ready.append(event)
            self._expected += 1

    def __aiter__(self) -> ProcessEventStream:
        return self

    async def __anext__(self) -> ProcessEvent:
        while True:
            if self._ready:
                event = self._ready.popleft()
                if isinstance(event, Closed):
                    self._finished = True
                return event
            if self._finished:
                raise StopAsyncIteration
            if self._failure is not None:
                self._finished = True
                return Failed(self._failure)
            if self._behind:
                await self._catch_up()
                continue
            await self._changed.wait()

    async def _catch_up(self) -> None:
        """Read from the server until caught up; then resume live delivery."""
        self._behind = False
        response = await self._read_after(self._expected - 1)
        holes: list[int] = []
        for chunk in response.chunks:
            if chunk.seq < self._expected:
                continue
            holes.extend(range(self._expected, chunk.seq))
            self._place(chunk.seq, Output(chunk.seq, chunk.stream, chunk.chunk), holes)
        if response.chunks:
            self._behind = True  # more may follow: read again
            self._wake()
            return
        # Caught up: what is left are the terminal events.
        if response.exited and not self._exit_seen and response.exit_code is not None:
            exit_seq = response.exit_seq
            if exit_seq is None:  # a server without exitSeq: the first unexplained seq
                exit_seq = self._expected
            if exit_seq >= self._expected:
                holes.extend(range(self._expected, exit_seq))
                self._place(exit_seq, Exited(exit_seq, response.exit_code), holes)
        if response.closed:
            closed_seq = response.closed_seq or response.next_seq - 1
            if closed_seq >= self._expected:
                holes.extend(range(self._expected, closed_seq))
                self._place(closed_seq, Closed(closed_seq), holes)
        self._advance()

    def _place(self, seq: int, event: Output | Exited | Closed, holes: list[int]) -> None:
        """Deliver ``event`` at ``seq``, reporting ``holes`` before it as a gap."""
        if holes:
            self._ready.append(Gap(holes[0], holes[-1]))
            self._expected = holes[-1] + 1
            holes.clear()
        self._future.pop(seq, None)
        self._future[seq] = event
        self._advance()
