"""A process's output log: the seq counter, retained output and acknowledgements.

Sans-IO (no trio, no waiting): :class:`~.managed.ManagedProcess` does the reads
and the waits, and asks this log what to record, what a ``process/read`` sees,
and how much the next pipe read may take.

Every event takes the next seq from one counter (output chunks, then ``exited``
and ``closed`` in the order they are recorded). Output is retained up to a byte
budget, oldest chunks evicted whole; a read that starts before the evicted range
says ``truncated``.

Output up to ``acked_through`` reached a client (a ``process/read`` went past it,
or it was notified since the last dropped notification): only that may be evicted
while some output reached nobody (``undelivered_through`` is beyond it).

Once a client reads the process with ``process/read``, the log is *paced* by its
reads: notifications no longer acknowledge output, only reads do, so output that
reader has not read is never evicted (the codex 0.130 harness treats notifications
as wake-ups and builds the output from reads; codex-harness.md §5.6). Retained
output still never exceeds the budget: the process reads the child only while
there is room, and the child blocks on its pipe or PTY meanwhile. When the reader
stops reading, :meth:`OutputLog.stop_pacing` (the process's ``reader_timeout``)
acknowledges what was notified, and eviction resumes as for a client that never read.
"""

from __future__ import annotations

import bisect
from typing import Final

from ..events import Closed, Exited, Output
from ..protocol.process import OutputStream, ProcessOutputChunk, ReadResponse

__all__ = ["READ_CHUNK_BYTES", "OutputLog"]

READ_CHUNK_BYTES: Final = 256 * 1024
"""Bytes asked of a pipe or PTY per read. Large reads mean few messages, and
per-message cost, not bytes, dominates websocket throughput in Python."""


class OutputLog:
    """One process's events and retained output, within ``retained_output_bytes``."""

    def __init__(self, retained_output_bytes: int, *, paced: bool = False) -> None:
        """``paced``: paced from the start, as if a ``process/read`` had come already."""
        self._budget = retained_output_bytes
        self._next_seq = 1
        self._chunks: list[ProcessOutputChunk] = []
        self._head = 0  # index of the oldest retained chunk
        self._retained_bytes = 0
        self._evicted_through = 0  # highest evicted seq
        self._read_through = 0
        self._acked_through = 0
        self._undelivered_through = 0
        self._notified_through = 0  # the last seq whose notification reached a client
        self._paced = paced  # only process/read acknowledges output
        self._read_once = False  # a process/read has come
        self._unacked_bytes = 0  # retained bytes after _acked_through
        self.exit_code: int | None = None
        self.exit_signal: str | None = None
        self.exit_seq: int | None = None
        self.closed_seq: int | None = None

    @property
    def next_seq(self) -> int:
        return self._next_seq

    @property
    def retained_bytes(self) -> int:
        """Output bytes held for ``process/read``."""
        return self._retained_bytes

    @property
    def exited(self) -> bool:
        return self.exit_code is not None

    @property
    def closed(self) -> bool:
        return self.closed_seq is not None

    @property
    def paced(self) -> bool:
        """A client reads this process with ``process/read``: only reads acknowledge
        output (notifications do not), so nothing it has not read is evicted."""
        return self._paced

    @property
    def read_once(self) -> bool:
        """A ``process/read`` of this process has come (see :meth:`mark_read`)."""
        return self._read_once

    @property
    def behind(self) -> bool:
        """Some output reached nobody and no ``process/read`` has gone past it."""
        return self._undelivered_through > self._acked_through

    def _take_seq(self) -> int:
        seq = self._next_seq
        self._next_seq += 1
        return seq

    # -- recording ------------------------------------------------------------

    def append(self, stream: OutputStream, data: bytes) -> Output:
        """Record a chunk read from ``stream``: the next seq, retained (evicting the
        oldest output past the budget)."""
        seq = self._take_seq()
        self._retain(ProcessOutputChunk(seq=seq, stream=stream, chunk=data))
        return Output(seq, stream, data)

    def mark_exited(self, exit_code: int, signal: str | None) -> Exited:
        """Record the exit (once)."""
        assert self.exit_seq is None, "exit already recorded"
        self.exit_code = exit_code
        self.exit_signal = signal
        self.exit_seq = self._take_seq()
        return Exited(self.exit_seq, exit_code, signal)

    def mark_closed(self) -> Closed:
        """Record ``closed`` (once): the last event."""
        assert self.closed_seq is None, "closed already recorded"
        self.closed_seq = self._take_seq()
        return Closed(self.closed_seq)

    def _retain(self, chunk: ProcessOutputChunk) -> None:
        self._chunks.append(chunk)
        self._retained_bytes += len(chunk.chunk)
        self._unacked_bytes += len(chunk.chunk)
        self._evict(self._retained_bytes - self._budget)
        # Amortised. Evicted chunks stay alive until then (at most 64 of them): freeing
        # each at once makes glibc return the heap top and fault it back in for the
        # next read, which halves streaming throughput.
        if self._head > 64 and self._head * 2 > len(self._chunks):
            self._compact()

    def evict(self, at_least: int) -> int:
        """Evict the oldest chunks, whole, until ``at_least`` bytes are freed or none
        is left, and free them now; returns the bytes freed. Reads from before them
        say ``truncated``."""
        freed = self._evict(at_least)
        self._compact()
        return freed

    def _evict(self, at_least: int) -> int:
        freed = 0
        while freed < at_least and self._head < len(self._chunks):
            old = self._chunks[self._head]
            freed += len(old.chunk)
            if old.seq > self._acked_through:
                self._unacked_bytes -= len(old.chunk)
            self._evicted_through = old.seq
            self._head += 1
        self._retained_bytes -= freed
        return freed

    def _compact(self) -> None:
        """Drop evicted chunks from the list: their bytes are freed."""
        del self._chunks[: self._head]
        self._head = 0

    # -- delivery and acknowledgement ----------------------------------------

    def notified(self, seq: int, delivered: bool) -> bool:
        """The notification of output ``seq`` reached a client (``delivered``) or was
        dropped; returns whether acknowledged output advanced."""
        behind = self.behind
        if not delivered:
            if not behind:
                self._forget_notified()
            self._undelivered_through = seq
            return False
        self._notified_through = seq
        if not behind and not self._paced:
            return self.acknowledge(seq)
        return False

    def stop_pacing(self) -> bool:
        """The reader stopped reading while the child waited for room: notifications
        acknowledge output again, and what was notified already is acknowledged now
        (unless some output reached nobody), so eviction resumes. The next
        ``process/read`` paces the log again. Returns whether acknowledged output
        advanced."""
        self._paced = False
        if self.behind:
            return False
        return self.acknowledge(self._notified_through)

    def _forget_notified(self) -> None:
        """Only what a ``process/read`` went past stays acknowledged: a notification
        was dropped (those sent before it may have been lost with the connection),
        or a reader paces the log (it builds the output from reads)."""
        self._acked_through = self._read_through
        self._unacked_bytes = sum(
            len(self._chunks[index].chunk)
            for index in range(self._head, len(self._chunks))
            if self._chunks[index].seq > self._acked_through
        )

    def acknowledge(self, through: int) -> bool:
        """Output up to seq ``through`` reached a client: retention may evict it.
        Returns whether that advanced anything."""
        if through <= self._acked_through:
            return False
        index = bisect.bisect_right(self._chunks, self._acked_through, lo=self._head, key=_seq_of)
        while index < len(self._chunks) and self._chunks[index].seq <= through:
            self._unacked_bytes -= len(self._chunks[index].chunk)
            index += 1
        self._acked_through = through
        return True

    def read_allowance(self, streams: int, reserved_bytes: int) -> int | None:
        """Bytes the next read of one of ``streams`` output streams may take, with
        ``reserved_bytes`` already granted to reads in progress; None: wait for an
        acknowledgement first.

        While every chunk reached a client, a full read, within the retention
        budget shared by the streams (so a chunk whose notification turns out to
        reach nobody never evicts another such chunk). While some output reached
        nobody, or the log is :attr:`paced`, only what retention holds without
        evicting unacknowledged output.
        """
        if self.behind or self._paced:
            room = self._budget - self._unacked_bytes - reserved_bytes
            if room > 0:
                return min(READ_CHUNK_BYTES, -(-room // streams))
            return None
        return min(READ_CHUNK_BYTES, max(1, self._budget // streams))

    # -- reads ----------------------------------------------------------------

    def snapshot(
        self, after_seq: int, max_bytes: int | None, *, true_next_seq: bool = False
    ) -> ReadResponse:
        """Retained chunks after ``after_seq`` within ``max_bytes`` (first always in).

        ``nextSeq`` is the last returned chunk's seq + 1 (codex 0.130's rule), or,
        with ``true_next_seq`` or no chunk returned, the next seq not yet assigned
        (codex 0.171's rule when ``maxBytes`` is null: it counts exit and close).
        """
        start = bisect.bisect_right(self._chunks, after_seq, lo=self._head, key=_seq_of)
        chunks: list[ProcessOutputChunk] = []
        total = 0
        for chunk in self._chunks[start:]:
            size = len(chunk.chunk)
            if chunks and max_bytes is not None and total + size > max_bytes:
                break
            chunks.append(chunk)
            total += size
        return ReadResponse(
            chunks=chunks,
            next_seq=chunks[-1].seq + 1 if chunks and not true_next_seq else self._next_seq,
            exited=self.exit_code is not None,
            exit_code=self.exit_code,
            closed=self.closed,
            failure=None,
            truncated=self._evicted_through > after_seq,
            exit_seq=self.exit_seq,
            closed_seq=self.closed_seq,
        )

    @staticmethod
    def has_news(after_seq: int, response: ReadResponse) -> bool:
        """A long-poll from ``after_seq`` returns ``response`` now: a chunk, closed,
        or an exit the reader has not seen."""
        return bool(
            response.chunks
            or response.closed
            or (response.exited and after_seq < response.next_seq - 1)
        )

    def mark_read(self, after_seq: int, response: ReadResponse) -> bool:
        """A ``process/read`` from ``after_seq`` returned ``response``: the reader has
        seen up to its cursor, and now what it is handed. The log is :attr:`paced`
        from now on: output notified but not read is no longer acknowledged.
        Returns whether acknowledged output advanced."""
        through = max(min(after_seq, self._next_seq - 1), response.next_seq - 1)
        self._read_through = max(self._read_through, through)
        self._read_once = True
        acked_before = self._acked_through
        if not self._paced:
            self._paced = True
            self._forget_notified()
        self.acknowledge(through)
        return self._acked_through > acked_before


def _seq_of(chunk: ProcessOutputChunk) -> int:
    return chunk.seq
