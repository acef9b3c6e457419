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
from collections.abc import Mapping, Sequence
from typing import Protocol

from ..client.events import ExitStatus, ProcessEvents
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


class ProcessHandle(Protocol):
    """One started process: its events, its input, and control over it.

    :attr:`events` yields :class:`~execsrv.Output`, :class:`~execsrv.Exited`,
    :class:`~execsrv.Closed` (last), and possibly :class:`~execsrv.Gap` or,
    when the backend is gone, :class:`~execsrv.Failed`.

    A protocol, so that the client's :class:`~execsrv.RemoteProcess` is one
    without the client depending on this package; a class that subclasses it
    gets :meth:`wait` and :meth:`communicate` from here.
    """

    process_id: str
    events: ProcessEvents

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
