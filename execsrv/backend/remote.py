"""Processes (and files) on an exec-server, over a connected :class:`~execsrv.Client`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..client import Client, RemoteProcess
from ..protocol import process as p
from .base import ExecBackend, ProcessEvents, ProcessHandle

__all__ = ["RemoteBackend", "RemoteProcessHandle"]


class RemoteProcessHandle(ProcessHandle):
    def __init__(self, process: RemoteProcess) -> None:
        super().__init__(process.process_id, ProcessEvents(process.stream))
        self.remote = process

    async def write(self, data: bytes) -> p.WriteStatus:
        return await self.remote.write(data)

    async def close_stdin(self) -> p.WriteStatus:
        return await self.remote.close_stdin()

    async def signal(self, signal: p.SignalName) -> None:
        await self.remote.signal(signal)

    async def resize(self, rows: int, cols: int) -> None:
        await self.remote.resize(rows, cols)

    async def terminate(self) -> bool:
        return await self.remote.terminate()


class RemoteBackend(ExecBackend):
    """Runs processes in ``client``'s session; its lifetime is the client's."""

    def __init__(self, client: Client) -> None:
        self.client = client

    async def start(
        self,
        argv: Sequence[str],
        *,
        cwd: str,
        env: Mapping[str, str] | None = None,
        env_policy: p.EnvPolicy | None = None,
        tty: bool = False,
        pipe_stdin: bool = False,
        pty_size: tuple[int, int] | None = None,
        timeout_ms: int | None = None,
        process_id: str | None = None,
    ) -> RemoteProcessHandle:
        process = await self.client.start_process(
            argv,
            process_id=process_id,
            cwd=cwd,
            env=env,
            env_policy=env_policy,
            tty=tty,
            pipe_stdin=pipe_stdin,
            pty_size=pty_size,
            timeout_ms=timeout_ms,
        )
        return RemoteProcessHandle(process)
