"""Processes (and files) on an exec-server, over a connected :class:`~execsrv.Client`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..client import Client, RemoteProcess
from ..client.fs import DirectoryEntry, FileMetadata
from ..protocol import process as p
from .base import ExecBackend, PathArg, ProcessEvents, ProcessHandle

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
    """Processes in ``client``'s session and files on its server (``client.fs``);
    its lifetime is the client's."""

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

    async def read_file(self, path: PathArg) -> bytes:
        return await self.client.fs.read_file(path)

    async def write_file(self, path: PathArg, data: bytes) -> None:
        await self.client.fs.write_file(path, data)

    async def get_metadata(self, path: PathArg) -> FileMetadata:
        return await self.client.fs.get_metadata(path)

    async def read_directory(self, path: PathArg) -> list[DirectoryEntry]:
        return await self.client.fs.read_directory(path)

    async def create_directory(self, path: PathArg, *, recursive: bool = True) -> None:
        await self.client.fs.create_directory(path, recursive=recursive)

    async def remove(self, path: PathArg, *, recursive: bool = True, force: bool = True) -> None:
        await self.client.fs.remove(path, recursive=recursive, force=force)

    async def copy(self, source: PathArg, destination: PathArg, *, recursive: bool) -> None:
        await self.client.fs.copy(source, destination, recursive=recursive)
