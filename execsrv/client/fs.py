"""``client.fs``: the ``fs/*`` methods as typed calls.

Paths are absolute host paths on the *server's* machine (``str`` or
``os.PathLike``), sent in the form the server's generation reads (a plain path
to 0.130, a ``file://`` URI to 0.171: :meth:`~.client.Client.wire_path`); the
paths a result holds come back as host paths in either case. Errors are
:class:`~.errors.RemoteError` with the server's code and message, except "not
found" (``-32004``), which is :class:`~.errors.FileNotFound` (a RemoteError
subclass, raised by every call), so ``except FileNotFound`` reads naturally.
:meth:`RemoteFileSystem.open` and :meth:`RemoteFileSystem.watch_missing` are async
context managers. Works against execsrv and codex 0.130.0 and 0.171.0 (0.130.0's
:meth:`RemoteFileSystem.get_metadata` has no ``size``: it is None), except
:meth:`RemoteFileSystem.canonicalize` and :meth:`RemoteFileSystem.walk`, which
codex added in 0.171.0 (0.130.0 answers ``-32601``).
"""

from __future__ import annotations

import base64
import itertools
import os
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Final

import trio

from ..protocol import fs as f
from ..protocol.methods import (
    FS_CANONICALIZE,
    FS_CLOSE,
    FS_COPY,
    FS_CREATE_DIRECTORY,
    FS_GET_METADATA,
    FS_OPEN,
    FS_READ_BLOCK,
    FS_READ_DIRECTORY,
    FS_READ_FILE,
    FS_REMOVE,
    FS_WALK,
    FS_WATCH_MISSING,
    FS_WRITE_BLOCK,
    FS_WRITE_FILE,
)
from ..protocol.paths import parse_wire_path
from .errors import ClientError
from .fs_watch import MissingWatch
from .peer import Caller
from .router import NotificationRouter

__all__ = [
    "DirectoryEntry",
    "FileMetadata",
    "MissingWatch",
    "RemoteFileHandle",
    "RemoteFileSystem",
    "WalkEntry",
    "WalkError",
    "WalkResult",
]

CLOSE_TIMEOUT: Final = 10.0
"""Seconds :meth:`RemoteFileSystem.open` waits for ``fs/close`` when it leaves the block
(shielded, so a cancelled block still closes its handle)."""

FileMetadata = f.FsGetMetadataResponse
"""``is_directory``, ``is_file``, ``is_symlink``, ``created_at_ms``, ``modified_at_ms``,
``size`` (None from a server without the extension)."""

DirectoryEntry = f.FsReadDirectoryEntry
"""``file_name``, ``is_directory``, ``is_file``."""

PathArg = str | os.PathLike[str]


@dataclass(frozen=True, slots=True)
class WalkEntry:
    """One entry of :meth:`RemoteFileSystem.walk`."""

    path: str
    """The host path (as :func:`os.fsdecode` gives it: odd bytes are surrogate escapes)."""
    kind: f.WalkKind
    """``"file"`` or ``"directory"`` (after a followed symlink)."""


@dataclass(frozen=True, slots=True)
class WalkError:
    """A directory below the root :meth:`RemoteFileSystem.walk` could not read."""

    path: str
    """The host path."""
    message: str
    """The server's reason (``<text> (os error N)``)."""


@dataclass(frozen=True, slots=True)
class WalkResult:
    """The tree under a directory as the server walked it (see ``fs/walk``)."""

    entries: list[WalkEntry]
    """Breadth-first, each directory's entries sorted; the root itself left out."""
    errors: list[WalkError]
    truncated: bool
    """A limit was reached and something was left out."""


class RemoteFileHandle:
    """A file opened with :meth:`RemoteFileSystem.open` (codex 0.171's handles)."""

    def __init__(self, client: Caller, handle_id: str, mode: f.OpenMode) -> None:
        self._client = client
        self.handle_id = handle_id
        self.mode = mode

    async def read_block(self, offset: int, length: int) -> tuple[bytes, bool]:
        """Up to ``length`` bytes (1 to 1 MiB) at ``offset``, and whether the end was
        reached (fewer came). On a ``replace`` handle the server answers ``EBADF``."""
        params = f.FsReadBlockParams(handle_id=self.handle_id, offset=offset, len=length)
        result = await self._client.call(FS_READ_BLOCK, params)
        return result.chunk, result.eof

    async def write_block(self, offset: int, data: bytes) -> None:
        """Write ``data`` (1 byte to 1 MiB) at ``offset``; a gap before it reads as zeros.
        On a ``read`` handle the server answers ``EBADF``."""
        params = f.FsWriteBlockParams(handle_id=self.handle_id, offset=offset, chunk=data)
        await self._client.call(FS_WRITE_BLOCK, params)


class RemoteFileSystem:
    """The server's file system; get it as ``client.fs``."""

    def __init__(self, client: Caller, router: NotificationRouter | None = None) -> None:
        self._client = client
        self._router = router
        self._ids = itertools.count(1)

    def _wire(self, path: PathArg) -> str:
        return self._client.wire_path(os.fspath(path))

    async def read_file(self, path: PathArg) -> bytes:
        """The whole file (servers refuse files over 512 MiB with ``-32600``)."""
        params = f.FsReadFileParams(path=self._wire(path))
        return (await self._client.call(FS_READ_FILE, params)).data_base64

    async def write_file(self, path: PathArg, data: bytes) -> None:
        """Create or truncate ``path`` (its parent must exist)."""
        params = f.FsWriteFileParams(
            path=self._wire(path), data_base64=base64.b64encode(data).decode("ascii")
        )
        await self._client.call(FS_WRITE_FILE, params)

    async def create_directory(self, path: PathArg, *, recursive: bool = True) -> None:
        """``mkdir``; ``recursive`` (the default) creates parents and accepts an existing one."""
        params = f.FsCreateDirectoryParams(path=self._wire(path), recursive=recursive)
        await self._client.call(FS_CREATE_DIRECTORY, params)

    async def get_metadata(self, path: PathArg) -> FileMetadata:
        """Type flags (after symlinks), whether ``path`` is a symlink, times, size."""
        params = f.FsGetMetadataParams(path=self._wire(path))
        return await self._client.call(FS_GET_METADATA, params)

    async def read_directory(self, path: PathArg) -> list[DirectoryEntry]:
        """The entries in the server's order (dangling symlinks left out)."""
        params = f.FsReadDirectoryParams(path=self._wire(path))
        return (await self._client.call(FS_READ_DIRECTORY, params)).entries

    async def remove(self, path: PathArg, *, recursive: bool = True, force: bool = True) -> None:
        """Remove a file, symlink (not its target) or directory; ``force``: missing is fine."""
        params = f.FsRemoveParams(path=self._wire(path), recursive=recursive, force=force)
        await self._client.call(FS_REMOVE, params)

    async def copy(self, source: PathArg, destination: PathArg, *, recursive: bool) -> None:
        """Copy a file, a symlink (as a symlink) or, with ``recursive``, a directory tree."""
        params = f.FsCopyParams(
            source_path=self._wire(source),
            destination_path=self._wire(destination),
            recursive=recursive,
        )
        await self._client.call(FS_COPY, params)

    async def canonicalize(self, path: PathArg) -> str:
        """The server's canonical host path for ``path`` (symlinks and ``..`` resolved).

        The server answers with a ``file://`` URI; this returns it as a host path.
        Missing or dangling: :class:`~.errors.FileNotFound`.
        """
        params = f.FsCanonicalizeParams(path=self._wire(path))
        return _host_path((await self._client.call(FS_CANONICALIZE, params)).path)

    async def walk(
        self,
        path: PathArg,
        *,
        max_depth: int,
        max_directories: int,
        max_entries: int,
        follow_directory_symlinks: bool,
        prune_hidden_directories: bool = False,
    ) -> WalkResult:
        """The tree under ``path``, breadth-first, within the limits (see ``fs/walk``),
        its paths as host paths."""
        options = f.FsWalkOptions(
            max_depth=max_depth,
            max_directories=max_directories,
            max_entries=max_entries,
            follow_directory_symlinks=follow_directory_symlinks,
            prune_hidden_directories=prune_hidden_directories or None,
        )
        params = f.FsWalkParams(path=self._wire(path), options=options)
        walked = await self._client.call(FS_WALK, params)
        return WalkResult(
            entries=[WalkEntry(_host_path(entry.path), entry.kind) for entry in walked.entries],
            errors=[WalkError(_host_path(error.path), error.message) for error in walked.errors],
            truncated=walked.truncated,
        )

    @asynccontextmanager
    async def open(
        self, path: PathArg, *, mode: f.OpenMode = "read"
    ) -> AsyncIterator[RemoteFileHandle]:
        """Open a regular file for block reads (``read``) or writes (``replace``: created
        or truncated now), closed when the block ends, also when it is cancelled.

        A handle belongs to the connection: after the client has resumed on a new one,
        the server no longer knows it (:class:`~.errors.FileNotFound`). codex 0.171
        and execsrv have it; codex 0.130 answers ``-32601``.
        """
        handle_id = f"execsrv-client-{next(self._ids)}"
        params = f.FsOpenParams(handle_id=handle_id, path=self._wire(path), mode=mode)
        await self._client.call(FS_OPEN, params)
        try:
            yield RemoteFileHandle(self._client, handle_id, mode)
        finally:
            with trio.CancelScope(shield=True), trio.move_on_after(CLOSE_TIMEOUT):
                try:
                    await self._client.call(FS_CLOSE, f.FsCloseParams(handle_id=handle_id))
                except ClientError:
                    pass  # gone with its connection

    @asynccontextmanager
    async def watch_missing(
        self, missing: Iterable[PathArg], *, present: PathArg | None = None
    ) -> AsyncIterator[MissingWatch]:
        """Watch for any of ``missing`` to appear (or ``present`` to go): ``watching``
        says whether the server watches, ``await watch.wait()`` waits for it to fire.

        The server watches once and until its connection ends; leaving the block
        only stops listening. codex 0.171 and execsrv have it; 0.130 answers ``-32601``.
        """
        if self._router is None:
            raise RuntimeError("this RemoteFileSystem has no notification router")
        watch = MissingWatch(next(self._ids))
        params = f.FsWatchMissingParams(
            watch_id=watch.watch_id,
            missing=[self._wire(path) for path in missing],
            present=None if present is None else self._wire(present),
        )
        self._router.open_watch(watch)
        try:
            watch.watching = (await self._client.call(FS_WATCH_MISSING, params)).watching
            if not watch.watching:
                self._router.forget_watch(watch)
            yield watch
        finally:
            self._router.forget_watch(watch)


def _host_path(wire: str) -> str:
    """A path a result holds (a ``file://`` URI, or a plain path) as a host path."""
    return parse_wire_path(wire).path
