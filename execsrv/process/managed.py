"""One managed child: its seq counter, retained output, exit state and supervisor.

Every event of a process takes the next seq from one counter (output chunks,
then ``exited`` and ``closed`` in the order they are recorded). ``closed`` is
recorded last, once the exit status is known and every output stream hit EOF.
Output is retained up to a byte budget, oldest chunks evicted whole; a read
that starts before the evicted range says ``truncated``.

Once a notification reached nobody (the session is detached), output is only
read from the child while retention can hold it without evicting output no
``process/read`` has gone past: beyond that the child blocks on its pipe or PTY
until a read goes past some, so a detached flood costs no CPU and loses nothing.
"""

from __future__ import annotations

import bisect
import contextlib
import errno
import os
import signal
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Final

import trio

from ..protocol.process import (
    EnvPolicy,
    ExecClosedNotification,
    ExecExitedNotification,
    ExecOutputDeltaNotification,
    OutputStream,
    ProcessInfo,
    ProcessOutputChunk,
    ReadResponse,
    SignalName,
    WriteStatus,
)
from ..protocol.wire import Payload
from .containment import Leftovers
from .env import build_child_env
from .errors import NotATerminal
from .retention import ExitedOutputBudget
from .spawn import SpawnedChild, set_pty_size, spawn_child
from .stdin import StdinQueue

__all__ = ["READ_CHUNK_BYTES", "ManagedProcess", "NotificationSink", "ProcessLimits"]

READ_CHUNK_BYTES: Final = 256 * 1024
"""Bytes asked of a pipe or PTY per read. Large reads mean few messages, and
per-message cost, not bytes, dominates websocket throughput in Python."""

SIGNALS: Final[dict[SignalName, signal.Signals]] = {
    "interrupt": signal.SIGINT,
    "terminate": signal.SIGTERM,
    "kill": signal.SIGKILL,
    "hangup": signal.SIGHUP,
    "quit": signal.SIGQUIT,
    "user1": signal.SIGUSR1,
    "user2": signal.SIGUSR2,
}

DEFAULT_PTY_SIZE: Final = (24, 80)
"""Rows and columns of a PTY started without ``ptySize`` (the reference's size)."""

_MAX_MS: Final = 2**64 - 1
"""Durations are u64 milliseconds on the wire; larger ints would overflow a float."""

NotificationSink = Callable[[str, Payload], Awaitable[bool]]
"""Where a process sends its notifications (method, params); may block for backpressure.
Returns whether a client was there to receive it (False: it was dropped)."""


@dataclass(frozen=True)
class ProcessSpec:
    """What to start: a start request's facts the process itself needs."""

    process_id: str
    argv: list[str]
    cwd: str
    env: Mapping[str, str]
    env_policy: EnvPolicy | None = None
    tty: bool = False
    pipe_stdin: bool = False
    arg0: str | None = None
    """``argv[0]`` as the program sees it, if not ``argv[0]``."""
    pty_size: tuple[int, int] | None = None
    """Rows and columns of a PTY (:data:`DEFAULT_PTY_SIZE` if None)."""
    timeout_ms: int | None = None
    """Kill the process group this long after the start (None: never)."""


@dataclass(frozen=True)
class ProcessLimits:
    retained_output_bytes: int = 1 << 20
    exited_retention_seconds: float = 30.0
    kill_grace_seconds: float = 2.0


class ManagedProcess:
    """A spawned child owned by a session; get one from :meth:`run`, which runs its lifetime.

    All methods are called from trio tasks of the same run. Reads and writes
    are safe to call concurrently with the supervisor.
    """

    def __init__(
        self,
        spec: ProcessSpec,
        child: SpawnedChild,
        *,
        sink: NotificationSink,
        limits: ProcessLimits,
        exited_output: ExitedOutputBudget | None = None,
    ) -> None:
        self.process_id = spec.process_id
        self.argv = spec.argv
        self.tty = spec.tty
        self._child = child
        self._process = child.process
        self._sink = sink
        self._limits = limits
        self._exited_output = exited_output
        self._timeout_ms = spec.timeout_ms
        self._next_seq = 1
        self._chunks: list[ProcessOutputChunk] = []
        self._head = 0  # index of the oldest retained chunk
        self._retained_bytes = 0
        self._evicted_through = 0  # highest evicted seq
        # Output up to _acked_through reached a client (a process/read went past
        # it, or it was notified since the last dropped notification): only that
        # may be evicted while _undelivered_through is beyond it, i.e. while some
        # output reached nobody.
        self._read_through = 0
        self._acked_through = 0
        self._undelivered_through = 0
        self._unacked_bytes = 0  # retained bytes after _acked_through
        self._reserved_bytes = 0  # read sizes granted to pumps waiting for output
        self._acknowledged = trio.Event()
        self.exit_code: int | None = None
        self.exit_signal: str | None = None
        self.exit_seq: int | None = None
        self.closed_seq: int | None = None
        self._changed = trio.Event()
        self._timeout_scope = trio.CancelScope()
        self._terminated = False  # process/terminate killed it while running
        self._stdin: StdinQueue | None = None
        if child.pty_master is not None:
            self._stdin = StdinQueue(child.pty_master, owns_stream=False)
        elif spec.pipe_stdin and self._process.stdin is not None:
            self._stdin = StdinQueue(self._process.stdin, owns_stream=True)

    @classmethod
    async def _spawn(
        cls,
        spec: ProcessSpec,
        *,
        sink: NotificationSink,
        limits: ProcessLimits,
        exited_output: ExitedOutputBudget | None,
    ) -> ManagedProcess:
        """Spawn (see :func:`~.spawn.spawn_child`) and wrap the child, unsupervised.
        Raises :class:`~.errors.SpawnFailed` if the spawn fails."""
        rows, cols = spec.pty_size or DEFAULT_PTY_SIZE
        child = await spawn_child(
            spec.argv,
            cwd=spec.cwd,
            env=build_child_env(spec.env, spec.env_policy),
            tty=spec.tty,
            pipe_stdin=spec.pipe_stdin,
            arg0=spec.arg0,
            pty_rows=rows,
            pty_cols=cols,
        )
        return cls(spec, child, sink=sink, limits=limits, exited_output=exited_output)

    # -- state ---------------------------------------------------------------

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def running(self) -> bool:
        return self.exit_code is None

    @property
    def closed(self) -> bool:
        return self.closed_seq is not None

    async def wait_exited(self) -> None:
        """Return once the child has exited and been reaped (its ``exited`` is recorded).

        Cancellation: nothing to undo."""
        while self.running:
            await self._changed.wait()

    def info(self) -> ProcessInfo:
        return ProcessInfo(
            process_id=self.process_id,
            argv=self.argv,
            tty=self.tty,
            running=self.running,
            exit_code=self.exit_code,
        )

    def _take_seq(self) -> int:
        seq = self._next_seq
        self._next_seq += 1
        self._changed.set()
        self._changed = trio.Event()
        return seq

    @property
    def retained_bytes(self) -> int:
        """Output bytes held for ``process/read``."""
        return self._retained_bytes

    def _retain(self, chunk: ProcessOutputChunk) -> None:
        self._chunks.append(chunk)
        self._retained_bytes += len(chunk.chunk)
        self._unacked_bytes += len(chunk.chunk)
        self._evict(self._retained_bytes - self._limits.retained_output_bytes)
        # Amortised. Evicted chunks stay alive until then (at most 64 of them): freeing
        # each at once makes glibc return the heap top and fault it back in for the
        # next read, which halves streaming throughput.
        if self._head > 64 and self._head * 2 > len(self._chunks):
            self._compact()

    def evict_output(self, at_least: int) -> int:
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

    def _acknowledge(self, through: int) -> None:
        """Output up to seq ``through`` reached a client: retention may evict it."""
        if through <= self._acked_through:
            return
        index = bisect.bisect_right(self._chunks, self._acked_through, lo=self._head, key=_seq_of)
        while index < len(self._chunks) and self._chunks[index].seq <= through:
            self._unacked_bytes -= len(self._chunks[index].chunk)
            index += 1
        self._acked_through = through
        self._acknowledged.set()
        self._acknowledged = trio.Event()

    async def _read_allowance(self, streams: int) -> int:
        """Bytes the next read of one of ``streams`` output streams may take.

        While every chunk reached a client, a full read, within the retention
        budget shared by the streams (so a chunk whose notification turns out to
        reach nobody never evicts another such chunk). While some output reached
        nobody, only what retention holds without evicting unacknowledged output;
        with no room, this waits for a ``process/read`` to acknowledge some.
        Cancellation: nothing to undo.
        """
        budget = self._limits.retained_output_bytes
        while self._undelivered_through > self._acked_through:
            room = budget - self._unacked_bytes - self._reserved_bytes
            if room > 0:
                return min(READ_CHUNK_BYTES, -(-room // streams))
            await self._acknowledged.wait()
        return min(READ_CHUNK_BYTES, max(1, budget // streams))

    # -- reads ---------------------------------------------------------------

    def snapshot(self, after_seq: int, max_bytes: int | None) -> ReadResponse:
        """Retained chunks after ``after_seq`` within ``max_bytes`` (first always in)."""
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
            next_seq=chunks[-1].seq + 1 if chunks else self._next_seq,
            exited=self.exit_code is not None,
            exit_code=self.exit_code,
            closed=self.closed,
            failure=None,
            truncated=self._evicted_through > after_seq,
            exit_seq=self.exit_seq,
            closed_seq=self.closed_seq,
        )

    async def read(self, after_seq: int, max_bytes: int | None, wait_ms: int) -> ReadResponse:
        """``process/read``: return at once if there is anything new, else long-poll.

        Returns when a chunk after ``after_seq`` exists, the process is closed,
        an unseen exit event exists, or ``wait_ms`` has passed.
        """
        deadline = trio.current_time() + _seconds(wait_ms)
        while True:
            changed = self._changed
            response = self.snapshot(after_seq, max_bytes)
            if (
                response.chunks
                or response.closed
                or (response.exited and after_seq < response.next_seq - 1)
                or trio.current_time() >= deadline
            ):
                # The reader has seen up to its cursor, and now what it is handed.
                through = max(min(after_seq, self._next_seq - 1), response.next_seq - 1)
                self._read_through = max(self._read_through, through)
                self._acknowledge(through)
                return response
            with trio.move_on_at(deadline):
                await changed.wait()

    # -- input and control ----------------------------------------------------

    def write(self, data: bytes) -> WriteStatus:
        """Queue ``data`` for stdin; the reference's statuses (never an error)."""
        if self._stdin is None:
            return "stdinClosed"
        if self._terminated:
            return "stdinClosed"  # the reference: -32603 (DESIGN.md §1.1.4)
        if self.tty and not self.running:
            return "accepted"  # the reference discards PTY input after exit
        status = self._stdin.offer(data)
        if status == "stdinClosed" and not self._stdin.eof_requested:
            # The child closed its stdin or exited: the reference still answers
            # `accepted` (and discards the bytes) until process/terminate.
            return "accepted"
        return status

    @property
    def stdin_queued_bytes(self) -> int:
        """Bytes accepted by ``process/write`` and not yet written to the child."""
        return 0 if self._stdin is None else self._stdin.queued_bytes

    def write_would_wait(self, size: int) -> bool:
        """Whether a ``size``-byte :meth:`write` would be followed by a wait for room."""
        return self._stdin is not None and self._stdin.would_wait(size)

    async def wait_stdin_room(self) -> None:
        if self._stdin is not None:
            await self._stdin.wait_room()

    def close_stdin(self) -> WriteStatus:
        """EOF on a pipe; on a PTY, the terminal's EOF character (^D)."""
        if self._stdin is None:
            return "stdinClosed"
        if self.tty:
            return self._stdin.offer(b"\x04") if self.running else "stdinClosed"
        return self._stdin.request_eof()

    def signal_group(self, sig: int) -> bool:
        """Signal the process group while its leader is unreaped (its pgid is ours)."""
        if self._process.returncode is not None:
            return False
        try:
            os.killpg(self._process.pid, sig)
        except ProcessLookupError:
            return False
        return True

    def signal_contained(self, sig: int) -> None:
        """Signal the group and every descendant, even those that left it (setsid)."""
        self.signal_group(sig)
        self._child.containment.signal(sig, besides_group=self._process.pid)

    def kill(self) -> bool:
        """``process/terminate``: SIGKILL everything it started; True if it was still running."""
        if not self.running:
            return False
        self._terminated = True
        self.signal_contained(signal.SIGKILL)
        return True

    def send_signal(self, name: SignalName) -> None:
        if self.running:
            self.signal_group(SIGNALS[name])

    def resize(self, rows: int, cols: int) -> None:
        """Set the PTY size (a no-op once closed); :class:`~.errors.NotATerminal`
        for a pipe process."""
        if self._child.pty_master_fd is None:
            raise NotATerminal(self.process_id)
        if self._child.pty_master is not None and not self.closed:
            set_pty_size(self._child.pty_master_fd, rows, cols)

    # -- supervision ----------------------------------------------------------

    @classmethod
    async def run(
        cls,
        spec: ProcessSpec,
        *,
        sink: NotificationSink,
        limits: ProcessLimits,
        forget: Callable[[ManagedProcess], None],
        exited_output: ExitedOutputBudget | None = None,
        leftovers: Leftovers | None = None,
        task_status: trio.TaskStatus[ManagedProcess] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Spawn ``spec`` and run the process's whole lifetime in this task.

        Start it in the nursery that is to supervise it:
        ``managed = await nursery.start(partial(ManagedProcess.run, ...))`` returns
        the process right after the spawn. A spawn error (:class:`~.errors.SpawnFailed`)
        reaches that caller, and nothing is left behind; cancelling the caller
        before then cancels the spawn (a child already forked is killed and reaped).

        Runs the process to ``closed``, keeps it for the retention time, then calls
        ``forget(process)``. Cancellation (session expiry, server shutdown) terminates
        the process group and every descendant, even those that left it: SIGTERM,
        the grace period, then SIGKILL; the child is always reaped before ``forget``.
        When the retention time ends, what the child left running goes to
        ``leftovers`` (killed now without one). Once closed, its output counts
        against ``exited_output`` (if given); ``forget`` discards it from the budget.
        """
        managed = await cls._spawn(spec, sink=sink, limits=limits, exited_output=exited_output)
        await managed._supervise(forget, leftovers, task_status)

    async def _supervise(
        self,
        forget: Callable[[ManagedProcess], None],
        leftovers: Leftovers | None,
        task_status: trio.TaskStatus[ManagedProcess],
    ) -> None:
        handed_over: Leftovers | None = None
        try:
            # The fork itself is not cancellable: a request cancelled meanwhile ends
            # here, before the process is handed over, and the finally reaps it.
            await trio.lowlevel.checkpoint_if_cancelled()
            task_status.started(self)
            async with trio.open_nursery() as nursery:
                stdin_scope = trio.CancelScope()
                if self._stdin is not None:
                    nursery.start_soon(self._run_stdin, stdin_scope)
                async with trio.open_nursery() as lifetime:
                    lifetime.start_soon(self._watch_exit)
                    streams = self._output_streams()
                    for stream, name in streams:
                        lifetime.start_soon(self._pump, stream, name, len(streams))
                    if self._timeout_ms is not None:
                        lifetime.start_soon(self._enforce_timeout, self._timeout_ms)
                stdin_scope.cancel()
            self.closed_seq = self._take_seq()
            if self._exited_output is not None:
                self._exited_output.add(self)
            # Every stream is at EOF: release the descriptors now, not after the
            # retention time (hundreds of short commands would exhaust the fd limit).
            await self._close_streams()
            self._child.containment.release_if_empty()
            await self._sink(
                "process/closed",
                ExecClosedNotification(process_id=self.process_id, seq=self.closed_seq),
            )
            await trio.sleep(self._limits.exited_retention_seconds)
            handed_over = leftovers
        finally:
            with trio.CancelScope(shield=True):
                await self._reap(handed_over)
            forget(self)

    def _output_streams(self) -> list[tuple[trio.abc.ReceiveStream, OutputStream]]:
        if self._child.pty_master is not None:
            return [(self._child.pty_master, "pty")]
        streams: list[tuple[trio.abc.ReceiveStream, OutputStream]] = []
        if self._process.stdout is not None:
            streams.append((self._process.stdout, "stdout"))
        if self._process.stderr is not None:
            streams.append((self._process.stderr, "stderr"))
        return streams

    async def _run_stdin(self, scope: trio.CancelScope) -> None:
        assert self._stdin is not None
        with scope:
            await self._stdin.run()

    async def _pump(self, stream: trio.abc.ReceiveStream, name: OutputStream, streams: int) -> None:
        while True:
            if isinstance(stream, trio.lowlevel.FdStream):
                # Idle, a pump holds no share of the room another stream could use.
                await trio.lowlevel.wait_readable(stream.fileno())
            size = await self._read_allowance(streams)
            self._reserved_bytes += size
            try:
                received = await stream.receive_some(size)
            except trio.BrokenResourceError as error:
                # A PTY master reads EIO once every slave fd is closed: that is EOF.
                if isinstance(error.__cause__, OSError) and error.__cause__.errno == errno.EIO:
                    return
                raise
            finally:
                self._reserved_bytes -= size
            if not received:
                return
            data = bytes(received)
            seq = self._take_seq()
            chunk = ProcessOutputChunk(seq=seq, stream=name, chunk=data)
            self._retain(chunk)
            delivered = await self._sink(
                "process/output",
                ExecOutputDeltaNotification(
                    process_id=self.process_id, seq=seq, stream=name, chunk=data
                ),
            )
            behind = self._undelivered_through > self._acked_through
            if not delivered:
                if not behind:
                    self._forget_notified()
                self._undelivered_through = seq
            elif not behind:
                self._acknowledge(seq)

    def _forget_notified(self) -> None:
        """A notification was dropped: those sent before it may have been lost with
        the connection, so only what a ``process/read`` went past stays acknowledged."""
        self._acked_through = self._read_through
        self._unacked_bytes = sum(
            len(self._chunks[index].chunk)
            for index in range(self._head, len(self._chunks))
            if self._chunks[index].seq > self._acked_through
        )

    async def _watch_exit(self) -> None:
        returncode = await self._process.wait()
        self._timeout_scope.cancel()
        if returncode >= 0:
            self.exit_code = returncode
        else:
            self.exit_signal = _signal_name(-returncode)
            self.exit_code = 1 if self.tty else -1  # the reference's PTY layer reports 1
        self.exit_seq = self._take_seq()
        await self._sink(
            "process/exited",
            ExecExitedNotification(
                process_id=self.process_id,
                seq=self.exit_seq,
                exit_code=self.exit_code,
                signal=self.exit_signal,
            ),
        )

    async def _enforce_timeout(self, timeout_ms: int) -> None:
        with self._timeout_scope:
            await trio.sleep(_seconds(timeout_ms))
            await self._terminate_group()

    async def _terminate_group(self) -> None:
        """SIGTERM, wait out the grace period, then SIGKILL (descendants that left
        the group included)."""
        self.signal_contained(signal.SIGTERM)
        with trio.move_on_after(self._limits.kill_grace_seconds):
            await self._process.wait()
        self.signal_contained(signal.SIGKILL)

    async def _reap(self, leftovers: Leftovers | None) -> None:
        if self._process.returncode is None:
            await self._terminate_group()
            await self._process.wait()
        if not self.closed:
            # Output pipes are still held: group members linger. While any of
            # them lives the kernel keeps the pgid from being reused.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._process.pid, signal.SIGKILL)
        if leftovers is not None:
            await leftovers.keep(self._child.containment)
        else:
            await self._child.containment.close()
        await self._close_streams()

    async def _close_streams(self) -> None:
        """Close stdin, the output pipes and the PTY master (idempotent)."""
        for stream in (self._process.stdin, self._process.stdout, self._process.stderr):
            if stream is not None:
                await trio.aclose_forcefully(stream)
        if self._child.pty_master is not None:
            await trio.aclose_forcefully(self._child.pty_master)


def _seconds(milliseconds: int) -> float:
    return min(milliseconds, _MAX_MS) / 1000


def _seq_of(chunk: ProcessOutputChunk) -> int:
    return chunk.seq


def _signal_name(number: int) -> str:
    """``SIGTERM``; real-time signals (no ``signal.Signals`` member) as ``SIGRTMIN+N``."""
    try:
        return signal.Signals(number).name
    except ValueError:
        if signal.SIGRTMIN < number < signal.SIGRTMAX:
            return f"SIGRTMIN+{number - signal.SIGRTMIN}"
        return f"SIG{number}"
