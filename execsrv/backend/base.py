"""The interface: :class:`ExecBackend` and the :class:`ProcessHandle` it starts.

Code written against these runs unchanged on :class:`~.local.LocalBackend`
(in this process, no server) and :class:`~.remote.RemoteBackend` (over a
client). Both give the same events in the same order, the same write
statuses, and the same errors: :class:`~execsrv.RemoteError` with the
protocol's code and message, as a server would answer (the local backend
produces exactly what execsrv's server would send).
"""

from __future__ import annotations

import abc
import os
from collections import deque
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass

import trio

from ..client.errors import Disconnected
from ..client.events import Exited, Failed, ProcessEvent
from ..client.fs import DirectoryEntry, FileMetadata
from ..client.process import ProcessResult, collect_result
from ..protocol.errors import RpcError
from ..protocol.fs import absolute_path
from ..protocol.process import EnvPolicy, SignalName, WriteStatus
from .errors import as_client_error

__all__ = ["ExecBackend", "ExitStatus", "PathArg", "ProcessEvents", "ProcessHandle"]

PathArg = str | os.PathLike[str]


def absolute(path: PathArg) -> str:
    """``path`` normalised lexically (``//a/./b/..`` is ``/a``); a relative path is
    refused with the server's ``-32602``, as a client would see it."""
    try:
        return absolute_path(os.fspath(path))
    except RpcError as error:
        raise as_client_error(error) from None


@dataclass(frozen=True, slots=True)
class ExitStatus:
    """How a process ended: ``exit_code`` as the protocol reports it, and the
    signal that killed it (``"SIGKILL"``), if one did."""

    exit_code: int
    signal: str | None = None


class ProcessEvents:
    """A process's events in seq order, each once, with the exit status on the side.

    Iterate it from one task. :meth:`wait_exit` may run in another task at the
    same time: it only pulls events while the iterator is idle, and keeps what
    it pulls for the iterator, so nothing is lost or reordered.
    """

    def __init__(self, source: AsyncIterator[ProcessEvent]) -> None:
        self._source = source
        self._lock = trio.Lock()  # one pull from the source at a time
        self._kept: deque[ProcessEvent] = deque()  # pulled by wait_exit, not yet iterated
        self._ended = False
        self.exit_status: ExitStatus | None = None
        self.failure: str | None = None

    async def _pull(self) -> ProcessEvent | None:
        if self._ended:
            return None
        try:
            event = await self._source.__anext__()
        except StopAsyncIteration:
            self._ended = True
            return None
        if isinstance(event, Exited):
            self.exit_status = ExitStatus(event.exit_code, event.signal)
        elif isinstance(event, Failed):
            self.failure = event.reason
        return event

    def __aiter__(self) -> ProcessEvents:
        return self

    async def __anext__(self) -> ProcessEvent:
        async with self._lock:
            event = self._kept.popleft() if self._kept else await self._pull()
        if event is None:
            raise StopAsyncIteration
        return event

    async def wait_exit(self) -> ExitStatus:
        """The exit status, pulling (and keeping) events until it is known.

        Raises :class:`~execsrv.Disconnected` if the stream failed first.
        """
        while not self._settled():
            async with self._lock:
                if self._settled():  # the iterator got there while we waited for the lock
                    break
                event = await self._pull()
                if event is None:
                    raise Disconnected("the event stream ended without an exit")
                self._kept.append(event)
        if self.exit_status is None:
            assert self.failure is not None
            raise Disconnected(self.failure)
        return self.exit_status

    def _settled(self) -> bool:
        return self.exit_status is not None or self.failure is not None


class ProcessHandle(abc.ABC):
    """One started process: its events, its input, and control over it.

    :attr:`events` yields :class:`~execsrv.Output`, :class:`~execsrv.Exited`,
    :class:`~execsrv.Closed` (last), and possibly :class:`~execsrv.Gap` or,
    when the backend is gone, :class:`~execsrv.Failed`.
    """

    def __init__(self, process_id: str, events: ProcessEvents) -> None:
        self.process_id = process_id
        self.events = events

    @abc.abstractmethod
    async def write(self, data: bytes) -> WriteStatus:
        """Queue ``data`` for stdin (``pipe_stdin`` or ``tty``); the protocol's status."""

    @abc.abstractmethod
    async def close_stdin(self) -> WriteStatus:
        """EOF on a piped stdin (^D on a PTY)."""

    @abc.abstractmethod
    async def signal(self, signal: SignalName) -> None:
        """Deliver ``signal`` to the process group."""

    @abc.abstractmethod
    async def resize(self, rows: int, cols: int) -> None:
        """Resize a PTY process's terminal (``RemoteError`` -32600 for a pipe process)."""

    @abc.abstractmethod
    async def terminate(self) -> bool:
        """SIGKILL the process group; True if it was still running."""

    async def wait(self) -> ExitStatus:
        """Wait for the exit and return its status.

        Output events passed on the way are kept for :attr:`events` (so memory
        grows with output nobody reads); safe while another task iterates
        :attr:`events`.
        """
        return await self.events.wait_exit()

    async def communicate(self) -> ProcessResult:
        """Consume :attr:`events` to the end; return the output and the exit status."""
        return await collect_result(self.events)


class ExecBackend(abc.ABC):
    """Run processes and work with files somewhere.

    File paths are absolute (normalised lexically, symlinks not resolved) on the
    backend's machine. Errors are the ``fs/*`` methods' errors on both backends:
    :class:`~execsrv.FileNotFound` (``-32004``) when a path or a parent is missing,
    else :class:`~execsrv.RemoteError` with the protocol's code and message
    (``-32600`` for invalid input or permission denied, ``-32603`` for other OS
    errors, ``-32602`` for a relative path).
    """

    @abc.abstractmethod
    async def start(
        self,
        argv: Sequence[str],
        *,
        cwd: str,
        env: Mapping[str, str] | None = None,
        env_policy: EnvPolicy | None = None,
        tty: bool = False,
        pipe_stdin: bool = False,
        pty_size: tuple[int, int] | None = None,
        timeout_ms: int | None = None,
        process_id: str | None = None,
    ) -> ProcessHandle:
        """Start ``argv`` in ``cwd``; its events begin with the first output.

        ``env`` is the child's exact environment unless ``env_policy`` says
        otherwise (as ``process/start``). Raises ``RemoteError`` (-32603 with
        the OS error text) if it cannot be started.
        """

    # -- files ----------------------------------------------------------------

    @abc.abstractmethod
    async def read_file(self, path: PathArg) -> bytes:
        """The whole file (more than 512 MiB is refused with ``-32600``)."""

    @abc.abstractmethod
    async def write_file(self, path: PathArg, data: bytes) -> None:
        """Create or truncate ``path`` (its parent must exist)."""

    @abc.abstractmethod
    async def get_metadata(self, path: PathArg) -> FileMetadata:
        """Type flags (following symlinks), ``is_symlink`` (not following), times, size."""

    @abc.abstractmethod
    async def read_directory(self, path: PathArg) -> list[DirectoryEntry]:
        """The entries in the OS's order, without ``.``/``..`` or dangling symlinks."""

    @abc.abstractmethod
    async def create_directory(self, path: PathArg, *, recursive: bool = True) -> None:
        """``mkdir``; ``recursive`` creates parents and accepts an existing directory."""

    @abc.abstractmethod
    async def remove(self, path: PathArg, *, recursive: bool = True, force: bool = True) -> None:
        """Remove a file, a symlink (never its target) or a directory; ``force``: a
        missing path is fine."""

    @abc.abstractmethod
    async def copy(self, source: PathArg, destination: PathArg, *, recursive: bool) -> None:
        """Copy a file, a symlink (as a symlink) or, with ``recursive``, a directory."""
