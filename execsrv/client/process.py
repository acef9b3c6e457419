"""A handle on one remote process: its events, its input, and control over it.

Each operation is one call by its typed constant (``PROCESS_WRITE`` …) on the
client. :class:`RemoteProcess` is an :class:`execsrv.backend.ProcessHandle`, so
code written for a backend takes it unchanged.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterable

from ..protocol import process as p
from ..protocol.generation import Generation
from ..protocol.methods import (
    PROCESS_CLOSE_STDIN,
    PROCESS_READ,
    PROCESS_RESIZE,
    PROCESS_SIGNAL,
    PROCESS_START,
    PROCESS_TERMINATE,
    PROCESS_WRITE,
)
from .errors import Disconnected
from .events import (
    Closed,
    Exited,
    ExitStatus,
    Failed,
    Gap,
    Output,
    ProcessEvent,
    ProcessEvents,
    ProcessEventStream,
)
from .peer import Caller
from .router import NotificationRouter

__all__ = ["ProcessResult", "RemoteProcess", "collect_result"]


class ProcessResult:
    """Everything a finished process produced (see :meth:`RemoteProcess.communicate`)."""

    def __init__(self) -> None:
        self.stdout = bytearray()
        self.stderr = bytearray()
        self.exit_code: int | None = None
        self.signal: str | None = None
        self.gaps: list[Gap] = []
        """Output the server's retention dropped before it could be read: never silent."""


class RemoteProcess:
    """Control and observe one process of the session; get one from
    :meth:`~execsrv.Client.start_process`.

    :attr:`events` yields its events in seq order exactly once; iterate it from
    one task (:meth:`wait` may run in another). Every method raises
    ``RemoteError`` or ``Disconnected`` as :meth:`~execsrv.Client.call` does.
    """

    def __init__(self, client: Caller, router: NotificationRouter, process_id: str) -> None:
        self._client = client
        self._router = router
        self.process_id = process_id
        self._stream = ProcessEventStream(self._read_after, on_complete=self._complete)
        self.events = ProcessEvents(self._stream)
        self._write_ids = itertools.count(1)

    @classmethod
    async def start(
        cls, client: Caller, router: NotificationRouter, params: p.ExecParams
    ) -> RemoteProcess:
        """``process/start``, with events routed to the handle before the reply is in
        (output may precede it)."""
        process = cls(client, router, params.process_id)
        await process._start(params)
        return process

    async def _start(self, params: p.ExecParams) -> None:
        # Never take the route of a live process with the same id: the server
        # refuses the duplicate.
        claimed = self._router.claim_process(self.process_id, self._stream)
        try:
            await self._client.call(PROCESS_START, params)
        except BaseException:
            if claimed:
                self._router.forget_process(self.process_id, self._stream)
            raise
        if not self._stream.complete:  # else it closed before the reply
            self._router.route_process(self.process_id, self._stream)

    async def _read_after(self, after_seq: int, max_bytes: int) -> p.ReadResponse:
        return await self.read(after_seq=after_seq, max_bytes=max_bytes)

    def _complete(self) -> None:
        """Every event is in: stop routing to the stream (and recovering it)."""
        self._router.forget_process(self.process_id, self._stream)

    async def write(self, data: bytes) -> p.WriteStatus:
        """Queue ``data`` for stdin (``pipe_stdin`` or ``tty``); the protocol's status.

        To a 0.171 server each write carries the next ``writeId`` of this handle
        (``"1"``, ``"2"``, …), which 0.171 requires.
        """
        write_id = None
        if self._client.generation is Generation.V0_171:
            write_id = str(next(self._write_ids))
        params = p.WriteParams(process_id=self.process_id, chunk=data, write_id=write_id)
        return (await self._client.call(PROCESS_WRITE, params)).status

    async def close_stdin(self) -> p.WriteStatus:
        """Extension: EOF on a piped stdin (^D on a PTY)."""
        params = p.CloseStdinParams(process_id=self.process_id)
        return (await self._client.call(PROCESS_CLOSE_STDIN, params)).status

    async def terminate(self) -> bool:
        """SIGKILL the process group; True if it was still running."""
        params = p.TerminateParams(process_id=self.process_id)
        return (await self._client.call(PROCESS_TERMINATE, params)).running

    async def signal(self, signal: p.SignalName) -> None:
        """Deliver ``signal`` to the process group: ``"interrupt"`` (SIGINT) on codex
        0.171 and execsrv; the other names are execsrv extensions (0.130 has no
        ``process/signal``: ``-32601``)."""
        params = p.SignalParams(process_id=self.process_id, signal=signal)
        await self._client.call(PROCESS_SIGNAL, params)

    async def resize(self, rows: int, cols: int) -> None:
        """Extension: resize a PTY process's terminal (``RemoteError`` -32600 for a pipe)."""
        params = p.ResizeParams(process_id=self.process_id, rows=rows, cols=cols)
        await self._client.call(PROCESS_RESIZE, params)

    async def read(
        self,
        *,
        after_seq: int | None = None,
        max_bytes: int | None = None,
        wait_ms: int | None = None,
    ) -> p.ReadResponse:
        """``process/read``: retained output after ``after_seq``; long-polls ``wait_ms``."""
        params = p.ReadParams(
            process_id=self.process_id, after_seq=after_seq, max_bytes=max_bytes, wait_ms=wait_ms
        )
        return await self._client.call(PROCESS_READ, params)

    async def wait(self) -> ExitStatus:
        """Wait for the exit and return its status (see ``ProcessEvents.wait_exit``)."""
        return await self.events.wait_exit()

    async def communicate(self) -> ProcessResult:
        """Consume :attr:`events` to the end; return output and exit status.

        Raises ``Disconnected`` if the connection is lost first.
        """
        return await collect_result(self.events)


async def collect_result(events: AsyncIterable[ProcessEvent]) -> ProcessResult:
    """Consume ``events`` up to ``Closed``: output by stream, exit status, gaps.

    Raises ``Disconnected`` on a ``Failed`` event.
    """
    result = ProcessResult()
    async for event in events:
        match event:
            case Output(stream="stderr", data=data):
                result.stderr += data
            case Output(data=data):
                result.stdout += data
            case Exited(exit_code=code, signal=signal):
                result.exit_code, result.signal = code, signal
            case Gap():
                result.gaps.append(event)
            case Failed(reason=reason):
                raise Disconnected(reason)
            case Closed():
                break
    return result
