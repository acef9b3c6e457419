"""``client.fs``: the ``fs/*`` methods as typed calls.

Paths are absolute paths on the *server's* machine (``str`` or
``os.PathLike``). Errors are :class:`~.errors.RemoteError` with the server's
code and message, except "not found" (``-32004``), which is
:class:`~.errors.FileNotFound` (a RemoteError subclass, raised by every call),
so ``except FileNotFound`` reads naturally. Works against execsrv and codex 0.130.0 (whose
:meth:`RemoteFileSystem.get_metadata` has no ``size``: it is None), except
:meth:`RemoteFileSystem.canonicalize` and :meth:`RemoteFileSystem.walk`, which
codex added in 0.171.0 (0.130.0 answers ``-32601``).
"""

from __future__ import annotations

import base64
import os

from ..protocol import fs as f
from ..protocol.methods import (
    FS_CANONICALIZE,
    FS_COPY,
    FS_CREATE_DIRECTORY,
    FS_GET_METADATA,
    FS_READ_DIRECTORY,
    FS_READ_FILE,
    FS_REMOVE,
    FS_WALK,
    FS_WRITE_FILE,
)
from ..protocol.paths import parse_wire_path
from .peer import Caller

__all__ = ["DirectoryEntry", "FileMetadata", "RemoteFileSystem", "WalkResult"]

FileMetadata = f.FsGetMetadataResponse
"""``is_directory``, ``is_file``, ``is_symlink``, ``created_at_ms``, ``modified_at_ms``,
``size`` (None from a server without the extension)."""

DirectoryEntry = f.FsReadDirectoryEntry
"""``file_name``, ``is_directory``, ``is_file``."""

WalkResult = f.FsWalkResponse
"""``entries`` (``path`` as a ``file://`` URI, ``kind``), ``errors`` (``path``, ``message``),
``truncated``: as the server sent it."""

PathArg = str | os.PathLike[str]


class RemoteFileSystem:
    """The server's file system; get it as ``client.fs``."""

    def __init__(self, client: Caller) -> None:
        self._client = client

    async def read_file(self, path: PathArg) -> bytes:
        """The whole file (servers refuse files over 512 MiB with ``-32600``)."""
        params = f.FsReadFileParams(path=os.fspath(path))
        return (await self._client.call(FS_READ_FILE, params)).data_base64

    async def write_file(self, path: PathArg, data: bytes) -> None:
        """Create or truncate ``path`` (its parent must exist)."""
        params = f.FsWriteFileParams(
            path=os.fspath(path), data_base64=base64.b64encode(data).decode("ascii")
        )
        await self._client.call(FS_WRITE_FILE, params)

    async def create_directory(self, path: PathArg, *, recursive: bool = True) -> None:
        """``mkdir``; ``recursive`` (the default) creates parents and accepts an existing one."""
        params = f.FsCreateDirectoryParams(path=os.fspath(path), recursive=recursive)
        await self._client.call(FS_CREATE_DIRECTORY, params)

    async def get_metadata(self, path: PathArg) -> FileMetadata:
        """Type flags (after symlinks), whether ``path`` is a symlink, times, size."""
        params = f.FsGetMetadataParams(path=os.fspath(path))
        return await self._client.call(FS_GET_METADATA, params)

    async def read_directory(self, path: PathArg) -> list[DirectoryEntry]:
        """The entries in the server's order (dangling symlinks left out)."""
        params = f.FsReadDirectoryParams(path=os.fspath(path))
        return (await self._client.call(FS_READ_DIRECTORY, params)).entries

    async def remove(self, path: PathArg, *, recursive: bool = True, force: bool = True) -> None:
        """Remove a file, symlink (not its target) or directory; ``force``: missing is fine."""
        params = f.FsRemoveParams(path=os.fspath(path), recursive=recursive, force=force)
        await self._client.call(FS_REMOVE, params)

    async def copy(self, source: PathArg, destination: PathArg, *, recursive: bool) -> None:
        """Copy a file, a symlink (as a symlink) or, with ``recursive``, a directory tree."""
        params = f.FsCopyParams(
            source_path=os.fspath(source),
            destination_path=os.fspath(destination),
            recursive=recursive,
        )
        await self._client.call(FS_COPY, params)

    async def canonicalize(self, path: PathArg) -> str:
        """The server's canonical host path for ``path`` (symlinks and ``..`` resolved).

        The server answers with a ``file://`` URI; this returns it as a host path.
        Missing or dangling: :class:`~.errors.FileNotFound`.
        """
        params = f.FsCanonicalizeParams(path=os.fspath(path))
        return parse_wire_path((await self._client.call(FS_CANONICALIZE, params)).path).path

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
        """The tree under ``path``, breadth-first, as the server returned it (typed,
        paths as ``file://`` URIs: turn one into a host path with
        :func:`execsrv.protocol.paths.parse_wire_path`)."""
        options = f.FsWalkOptions(
            max_depth=max_depth,
            max_directories=max_directories,
            max_entries=max_entries,
            follow_directory_symlinks=follow_directory_symlinks,
            prune_hidden_directories=prune_hidden_directories or None,
        )
        params = f.FsWalkParams(path=os.fspath(path), options=options)
        return await self._client.call(FS_WALK, params)
