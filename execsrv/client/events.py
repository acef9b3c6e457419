"""Process events as a client sees them, in seq order, each seq exactly once.

:class:`ProcessEventStream` re-orders notifications by seq (they may arrive
out of order), buffers a bounded number, and when it falls behind (a slow
consumer, or a disconnect followed by a resume) catches up with
``process/read afterSeq`` instead of growing without bound. Output that
retention already dropped shows up as an explicit :class:`Gap`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Final

import trio

from ..events import Closed, Exited, Output
from ..protocol.process import ReadResponse
from .errors import ClientError, Disconnected

__all__ = [
    "EVENT_BUFFER",
    "Closed",
    "ExitStatus",
    "Exited",
    "Failed",
    "Gap",
    "Output",
    "ProcessEvent",
    "ProcessEventStream",
    "ProcessEvents",
]

EVENT_BUFFER: Final = 1024
"""Events held for a consumer before the stream switches to catching up by reads."""

CATCH_UP_BYTES: Final = 4 << 20
"""``maxBytes`` of a catch-up read; halved (down to :data:`MIN_CATCH_UP_BYTES`) each
time the connection is lost during one, doubled back after each that succeeds, so
a connection reset more often than a full read takes to arrive still makes progress."""
MIN_CATCH_UP_BYTES: Final = 64 << 10


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
Reader = Callable[[int, int], Awaitable[ReadResponse]]
"""``process/read`` of the output after a seq, at most ``maxBytes`` (the first chunk
always comes, whatever its size)."""


class _Missing:
    """A seq the server no longer has (evicted by retention)."""


_MISSING = _Missing()


class ProcessEventStream:
    """Single-consumer async iterator over one process's events."""

    def __init__(self, read_after: Reader, on_complete: Callable[[], None] | None = None) -> None:
        """``on_complete`` runs once ``Closed`` is queued for the consumer: from then on
        the stream needs nothing more from the connection (no live events, no
        :meth:`recover`). Until then a connection that drops mid-catch-up leaves the
        stream waiting for :meth:`recover` or :meth:`fail`."""
        self._read_after = read_after
        self._on_complete = on_complete
        self.complete = False
        """``Closed`` is queued for the consumer: every event has arrived."""
        self._read_bytes = CATCH_UP_BYTES
        self._expected = 1
        self._future: dict[int, Output | Exited | Closed | _Missing] = {}
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
        """The connection is gone for good: end with a :class:`Failed` event."""
        self._failure = reason
        self._wake()

    def recover(self) -> None:
        """The session was resumed on a new connection: catch up with reads."""
        self.fall_behind()

    # -- consumer side --------------------------------------------------------

    def _wake(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    def _advance(self) -> None:
        """Move contiguous events to the ready queue, merging missing seqs into a Gap."""
        gap_start: int | None = None
        while self._expected in self._future:
            event = self._future.pop(self._expected)
            if isinstance(event, _Missing):
                gap_start = self._expected if gap_start is None else gap_start
            else:
                if gap_start is not None:
                    self._ready.append(Gap(gap_start, self._expected - 1))
                    gap_start = None
                if isinstance(event, Exited):
                    self._exit_seen = True
                self._ready.append(event)
                if isinstance(event, Closed):
                    self.complete = True
                    if self._on_complete is not None:
                        self._on_complete()
            self._expected += 1
        if gap_start is not None:
            self._ready.append(Gap(gap_start, self._expected - 1))

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
            changed = self._changed
            if self._behind:
                try:
                    await self._catch_up()
                    continue
                except ClientError:
                    self._behind = True  # wait for recover() or fail()
            await changed.wait()

    async def _catch_up(self) -> None:
        """One ``process/read`` from where the consumer is; read again while chunks come.

        Seqs the read skips are the exit event (a server without ``exitSeq``,
        like codex 0.130.0, does not say which: the first skipped seq is taken
        as the exit while one is expected) or output evicted by retention,
        reported as a :class:`Gap`.
        """
        self._behind = False  # buffer live events that arrive during the read
        try:
            response = await self._read_after(self._expected - 1, self._read_bytes)
        except BaseException as error:
            self._behind = True  # cancelled or failed: the next attempt reads again
            if isinstance(error, Disconnected):
                self._read_bytes = max(self._read_bytes // 2, MIN_CATCH_UP_BYTES)
            raise
        self._read_bytes = min(self._read_bytes * 2, CATCH_UP_BYTES)
        chunks = [c for c in response.chunks if c.seq >= self._expected]
        # Every seq up to `end` is accounted for by this read: returned, terminal, or gone.
        end = chunks[-1].seq if chunks else response.next_seq - 1
        returned = {c.seq for c in chunks}
        skipped = [
            s for s in range(self._expected, end + 1) if s not in returned and s not in self._future
        ]
        if response.exited and not self._exit_seen and response.exit_code is not None:
            exit_seq = response.exit_seq
            if exit_seq is None and skipped and (chunks or not response.closed or len(skipped) > 1):
                exit_seq = skipped[0]
            if exit_seq is not None and exit_seq >= self._expected:
                self._future[exit_seq] = Exited(exit_seq, response.exit_code)
        for chunk in chunks:
            self._future[chunk.seq] = Output(chunk.seq, chunk.stream, chunk.chunk)
        closed_seq = response.closed_seq
        if closed_seq is None and response.closed and not chunks:
            closed_seq = response.next_seq - 1
        if closed_seq is not None and closed_seq >= self._expected:
            self._future[closed_seq] = Closed(closed_seq)
        if chunks:
            self._behind = True  # there may be more: read again
        for missing in range(self._expected, end + 1):
            self._future.setdefault(missing, _MISSING)
        self._advance()
        self._wake()


@dataclass(frozen=True, slots=True)
class ExitStatus:
    """How a process ended: ``exit_code`` as the protocol reports it, and the
    signal that killed it (``"SIGKILL"``), if one did."""

    exit_code: int
    signal: str | None = None


class ProcessEvents:
    """A process's events in seq order, each once, with the exit status on the side.

    Iterate it from one task. :meth:`wait_exit` may run in another task at the
    same time: it only pulls events while the iterator is idle, and keeps what
    it pulls for the iterator, so nothing is lost or reordered.
    """

    def __init__(self, source: AsyncIterator[ProcessEvent]) -> None:
        self._source = source
        self._lock = trio.Lock()  # one pull from the source at a time
        self._kept: deque[ProcessEvent] = deque()  # pulled by wait_exit, not yet iterated
        self._ended = False
        self.exit_status: ExitStatus | None = None
        self.failure: str | None = None

    async def _pull(self) -> ProcessEvent | None:
        if self._ended:
            return None
        try:
            event = await self._source.__anext__()
        except StopAsyncIteration:
            self._ended = True
            return None
        if isinstance(event, Exited):
            self.exit_status = ExitStatus(event.exit_code, event.signal)
        elif isinstance(event, Failed):
            self.failure = event.reason
        return event

    def __aiter__(self) -> ProcessEvents:
        return self

    async def __anext__(self) -> ProcessEvent:
        async with self._lock:
            event = self._kept.popleft() if self._kept else await self._pull()
        if event is None:
            raise StopAsyncIteration
        return event

    async def wait_exit(self) -> ExitStatus:
        """The exit status, pulling (and keeping) events until it is known.

        Raises :class:`~execsrv.Disconnected` if the stream failed first.
        """
        while not self._settled():
            async with self._lock:
                if self._settled():  # the iterator got there while we waited for the lock
                    break
                event = await self._pull()
                if event is None:
                    raise Disconnected("the event stream ended without an exit")
                self._kept.append(event)
        if self.exit_status is None:
            assert self.failure is not None
            raise Disconnected(self.failure)
        return self.exit_status

    def _settled(self) -> bool:
        return self.exit_status is not None or self.failure is not None
