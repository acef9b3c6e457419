"""A byte stream over a process's stdin and stdout, wherever the process runs.

:func:`open_process_stream` starts a process on an :class:`~execsrv.backend.ExecBackend`
(or a :class:`~execsrv.Client`, through :class:`~execsrv.backend.RemoteBackend`) and
gives a :class:`trio.abc.HalfCloseableStream`: ``send_all`` is ``process/write``,
``receive_some`` the stdout events in seq order, ``send_eof`` ``closeStdin``, and
closing it the shutdown ladder (stdin EOF, SIGTERM, SIGKILL of the group). stderr
never enters the stream: it goes to a callback or the ``execsrv.process`` logger.

What a caller may rely on: every stdout byte arrives exactly once and in order, also
across a connection that ``auto_resume`` resumed (the event stream catches up with
``process/read afterSeq``); output that can no longer arrive (evicted by retention,
or the connection gone for good) raises :class:`OutputLost`, never silently ends the
stream; a write is sent at most once (one that failed with the connection raises
:class:`trio.BrokenResourceError` and is never retried: it may have been applied).
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Final

import trio

from .backend import ExecBackend, ProcessHandle, RemoteBackend
from .client import Client, ClientError, Closed, Exited, Failed, Gap, Output
from .protocol.process import EnvPolicy

__all__ = [
    "DEFAULT_CLOSE_GRACE_SECONDS",
    "WRITE_CHUNK_BYTES",
    "OutputLost",
    "ProcessStream",
    "open_process_stream",
]

log = logging.getLogger("execsrv.process")

DEFAULT_CLOSE_GRACE_SECONDS: Final = 2.0
"""How long closing waits after stdin EOF, then after SIGTERM, before the next step
(the MCP stdio shutdown order, as codex's local launcher)."""

WRITE_CHUNK_BYTES: Final = 1 << 20
"""The most stdin one ``process/write`` carries: well within the server's message
limit (16 MiB by default) once base64-encoded."""

StderrCallback = Callable[[bytes], None]


class OutputLost(trio.BrokenResourceError):
    """stdout bytes that can no longer be received: the stream cannot go on.

    ``gap`` is the seqs the server's retention evicted; None when the connection
    is gone for good (``reason`` says which).
    """

    def __init__(self, reason: str, gap: Gap | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.gap = gap


class ProcessStream(trio.abc.HalfCloseableStream):
    """stdin and stdout of one process; get one from :func:`open_process_stream`.

    One task may receive and one send at a time, as with any trio stream.
    """

    def __init__(
        self, process: ProcessHandle, *, on_stderr: StderrCallback, grace_seconds: float
    ) -> None:
        self.process = process
        """The process's handle (its id, :meth:`~ProcessHandle.wait`, signals)."""
        self._on_stderr = on_stderr
        self._grace = grace_seconds
        self._pending = b""  # received stdout not yet returned (receive_some's max_bytes)
        self._at_eof = False
        self._lost: OutputLost | None = None
        self._stdin_closed = False  # send_eof or aclose
        self._stdin_broken: str | None = None
        self._closed = False
        self._send_conflict = trio.StrictFIFOLock()
        self._receive_conflict = trio.StrictFIFOLock()

    # -- sending ---------------------------------------------------------------

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        """Write ``data`` to stdin, in writes of at most :data:`WRITE_CHUNK_BYTES`.

        A write that fails or is cancelled breaks stdin for good (it may have
        been applied, so it is never sent again): later sends raise
        ``BrokenResourceError``.
        """
        if self._send_conflict.locked():
            raise trio.BusyResourceError("another task is sending on this stream")
        async with self._send_conflict:
            self._check_stdin()
            await trio.lowlevel.checkpoint()
            view = memoryview(data).cast("B")
            for start in range(0, len(view), WRITE_CHUNK_BYTES):
                await self._write(bytes(view[start : start + WRITE_CHUNK_BYTES]))

    async def _write(self, chunk: bytes) -> None:
        try:
            status = await self.process.write(chunk)
        except ClientError as error:
            self._stdin_broken = f"stdin write failed: {error}"
            raise trio.BrokenResourceError(self._stdin_broken) from error
        except BaseException:
            self._stdin_broken = "a stdin write was cancelled: it may have been applied"
            raise
        if status != "accepted":
            self._stdin_broken = f"stdin write refused: {status}"
            raise trio.BrokenResourceError(self._stdin_broken)

    async def wait_send_all_might_not_block(self) -> None:
        self._check_stdin()
        await trio.lowlevel.checkpoint()

    async def send_eof(self) -> None:
        """Close the process's stdin; later sends raise ``ClosedResourceError``."""
        if self._send_conflict.locked():
            raise trio.BusyResourceError("another task is sending on this stream")
        async with self._send_conflict:
            if self._closed:
                raise trio.ClosedResourceError("the stream is closed")
            if self._stdin_closed:
                await trio.lowlevel.checkpoint()
                return
            self._stdin_closed = True
            try:
                await self.process.close_stdin()
            except ClientError as error:
                self._stdin_broken = f"closing stdin failed: {error}"
                raise trio.BrokenResourceError(self._stdin_broken) from error

    def _check_stdin(self) -> None:
        if self._closed or self._stdin_closed:
            raise trio.ClosedResourceError("stdin is closed")
        if self._stdin_broken is not None:
            raise trio.BrokenResourceError(self._stdin_broken)

    # -- receiving -------------------------------------------------------------

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        """The next stdout bytes; ``b""`` once the process closed its stdout.

        Raises :class:`OutputLost` when bytes before the next ones were lost.
        """
        if max_bytes is not None and max_bytes < 1:
            raise ValueError("max_bytes must be at least 1")
        if self._receive_conflict.locked():
            raise trio.BusyResourceError("another task is receiving on this stream")
        async with self._receive_conflict:
            if self._closed:
                raise trio.ClosedResourceError("the stream is closed")
            await trio.lowlevel.checkpoint()
            while not self._pending:
                if self._lost is not None:
                    raise self._lost
                if self._at_eof:
                    return b""
                await self._next_event()
            if max_bytes is None or max_bytes >= len(self._pending):
                data, self._pending = self._pending, b""
            else:
                data, self._pending = self._pending[:max_bytes], self._pending[max_bytes:]
            return data

    async def _next_event(self) -> None:
        """Take one event: stdout into ``_pending``, stderr to the callback."""
        try:
            event = await self.process.events.__anext__()
        except StopAsyncIteration:
            self._at_eof = True
            return
        match event:
            case Output(stream="stderr", data=data):
                self._on_stderr(data)
            case Output(data=data):
                self._pending += data
            case Gap(first=first, last=last):
                self._lost = OutputLost(
                    f"process output seqs {first}..{last} were evicted by the server's "
                    "retention before they were read",
                    event,
                )
            case Failed(reason=reason):
                self._lost = OutputLost(f"process output lost with the connection: {reason}")
            case Closed():
                self._at_eof = True
            case Exited():
                pass

    # -- closing ---------------------------------------------------------------

    async def aclose(self) -> None:
        """Close stdin, wait the grace for the exit, SIGTERM the group, wait the
        grace, SIGKILL the group. Shielded and bounded: the process is ended
        even if the caller is cancelled; stderr seen meanwhile still goes to the
        callback, stdout is dropped."""
        if self._closed:
            await trio.lowlevel.checkpoint()
            return
        self._closed = True
        with trio.CancelScope(shield=True):
            await self._shut_down()
        await trio.lowlevel.checkpoint_if_cancelled()  # closed, then cancelled as trio does

    async def _shut_down(self) -> None:
        if not self._stdin_closed:
            self._stdin_closed = True
            if await self._try(self.process.close_stdin()) and await self._exits_within_grace():
                return
        elif await self._exits_within_grace():
            return
        if await self._try(self.process.signal("terminate")) and await self._exits_within_grace():
            return
        if await self._try(self.process.terminate()):
            await self._exits_within_grace()

    async def _try(self, step: Awaitable[object]) -> bool:
        """Await a shutdown step; False if the backend could not take it."""
        try:
            await step
        except ClientError as error:
            log.debug("process %s: shutdown step failed: %s", self.process.process_id, error)
            return False
        return True

    async def _exits_within_grace(self) -> bool:
        """Drain events (stderr to the callback) until the exit, within the grace."""
        events = self.process.events
        with trio.move_on_after(self._grace):
            while events.exit_status is None and events.failure is None and not self._at_eof:
                self._pending = b""
                await self._next_event()
        return events.exit_status is not None


def _log_stderr(process_id: str) -> StderrCallback:
    def write(data: bytes) -> None:
        log.info("process %s stderr: %s", process_id, data.decode("utf-8", "replace").rstrip())

    return write


@asynccontextmanager
async def open_process_stream(
    target: ExecBackend | Client,
    argv: Sequence[str],
    *,
    cwd: str = "/",
    env: Mapping[str, str] | None = None,
    env_policy: EnvPolicy | None = None,
    process_id: str | None = None,
    on_stderr: StderrCallback | None = None,
    grace_seconds: float = DEFAULT_CLOSE_GRACE_SECONDS,
) -> AsyncIterator[ProcessStream]:
    """Start ``argv`` with a piped stdin and yield a stream over its stdin/stdout.

    ``target`` is any :class:`~execsrv.backend.ExecBackend` or a connected
    :class:`~execsrv.Client`. ``cwd``, ``env`` and ``env_policy`` are as
    :meth:`ExecBackend.start` (``env`` is the exact environment unless
    ``env_policy`` says otherwise). stderr chunks go to ``on_stderr`` as they
    come in seq order, else to the ``execsrv.process`` logger (INFO). Leaving the
    block closes the stream (:meth:`ProcessStream.aclose`, ``grace_seconds`` per
    step). Raises ``RemoteError`` if the process cannot be started.
    """
    if not (grace_seconds >= 0 and math.isfinite(grace_seconds)):
        raise ValueError("grace_seconds must be finite and not negative")
    backend = RemoteBackend(target) if isinstance(target, Client) else target
    process = await backend.start(
        argv, cwd=cwd, env=env, env_policy=env_policy, pipe_stdin=True, process_id=process_id
    )
    stream = ProcessStream(
        process,
        on_stderr=on_stderr or _log_stderr(process.process_id),
        grace_seconds=grace_seconds,
    )
    async with stream:
        yield stream
