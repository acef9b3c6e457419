"""One managed child: its I/O, the waits on its output log, and its supervisor.

The seq counter, retained output and exit state are its :class:`~.output_log.OutputLog`
(sans-IO). ``closed`` is recorded last, once the exit status is known and every
output stream hit EOF. The process speaks domain events (:mod:`.events`) to its
:data:`EventSink`; it picks no wire method names.

Once a notification reached nobody (the session is detached), output is only
read from the child while retention can hold it without evicting output no
``process/read`` has gone past: beyond that the child blocks on its pipe or PTY
until a read goes past some, so a detached flood costs no CPU and loses nothing.

The same holds while a client reads the process with ``process/read`` (the log is
*paced*, see :mod:`.output_log`; a process started by a 0.130 request from its
start): a burst larger than retention between two reads holds the child back
instead of evicting what that reader has not read. If no read
makes room for ``reader_timeout_seconds`` while the child is held, the reader is
taken to have stopped: eviction resumes (oldest first, reads say ``truncated``)
until its next read. Retained output never exceeds ``retained_output_bytes``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import os
import signal
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Final

import trio

from ..changed import Changed
from ..events import ProcessEvent
from ..protocol.generation import Generation
from ..protocol.process import (
    EnvPolicy,
    OutputStream,
    ProcessInfo,
    ReadResponse,
    SignalName,
    WriteStatus,
)
from ..sandbox.command import CommandSandbox
from .containment import Leftovers
from .env import build_child_env
from .errors import NotATerminal
from .output_log import OutputLog
from .retention import ExitedOutputBudget
from .spawn import SpawnedChild, set_pty_size, spawn_child
from .stdin import StdinQueue
from .write_ids import WriteIds

__all__ = ["EventSink", "ManagedProcess", "ProcessLimits", "ProcessSpec"]

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
DENIAL_TEXTS: Final = (b"operation not permitted", b"permission denied", b"read-only file system")
"""A sandboxed child that exits non-zero with one of these (lower-cased) in the last
:data:`DENIAL_TAIL_BYTES` of its output failed on a denial (``sandboxDenied``): the
texts of ``EPERM``, ``EACCES`` and ``EROFS``, which its sandbox answers."""
DENIAL_TAIL_BYTES: Final = 4096
DENIAL_OUTPUT_GRACE_SECONDS: Final = 0.25
"""How long after a sandboxed child's failure its output may take to reach end-of-file
(a descendant may hold it open) before ``sandboxDenied`` is decided on what came."""

_MAX_MS: Final = 2**64 - 1
"""Durations are u64 milliseconds on the wire; larger ints would overflow a float."""

EventSink = Callable[[ProcessEvent], Awaitable[bool]]
"""Where a process sends its events, in seq order; may block for backpressure.
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
    generation: Generation = Generation.V0_130
    """The generation of the request that started it: where 0.130 and 0.171 disagree
    (a signal death's exit code, ``nextSeq``, spawn error texts), it is answered as that."""
    injected_env: Mapping[str, str] = field(default_factory=dict)
    """Laid over the environment built from ``env`` and ``env_policy`` (codex 0.171's
    ``metadata`` variables, which win over both)."""
    sandbox: CommandSandbox | None = None
    """Confine the child to this (see :mod:`execsrv.sandbox.command`); None: unconfined."""


@dataclass(frozen=True)
class ProcessLimits:
    retained_output_bytes: int = 1 << 20
    exited_retention_seconds: float = 30.0
    kill_grace_seconds: float = 2.0
    reader_timeout_seconds: float = 2.0
    """How long a child held back for a ``process/read`` reader waits for a read
    that makes room before eviction resumes."""
    first_read_seconds: float = 0.1
    """The same for a process paced from its start (a 0.130 one) that no read has come
    for yet: the 0.130 harness reads right after ``process/start``, and a client that
    only takes notifications is held this long, once."""


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
        sink: EventSink,
        limits: ProcessLimits,
        exited_output: ExitedOutputBudget | None = None,
    ) -> None:
        self.process_id = spec.process_id
        self.argv = spec.argv
        self.tty = spec.tty
        self.generation = spec.generation
        self._child = child
        self._process = child.process
        self._sink = sink
        self._limits = limits
        self._exited_output = exited_output
        self._timeout_ms = spec.timeout_ms
        # The codex 0.130 harness reads every process, starting right after the start:
        # pacing a 0.130 process from the start loses nothing in between (a client
        # that never reads is held for ``first_read_seconds`` once).
        paced = spec.generation is Generation.V0_130
        self._log = OutputLog(limits.retained_output_bytes, paced=paced)
        self._reserved_bytes = 0  # read sizes granted to pumps waiting for output
        self._acknowledged = Changed()  # the log acknowledged more output
        self._recorded = Changed()  # the log recorded an event
        self._timeout_scope = trio.CancelScope()
        self._terminated = False  # process/terminate killed it while running
        self._stdin: StdinQueue | None = None
        self._write_ids = WriteIds()
        self.sandboxed = spec.sandbox is not None
        self._output_tail = b""  # a sandboxed child's last output, for sandbox_denied
        self._sandbox_denied = False
        self._output_ended = trio.Event()
        self.settled = trio.Event()
        """Set once ``closed`` has gone to the sink (queued for an attached client), or
        the process ended without that (its session closed): nothing more will be
        sent about it. A server's drain waits for it."""
        if child.pty_master is not None:
            self._stdin = StdinQueue(child.pty_master, owns_stream=False)
        elif spec.pipe_stdin and self._process.stdin is not None:
            self._stdin = StdinQueue(self._process.stdin, owns_stream=True)

    @classmethod
    async def _spawn(
        cls,
        spec: ProcessSpec,
        *,
        sink: EventSink,
        limits: ProcessLimits,
        exited_output: ExitedOutputBudget | None,
    ) -> ManagedProcess:
        """Spawn (see :func:`~.spawn.spawn_child`) and wrap the child, unsupervised.
        Raises :class:`~.errors.SpawnFailed` if the spawn fails."""
        rows, cols = spec.pty_size or DEFAULT_PTY_SIZE
        child = await spawn_child(
            spec.argv,
            cwd=spec.cwd,
            env={**build_child_env(spec.env, spec.env_policy), **spec.injected_env},
            tty=spec.tty,
            pipe_stdin=spec.pipe_stdin,
            arg0=spec.arg0,
            pty_rows=rows,
            pty_cols=cols,
            generation=spec.generation,
            sandbox=spec.sandbox,
        )
        return cls(spec, child, sink=sink, limits=limits, exited_output=exited_output)

    # -- state ---------------------------------------------------------------

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def exit_code(self) -> int | None:
        return self._log.exit_code

    @property
    def exit_signal(self) -> str | None:
        return self._log.exit_signal

    @property
    def exit_seq(self) -> int | None:
        return self._log.exit_seq

    @property
    def closed_seq(self) -> int | None:
        return self._log.closed_seq

    @property
    def running(self) -> bool:
        return not self._log.exited

    @property
    def closed(self) -> bool:
        return self._log.closed

    async def wait_exited(self) -> None:
        """Return once the child has exited and been reaped (its ``exited`` is recorded).

        Cancellation: nothing to undo."""
        await self._recorded.wait_until(lambda: not self.running)

    async def wait_closed(self) -> bool:
        """Return once the process is ``closed``: whether something it started is still
        running then (e.g. a daemon that let go of its output).

        Cancellation: nothing to undo."""
        await self._recorded.wait_until(lambda: self.closed)
        return bool(self._child.containment.members())

    def info(self) -> ProcessInfo:
        return ProcessInfo(
            process_id=self.process_id,
            argv=self.argv,
            tty=self.tty,
            running=self.running,
            exit_code=self.exit_code,
        )

    def _acknowledged_more(self, advanced: bool) -> None:
        """Wake pumps waiting for room if the log acknowledged more output."""
        if advanced:
            self._acknowledged.notify()

    @property
    def paced(self) -> bool:
        """A client reads this process with ``process/read``: output it has not read
        is kept, and the child waits for room instead (see the module docstring)."""
        return self._log.paced

    @property
    def retained_bytes(self) -> int:
        """Output bytes held for ``process/read``."""
        return self._log.retained_bytes

    def evict_output(self, at_least: int) -> int:
        """Evict the oldest chunks, whole, until ``at_least`` bytes are freed or none
        is left, and free them now; returns the bytes freed. Reads from before them
        say ``truncated``."""
        return self._log.evict(at_least)

    async def _read_allowance(self, streams: int) -> int:
        """Bytes the next read of one of ``streams`` output streams may take
        (:meth:`.OutputLog.read_allowance`); with no room, this waits for a
        ``process/read`` to acknowledge some. A paced log whose reader lets
        ``reader_timeout_seconds`` pass without one stops being paced (eviction
        resumes); one behind waits for as long as it takes (the session's TTL
        bounds it). Cancellation: nothing to undo.
        """
        while (size := self._log.read_allowance(streams, self._reserved_bytes)) is None:
            if not self._log.paced:
                await self._acknowledged.wait()
                continue
            limits = self._limits
            timeout = (
                limits.reader_timeout_seconds
                if self._log.read_once
                else min(limits.first_read_seconds, limits.reader_timeout_seconds)
            )
            with trio.move_on_after(timeout) as stalled:
                await self._acknowledged.wait()
            if stalled.cancelled_caught and self._log.paced:
                self._acknowledged_more(self._log.stop_pacing())
        return size

    # -- reads ---------------------------------------------------------------

    def snapshot(self, after_seq: int, max_bytes: int | None) -> ReadResponse:
        """Retained chunks after ``after_seq`` within ``max_bytes`` (first always in)."""
        return self._log.snapshot(after_seq, max_bytes)

    async def read(self, after_seq: int, max_bytes: int | None, wait_ms: int) -> ReadResponse:
        """``process/read``: return at once if there is anything new, else long-poll.

        Returns when a chunk after ``after_seq`` exists, the process is closed,
        an unseen exit event exists, or ``wait_ms`` has passed. For a 0.171 process
        read without ``max_bytes``, ``nextSeq`` is the next seq not yet assigned.
        """
        deadline = trio.current_time() + _seconds(wait_ms)
        true_next_seq = max_bytes is None and self.generation is Generation.V0_171
        while True:
            response = self._log.snapshot(after_seq, max_bytes, true_next_seq=true_next_seq)
            if OutputLog.has_news(after_seq, response) or trio.current_time() >= deadline:
                self._acknowledged_more(self._log.mark_read(after_seq, response))
                if self.generation is Generation.V0_171:
                    response.sandbox_denied = self._sandbox_denied
                return response
            with trio.move_on_at(deadline):
                await self._recorded.wait()

    # -- input and control ----------------------------------------------------

    def write(self, data: bytes, write_id: str | None = None) -> WriteStatus:
        """Queue ``data`` for stdin; the reference's statuses (never an error).

        A ``write_id`` this process accepted before (see :mod:`.write_ids`) is
        ``accepted`` again without writing; an accepted one is remembered.
        """
        if write_id is not None and write_id in self._write_ids:
            return "accepted"
        status = self._write(data)
        if write_id is not None and status == "accepted":
            self._write_ids.add(write_id)
        return status

    def _write(self, data: bytes) -> WriteStatus:
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
        sink: EventSink,
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
                    if self._timeout_ms is not None:
                        lifetime.start_soon(self._enforce_timeout, self._timeout_ms)
                    streams = self._output_streams()
                    async with trio.open_nursery() as pumps:
                        for stream, name in streams:
                            pumps.start_soon(self._pump, stream, name, len(streams))
                    self._output_ended.set()
                stdin_scope.cancel()
            closed = self._log.mark_closed()
            self._recorded.notify()
            if self._exited_output is not None:
                self._exited_output.add(self)
            # Every stream is at EOF: release the descriptors now, not after the
            # retention time (hundreds of short commands would exhaust the fd limit).
            await self._close_streams()
            self._child.containment.release_if_empty()
            await self._sink(closed)
            self.settled.set()
            await trio.sleep(self._limits.exited_retention_seconds)
            handed_over = leftovers
        finally:
            self.settled.set()
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
            if self.sandboxed:
                self._output_tail = (self._output_tail + received)[-DENIAL_TAIL_BYTES:]
            output = self._log.append(name, bytes(received))
            self._recorded.notify()
            delivered = await self._sink(output)
            self._acknowledged_more(self._log.notified(output.seq, delivered))

    async def _watch_exit(self) -> None:
        returncode = await self._process.wait()
        self._timeout_scope.cancel()
        if self.sandboxed and returncode != 0:
            # What it printed before it exited, most likely all there is to it.
            with trio.move_on_after(DENIAL_OUTPUT_GRACE_SECONDS):
                await self._output_ended.wait()
            tail = self._output_tail.lower()
            self._sandbox_denied = any(text in tail for text in DENIAL_TEXTS)
        if returncode >= 0:
            exited = self._log.mark_exited(returncode, None)
        else:
            # codex's PTY layer reports 1; on pipes 0.130 reports -1, 0.171 128+N
            signal_number = -returncode
            exited = self._log.mark_exited(
                self._signal_exit_code(signal_number), _signal_name(signal_number)
            )
        if self.generation is Generation.V0_171:
            exited = dataclasses.replace(exited, sandbox_denied=self._sandbox_denied)
        self._recorded.notify()
        await self._sink(exited)

    def _signal_exit_code(self, signal_number: int) -> int:
        if self.tty:
            return 1
        return 128 + signal_number if self.generation is Generation.V0_171 else -1

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


def _signal_name(number: int) -> str:
    """``SIGTERM``; real-time signals (no ``signal.Signals`` member) as ``SIGRTMIN+N``."""
    try:
        return signal.Signals(number).name
    except ValueError:
        if signal.SIGRTMIN < number < signal.SIGRTMAX:
            return f"SIGRTMIN+{number - signal.SIGRTMIN}"
        return f"SIG{number}"
