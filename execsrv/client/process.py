"""A handle on one remote process."""

from __future__ import annotations

from collections.abc import AsyncIterable
from typing import TYPE_CHECKING

from ..protocol import process as p
from .errors import Disconnected
from .events import (
    Closed,
    Exited,
    Failed,
    Gap,
    Output,
    ProcessEvent,
    ProcessEventStream,
)

if TYPE_CHECKING:
    from .client import Client

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
    """Control and observe one process of the session.

    :attr:`stream` yields its events in seq order exactly once; iterate it from
    one task only.
    """

    def __init__(self, client: Client, process_id: str) -> None:
        self.client = client
        self.process_id = process_id
        self.stream = ProcessEventStream(self._read_after, on_complete=self._forget_stream)

    async def _read_after(self, after_seq: int, max_bytes: int) -> p.ReadResponse:
        return await self.client.read_process(
            self.process_id, after_seq=after_seq, max_bytes=max_bytes
        )

    def _forget_stream(self) -> None:
        self.client._forget_stream(self.process_id, self.stream)

    def events(self) -> ProcessEventStream:
        return self.stream

    async def write(self, data: bytes) -> p.WriteStatus:
        return await self.client.write_process(self.process_id, data)

    async def close_stdin(self) -> p.WriteStatus:
        return await self.client.close_stdin(self.process_id)

    async def terminate(self) -> bool:
        return await self.client.terminate_process(self.process_id)

    async def signal(self, signal: p.SignalName) -> None:
        await self.client.signal_process(self.process_id, signal)

    async def resize(self, rows: int, cols: int) -> None:
        await self.client.resize_process(self.process_id, rows, cols)

    async def read(
        self,
        *,
        after_seq: int | None = None,
        max_bytes: int | None = None,
        wait_ms: int | None = None,
    ) -> p.ReadResponse:
        return await self.client.read_process(
            self.process_id, after_seq=after_seq, max_bytes=max_bytes, wait_ms=wait_ms
        )

    async def communicate(self) -> ProcessResult:
        """Consume the event stream to the end; return output and exit status.

        Raises ``Disconnected`` if the connection is lost first.
        """
        return await collect_result(self.stream)


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
