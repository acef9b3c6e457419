"""Processes (and files) in this very process: no server, no wire.

The same machinery as the server's: :func:`~execsrv.process.spawn_child` and
a :class:`~execsrv.process.ManagedProcess` per child, supervised in the
backend's own nursery, with its notifications fed straight into the event
stream instead of onto a connection.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Final, TypeVar

import trio

from .. import fs
from ..client.errors import RemoteError
from ..client.events import CATCH_UP_BYTES, Closed, Exited, Output, ProcessEventStream
from ..client.fs import DirectoryEntry, FileMetadata, FileNotFound
from ..process import ManagedProcess, ProcessLimits
from ..protocol import process as p
from ..protocol.errors import (
    INTERNAL_ERROR,
    INVALID_REQUEST,
    NOT_FOUND,
    RpcError,
    os_error_message,
)
from ..protocol.fs import absolute_path
from ..protocol.wire import Payload
from .base import ExecBackend, PathArg, ProcessEvents, ProcessHandle

__all__ = ["FS_WORKER_THREADS", "LocalBackend", "LocalProcess"]

T = TypeVar("T")


FS_WORKER_THREADS: Final = 8
"""File operations running at once; more wait for a worker thread."""

_FS_CODES: Final = {
    fs.ErrorKind.NOT_FOUND: NOT_FOUND,
    fs.ErrorKind.INVALID_INPUT: INVALID_REQUEST,
    fs.ErrorKind.OTHER: INTERNAL_ERROR,
}


def _fs_error(kind: fs.ErrorKind, message: str) -> RemoteError:
    """The error a server would answer, as its client raises it."""
    if kind is fs.ErrorKind.NOT_FOUND:
        return FileNotFound(NOT_FOUND, message)
    return RemoteError(_FS_CODES[kind], message)


def _path(path: PathArg) -> str:
    try:
        return absolute_path(os.fspath(path))
    except RpcError as error:
        raise RemoteError(error.code, error.message) from None


class LocalProcess(ProcessHandle):
    def __init__(self, process_id: str, events: ProcessEvents) -> None:
        super().__init__(process_id, events)
        self._managed: ManagedProcess | None = None

    @property
    def managed(self) -> ManagedProcess:
        assert self._managed is not None
        return self._managed

    async def write(self, data: bytes) -> p.WriteStatus:
        status = self.managed.write(data)
        if status == "accepted":
            await self.managed.wait_stdin_room()  # backpressure, as process/write
        return status

    async def close_stdin(self) -> p.WriteStatus:
        return self.managed.close_stdin()

    async def signal(self, signal: p.SignalName) -> None:
        self.managed.send_signal(signal)

    async def resize(self, rows: int, cols: int) -> None:
        if not self.managed.resize(rows, cols):
            raise RemoteError(-32600, f"process {self.process_id} is not a tty")

    async def terminate(self) -> bool:
        return self.managed.kill()


class LocalBackend(ExecBackend):
    """Runs processes as children of this process and file operations in worker
    threads (:mod:`execsrv.fs`, as the server's ``fs/*``); get one from :meth:`open`.

    Leaving :meth:`open`'s block terminates every process group still running
    (SIGTERM, ``limits.kill_grace_seconds``, SIGKILL) and reaps every child.
    """

    def __init__(self, nursery: trio.Nursery, limits: ProcessLimits) -> None:
        self._nursery = nursery
        self._limits = limits
        self._fs_threads = trio.CapacityLimiter(FS_WORKER_THREADS)
        self._processes: dict[str, LocalProcess] = {}
        self._ids = itertools.count(1)

    @classmethod
    @asynccontextmanager
    async def open(cls, limits: ProcessLimits | None = None) -> AsyncIterator[LocalBackend]:
        async with trio.open_nursery() as nursery:
            yield cls(nursery, limits or ProcessLimits())
            nursery.cancel_scope.cancel()

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
    ) -> LocalProcess:
        argv = list(argv)
        if not argv:
            raise RemoteError(-32602, "argv must not be empty")
        process_id = process_id if process_id is not None else f"proc-{next(self._ids)}"
        if process_id in self._processes:
            raise RemoteError(-32600, f"process {process_id} already exists")

        async def read_after(after_seq: int) -> p.ReadResponse:
            return handle.managed.snapshot(after_seq, CATCH_UP_BYTES)

        stream = ProcessEventStream(read_after)
        handle = LocalProcess(process_id, ProcessEvents(stream))

        async def sink(method: str, params: Payload) -> None:
            match params:
                case p.ExecOutputDeltaNotification(seq=seq, stream=name, chunk=chunk):
                    stream.feed(seq, Output(seq, name, chunk))
                case p.ExecExitedNotification(seq=seq, exit_code=code, signal=signal):
                    stream.feed(seq, Exited(seq, code, signal))
                case p.ExecClosedNotification(seq=seq):
                    stream.feed(seq, Closed(seq))

        try:
            handle._managed = await ManagedProcess.spawn(
                process_id,
                argv,
                cwd=cwd,
                env=env or {},
                env_policy=env_policy,
                tty=tty,
                pipe_stdin=pipe_stdin,
                arg0=None,
                pty_size=pty_size,
                timeout_ms=timeout_ms,
                sink=sink,
                limits=self._limits,
            )
        except RpcError as error:
            raise RemoteError(error.code, error.message) from None
        self._processes[process_id] = handle

        def forget() -> None:
            if self._processes.get(process_id) is handle:
                del self._processes[process_id]

        self._nursery.start_soon(handle.managed.supervise, forget)
        return handle

    # -- files ----------------------------------------------------------------

    async def _fs(self, function: Callable[[], T], *, changes: bool) -> T:
        """Run ``function`` in a worker thread; reads are abandoned on cancel, changes
        are waited for (nothing half-done behind the caller's back)."""
        try:
            return await trio.to_thread.run_sync(
                function, limiter=self._fs_threads, abandon_on_cancel=not changes
            )
        except fs.FsError as error:
            raise _fs_error(error.kind, error.message) from None
        except OSError as error:
            raise _fs_error(fs.kind_of(error), os_error_message(error)) from None

    async def read_file(self, path: PathArg) -> bytes:
        checked = _path(path)
        return await self._fs(lambda: fs.read_file(checked), changes=False)

    async def write_file(self, path: PathArg, data: bytes) -> None:
        checked = _path(path)
        await self._fs(lambda: fs.write_file(checked, data), changes=True)

    async def get_metadata(self, path: PathArg) -> FileMetadata:
        checked = _path(path)
        m = await self._fs(lambda: fs.get_metadata(checked), changes=False)
        return FileMetadata(
            is_directory=m.is_directory,
            is_file=m.is_file,
            is_symlink=m.is_symlink,
            created_at_ms=m.created_at_ms,
            modified_at_ms=m.modified_at_ms,
            size=m.size,
        )

    async def read_directory(self, path: PathArg) -> list[DirectoryEntry]:
        checked = _path(path)
        entries = await self._fs(lambda: fs.read_directory(checked), changes=False)
        return [
            DirectoryEntry(file_name=e.file_name, is_directory=e.is_directory, is_file=e.is_file)
            for e in entries
        ]

    async def create_directory(self, path: PathArg, *, recursive: bool = True) -> None:
        checked = _path(path)
        await self._fs(lambda: fs.create_directory(checked, recursive=recursive), changes=True)

    async def remove(self, path: PathArg, *, recursive: bool = True, force: bool = True) -> None:
        checked = _path(path)
        await self._fs(lambda: fs.remove(checked, recursive=recursive, force=force), changes=True)

    async def copy(self, source: PathArg, destination: PathArg, *, recursive: bool) -> None:
        checked_source, checked_destination = _path(source), _path(destination)
        await self._fs(
            lambda: fs.copy(checked_source, checked_destination, recursive=recursive),
            changes=True,
        )
