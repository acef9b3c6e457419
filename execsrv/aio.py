"""The client for asyncio applications: execsrv's trio client, run as a trio guest on
the asyncio loop.

``async with execsrv.aio.connect(url) as client:`` gives an :class:`AsyncioClient`
whose methods are asyncio coroutines. Each call runs the trio client's call as a task
of a trio run hosted on the running asyncio loop (trio *guest mode*,
:func:`trio.lowlevel.start_guest_run`): no thread, no second event loop, and the
client behaves exactly as under ``trio.run`` (auto-resume, event streams, error types).

What a caller may rely on:

- Results and errors are the trio client's: ``RemoteError``, ``FileNotFound``,
  ``Disconnected`` … raised as themselves.
- Cancelling the asyncio task that awaits a call cancels the trio call, and the
  ``CancelledError`` is raised only once the trio call has finished, so nothing of
  it outlives the ``await``. As in trio, a cancelled call may still have taken
  effect on the server (a process started, a file written).
- Trio allows one run per thread, so every ``connect`` block on one loop shares one
  guest run: it starts with the first block and ends with the last, after all its
  tasks are done, so the loop can close without pending callbacks or warnings.

The trio run never touches the process's signal handling (the host owns
``signal.set_wakeup_fd``); the client needs no signals.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from functools import partial
from typing import Any, Final, TypeVar

import outcome
import trio

from .client.client import Client
from .client.client import connect as trio_connect
from .client.errors import Disconnected
from .client.events import ExitStatus, ProcessEvent
from .client.fs import DirectoryEntry, FileMetadata, PathArg
from .client.http import HeaderLine, HttpResponse
from .client.process import ProcessResult, RemoteProcess
from .protocol import process as p
from .protocol.http import RedirectPolicy

__all__ = ["AsyncioClient", "AsyncioFileSystem", "AsyncioProcess", "connect"]

T = TypeVar("T")

_STOPPED: Final = "the execsrv.aio trio guest run stopped before the call finished"


def _settle(future: asyncio.Future[T], value: T) -> None:
    if not future.done():
        future.set_result(value)


async def _wait_through_cancellation(future: asyncio.Future[T]) -> None:
    """Wait for ``future``, which finishes promptly, even if this task is cancelled
    meanwhile (the caller re-raises its own ``CancelledError`` afterwards)."""
    while not future.done():
        try:
            await asyncio.shield(future)
        except asyncio.CancelledError:
            continue


class _GuestRun:
    """The trio run hosted on one asyncio loop, shared by all of that loop's clients."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.users = 0
        self.stopping = False
        self.started: asyncio.Future[None] = loop.create_future()
        self.done: asyncio.Future[outcome.Outcome[None]] = loop.create_future()
        self._stop = trio.Event()
        self._nursery: trio.Nursery | None = None
        self._token: trio.lowlevel.TrioToken | None = None

    def start(self) -> None:
        trio.lowlevel.start_guest_run(
            self._main,
            run_sync_soon_threadsafe=self._loop.call_soon_threadsafe,
            run_sync_soon_not_threadsafe=self._loop.call_soon,
            done_callback=partial(_settle, self.done),
            host_uses_signal_set_wakeup_fd=True,
        )

    async def _main(self) -> None:
        self._token = trio.lowlevel.current_trio_token()
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            _settle(self.started, None)
            await self._stop.wait()
            nursery.cancel_scope.cancel()  # calls some task still awaits: Disconnected

    def in_trio(self, fn: Callable[..., object], *args: object) -> None:
        """Call the synchronous ``fn(*args)`` in the trio run, soon."""
        assert self._token is not None
        self._token.run_sync_soon(fn, *args)

    def spawn(
        self, fn: Callable[[], Awaitable[T]], scope: trio.CancelScope
    ) -> asyncio.Future[outcome.Outcome[T]]:
        """Run ``fn()`` as a task of the run inside ``scope``; the future gets its outcome
        (``Disconnected`` if the run stopped it)."""
        if self.done.done():
            raise Disconnected(_STOPPED)
        finished: asyncio.Future[outcome.Outcome[T]] = self._loop.create_future()
        assert self._nursery is not None
        self.in_trio(self._nursery.start_soon, self._run_task, fn, scope, finished)
        return finished

    @staticmethod
    async def _run_task(
        fn: Callable[[], Awaitable[T]],
        scope: trio.CancelScope,
        finished: asyncio.Future[outcome.Outcome[T]],
    ) -> None:
        result: outcome.Outcome[T] = outcome.Error(Disconnected(_STOPPED))
        try:
            with scope:
                try:
                    result = outcome.Value(await fn())
                except Exception as error:  # the call's own failure, for the asyncio side
                    result = outcome.Error(error)
        finally:
            _settle(finished, result)

    async def call(self, fn: Callable[[], Awaitable[T]]) -> T:
        """``await fn()`` in the trio run; cancelling the awaiting task cancels it."""
        scope = trio.CancelScope()
        finished = self.spawn(fn, scope)
        try:
            result = await asyncio.shield(finished)
        except asyncio.CancelledError:
            self.in_trio(scope.cancel)
            await _wait_through_cancellation(finished)
            raise
        return result.unwrap()

    def stop(self) -> None:
        self.stopping = True
        self.in_trio(self._stop.set)


_guest_runs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _GuestRun] = (
    weakref.WeakKeyDictionary()
)


async def _join_guest_run() -> _GuestRun:
    loop = asyncio.get_running_loop()
    while (run := _guest_runs.get(loop)) is not None and run.stopping:
        await asyncio.shield(run.done)  # the last user is ending it: start a new one after
    if run is None:
        run = _GuestRun(loop)
        run.start()  # RuntimeError if a trio run is already active in this thread
        _guest_runs[loop] = run
    run.users += 1
    try:
        await asyncio.shield(run.started)
    except BaseException:
        await _leave_guest_run(run)
        raise
    return run


async def _leave_guest_run(run: _GuestRun) -> None:
    run.users -= 1
    if run.users:
        return
    await _wait_through_cancellation(run.started)
    run.stop()
    await _wait_through_cancellation(run.done)
    loop = asyncio.get_running_loop()
    if _guest_runs.get(loop) is run:
        del _guest_runs[loop]
    run.done.result().unwrap()


class AsyncioProcess:
    """A remote process, for asyncio: the methods of :class:`~execsrv.RemoteProcess`
    as asyncio coroutines. Iterate it (``async for event in process``) for its events
    in seq order, each once (from one task; :meth:`wait` may run in another)."""

    def __init__(self, run: _GuestRun, process: RemoteProcess) -> None:
        self._run = run
        self.trio_process = process
        """The trio handle: use it only inside :meth:`AsyncioClient.run_trio`."""
        self.process_id = process.process_id

    async def write(self, data: bytes) -> p.WriteStatus:
        """Queue ``data`` for stdin (``pipe_stdin`` or ``tty``); the protocol's status."""
        return await self._run.call(partial(self.trio_process.write, data))

    async def close_stdin(self) -> p.WriteStatus:
        """EOF on a piped stdin (an execsrv extension)."""
        return await self._run.call(self.trio_process.close_stdin)

    async def terminate(self) -> bool:
        """SIGKILL the process group; True if it was still running."""
        return await self._run.call(self.trio_process.terminate)

    async def signal(self, signal: p.SignalName) -> None:
        """Deliver ``signal`` to the process group."""
        await self._run.call(partial(self.trio_process.signal, signal))

    async def wait(self) -> ExitStatus:
        """Wait for the exit; ``Disconnected`` if the event stream failed first."""
        return await self._run.call(self.trio_process.wait)

    async def communicate(self) -> ProcessResult:
        """Consume the events to the end: output by stream, exit status, gaps."""
        return await self._run.call(self.trio_process.communicate)

    def __aiter__(self) -> AsyncIterator[ProcessEvent]:
        return self

    async def __anext__(self) -> ProcessEvent:
        return await self._run.call(self.trio_process.events.__anext__)


class AsyncioFileSystem:
    """The server's file system, for asyncio; reached as ``client.fs``. Paths are
    absolute host paths on the server, as for :class:`~execsrv.client.RemoteFileSystem`."""

    def __init__(self, run: _GuestRun, client: Client) -> None:
        self._run = run
        self._fs = client.fs

    async def read_file(self, path: PathArg) -> bytes:
        return await self._run.call(partial(self._fs.read_file, path))

    async def write_file(self, path: PathArg, data: bytes) -> None:
        await self._run.call(partial(self._fs.write_file, path, data))

    async def create_directory(self, path: PathArg, *, recursive: bool = True) -> None:
        await self._run.call(partial(self._fs.create_directory, path, recursive=recursive))

    async def get_metadata(self, path: PathArg) -> FileMetadata:
        return await self._run.call(partial(self._fs.get_metadata, path))

    async def read_directory(self, path: PathArg) -> list[DirectoryEntry]:
        return await self._run.call(partial(self._fs.read_directory, path))

    async def remove(self, path: PathArg, *, recursive: bool = True, force: bool = True) -> None:
        await self._run.call(partial(self._fs.remove, path, recursive=recursive, force=force))


class AsyncioClient:
    """An exec-server connection for asyncio code; get one from :func:`connect`.

    Methods may be called from many asyncio tasks at once. Anything of the trio
    client not mirrored here is reached with :meth:`run_trio`.
    """

    def __init__(self, run: _GuestRun, client: Client) -> None:
        self._run = run
        self.trio_client = client
        """The trio :class:`~execsrv.Client`: use it only inside :meth:`run_trio`."""
        self.fs = AsyncioFileSystem(run, client)

    async def run_trio(self, fn: Callable[[Client], Awaitable[T]]) -> T:
        """``await fn(trio_client)`` as a trio task; its result or error, as for every call."""
        return await self._run.call(partial(fn, self.trio_client))

    async def start_process(
        self,
        argv: Sequence[str],
        *,
        process_id: str | None = None,
        cwd: str = "/",
        env: Mapping[str, str] | None = None,
        tty: bool = False,
        pipe_stdin: bool = False,
        env_policy: p.EnvPolicy | None = None,
        timeout_ms: int | None = None,
    ) -> AsyncioProcess:
        """``process/start``, as :meth:`execsrv.Client.start_process` (``env`` is the
        child's exact environment unless ``env_policy`` says otherwise)."""
        start = partial(
            self.trio_client.start_process,
            argv,
            process_id=process_id,
            cwd=cwd,
            env=env,
            tty=tty,
            pipe_stdin=pipe_stdin,
            env_policy=env_policy,
            timeout_ms=timeout_ms,
        )
        return AsyncioProcess(self._run, await self._run.call(start))

    async def http_request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | Sequence[HeaderLine] = (),
        body: bytes | None = None,
        timeout_ms: int | None = None,
        redirect_policy: RedirectPolicy | None = None,
    ) -> HttpResponse:
        """``http/request`` made by the server, the whole body in the response (for a
        streamed body, use :meth:`run_trio` with ``client.http.request(stream=True)``)."""
        request = partial(
            self.trio_client.http.request,
            method,
            url,
            headers=headers,
            body=body,
            timeout_ms=timeout_ms,
            redirect_policy=redirect_policy,
        )
        return await self._run.call(request)


@asynccontextmanager
async def connect(
    url: str,
    *,
    client_name: str = "execsrv-client",
    resume_session_id: str | None = None,
    auto_resume: bool = False,
    token: str | None = None,
) -> AsyncIterator[AsyncioClient]:
    """:func:`execsrv.connect` for asyncio code: the same arguments and errors.

    Leaving the block normally closes the connection as the trio client does; leaving
    it by an exception (cancellation included) aborts it at once.
    """
    run = await _join_guest_run()
    try:
        loop = asyncio.get_running_loop()
        connected: asyncio.Future[Client] = loop.create_future()
        release = trio.Event()

        async def hold() -> None:
            async with trio_connect(
                url,
                client_name=client_name,
                resume_session_id=resume_session_id,
                auto_resume=auto_resume,
                token=token,
            ) as client:
                _settle(connected, client)
                await release.wait()

        scope = trio.CancelScope()
        held = run.spawn(hold, scope)
        try:
            either: list[asyncio.Future[Any]] = [connected, held]
            await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            run.in_trio(scope.cancel)
            await _wait_through_cancellation(held)
            raise
        if not connected.done():
            held.result().unwrap()  # the connect error
            raise Disconnected(f"the connection to {url} ended during the handshake")
        try:
            yield AsyncioClient(run, connected.result())
        except BaseException:
            run.in_trio(scope.cancel)
            raise
        else:
            run.in_trio(release.set)
        finally:
            await _wait_through_cancellation(held)
        held.result().unwrap()
    finally:
        await _leave_guest_run(run)
