"""Processes (and files) in this very process: no server, no wire.

The same machinery as the server's: :func:`~execsrv.process.spawn_child` and
a :class:`~execsrv.process.ManagedProcess` per child, supervised in the
backend's own nursery, with its events fed straight into the event stream
instead of onto a connection. Processes follow codex 0.171's rules (a signal death
is 128+N), as execsrv's client does against execsrv, so both backends agree.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from functools import partial
from typing import TypeVar

import trio

from .. import fs
from ..client.events import ProcessEventStream
from ..client.fs import DirectoryEntry, FileMetadata
from ..fs import FS_WORKER_THREADS, read_directory_entries, read_metadata, run_fs_operation
from ..process import (
    EmptyArgv,
    ManagedProcess,
    NotATerminal,
    ProcessEvent,
    ProcessIdTaken,
    ProcessLimits,
    ProcessSpec,
    SpawnFailed,
)
from ..process.containment import Leftovers
from ..protocol import process as p
from ..protocol.generation import Generation
from .base import ExecBackend, PathArg, ProcessEvents, ProcessHandle, absolute
from .errors import as_client_error

__all__ = ["LocalBackend", "LocalProcess"]

T = TypeVar("T")


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
        try:
            self.managed.resize(rows, cols)
        except NotATerminal as error:
            raise as_client_error(error) from None

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
        self._leftovers = Leftovers(limits.kill_grace_seconds)
        """What exited processes left running (``nohup x &``), killed when the backend closes."""
        nursery.start_soon(self._leftovers.hold)
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
            raise as_client_error(EmptyArgv())
        process_id = process_id if process_id is not None else f"proc-{next(self._ids)}"
        if process_id in self._processes:
            raise as_client_error(ProcessIdTaken(process_id))

        async def read_after(after_seq: int, max_bytes: int) -> p.ReadResponse:
            return handle.managed.snapshot(after_seq, max_bytes)

        stream = ProcessEventStream(read_after)
        handle = LocalProcess(process_id, ProcessEvents(stream))

        async def sink(event: ProcessEvent) -> bool:
            stream.feed(event.seq, event)
            return True

        def forget(managed: ManagedProcess) -> None:
            if self._processes.get(process_id) is handle:
                del self._processes[process_id]

        spec = ProcessSpec(
            process_id,
            argv,
            cwd,
            env or {},
            env_policy=env_policy,
            tty=tty,
            pipe_stdin=pipe_stdin,
            pty_size=pty_size,
            timeout_ms=timeout_ms,
            generation=Generation.V0_171,
        )
        run = partial(
            ManagedProcess.run,
            spec,
            sink=sink,
            limits=self._limits,
            forget=forget,
            leftovers=self._leftovers,
        )
        try:
            handle._managed = await self._nursery.start(run)
        except SpawnFailed as error:
            raise as_client_error(error) from None
        self._processes[process_id] = handle
        return handle

    # -- files ----------------------------------------------------------------

    async def _fs(self, function: Callable[[], T], *, changes: bool) -> T:
        """The server's fs path: a worker thread, the client's errors for its failures."""
        try:
            return await run_fs_operation(function, limiter=self._fs_threads, changes=changes)
        except fs.FsError as error:
            raise as_client_error(error) from None

    async def read_file(self, path: PathArg) -> bytes:
        checked = absolute(path)
        return await self._fs(lambda: fs.read_file(checked, regular_only=True), changes=False)

    async def write_file(self, path: PathArg, data: bytes) -> None:
        checked = absolute(path)
        await self._fs(lambda: fs.write_file(checked, data), changes=True)

    async def get_metadata(self, path: PathArg) -> FileMetadata:
        checked = absolute(path)
        return await self._fs(lambda: read_metadata(checked), changes=False)

    async def read_directory(self, path: PathArg) -> list[DirectoryEntry]:
        checked = absolute(path)
        return await self._fs(lambda: read_directory_entries(checked), changes=False)

    async def create_directory(self, path: PathArg, *, recursive: bool = True) -> None:
        checked = absolute(path)
        await self._fs(lambda: fs.create_directory(checked, recursive=recursive), changes=True)

    async def remove(self, path: PathArg, *, recursive: bool = True, force: bool = True) -> None:
        checked = absolute(path)
        await self._fs(lambda: fs.remove(checked, recursive=recursive, force=force), changes=True)

    async def copy(self, source: PathArg, destination: PathArg, *, recursive: bool) -> None:
        checked_source, checked_destination = absolute(source), absolute(destination)
        await self._fs(
            lambda: fs.copy(checked_source, checked_destination, recursive=recursive),
            changes=True,
        )
