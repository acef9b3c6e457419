"""``fs/*`` handlers: the reference's checks, then the operation in a worker thread.

The checks come in the reference's order. What it rejects while decoding
params (``-32602``: paths, the ``sandbox`` field) is rejected while decoding
here too (the params types' ``check_params``), before the handshake state is
looked at. The handlers then normalise the paths and reject what the
reference's handler rejects (``-32600``: the base64 of ``fs/writeFile``, then
a restricted sandbox profile, which execsrv refuses). The operation runs in a worker
thread under the server's :class:`trio.CapacityLimiter`, so a huge file or
directory never blocks the event loop; its errors map as in the reference:
not found → ``-32004``, invalid input or permission denied → ``-32600``,
anything else → ``-32603``, with Rust's ``<text> (os error N)`` wording.

Reads may be abandoned when their request is cancelled (the thread finishes
on its own); changes (write, create, remove, copy) are waited for, so nothing
is left half-done behind the server's back at shutdown.
"""

from __future__ import annotations

import binascii
from collections.abc import Callable
from typing import Final, TypeVar

import trio

from .. import fs
from ..protocol import fs as f
from ..protocol.errors import INTERNAL_ERROR, INVALID_REQUEST, NOT_FOUND, RpcError, os_error_message
from ..protocol.params import base64_error
from .session import Session

__all__ = [
    "FS_WORKER_THREADS",
    "FsApi",
    "read_directory_entries",
    "read_metadata",
    "run_fs_operation",
]

T = TypeVar("T")

FS_WORKER_THREADS: Final = 8
"""Filesystem operations running at once per server; more wait for a thread."""

_CODES: Final = {
    fs.ErrorKind.NOT_FOUND: NOT_FOUND,
    fs.ErrorKind.INVALID_INPUT: INVALID_REQUEST,
    fs.ErrorKind.OTHER: INTERNAL_ERROR,
}


def _check_sandbox(sandbox: f.FileSystemSandboxContext | None) -> f.PermissionProfile | None:
    """The ``sandbox`` field's decoded permissions (its ``-32602`` checks again)."""
    if sandbox is None:
        return None
    profile = f.parse_permissions(sandbox.permissions)
    if sandbox.cwd is not None:
        f.absolute_path(sandbox.cwd)
    return profile


def _refuse_sandboxed(profile: f.PermissionProfile | None) -> None:
    """execsrv has no sandbox helper: a profile that needs one is refused (``-32600``)."""
    if profile is not None and f.requires_platform_sandbox(profile):
        raise RpcError.invalid_request(f.SANDBOX_UNSUPPORTED)


def _decode_base64(text: str) -> bytes:
    """Strict standard base64, as Rust's base64 crate (canonical trailing bits too)."""
    try:
        data: bytes | None = binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError):
        data = None
    if data:  # the last quad must be how its bytes encode: no stray low bits
        tail = data[-(len(data) % 3 or 3) :]
        if binascii.b2a_base64(tail, newline=False) != text[-4:].encode():
            data = None
    if data is None:
        raise RpcError.invalid_request(
            f"fs/writeFile requires valid base64 dataBase64: {base64_error(text)}"
        )
    return data


async def run_fs_operation(
    function: Callable[[], T], *, limiter: trio.CapacityLimiter, changes: bool
) -> T:
    """Run a blocking :mod:`execsrv.fs` operation in a worker thread; its errors
    become the reference's ``RpcError``. Reads are abandoned on cancellation, changes
    are waited for (nothing half-done behind the caller's back)."""
    try:
        return await trio.to_thread.run_sync(
            function, limiter=limiter, abandon_on_cancel=not changes
        )
    except fs.FsError as error:
        raise RpcError(_CODES[error.kind], error.message) from None
    except OSError as error:
        raise RpcError(_CODES[fs.kind_of(error)], os_error_message(error)) from None


def read_metadata(path: str) -> f.FsGetMetadataResponse:
    """Blocking ``fs/getMetadata`` result for ``path``."""
    m = fs.get_metadata(path)
    return f.FsGetMetadataResponse(
        is_directory=m.is_directory,
        is_file=m.is_file,
        is_symlink=m.is_symlink,
        created_at_ms=m.created_at_ms,
        modified_at_ms=m.modified_at_ms,
        size=m.size,
    )


def read_directory_entries(path: str) -> list[f.FsReadDirectoryEntry]:
    """Blocking ``fs/readDirectory`` entries for ``path``."""
    return [
        f.FsReadDirectoryEntry(
            file_name=e.file_name, is_directory=e.is_directory, is_file=e.is_file
        )
        for e in fs.read_directory(path)
    ]


class FsApi:
    """The filesystem methods of one server; ``limiter`` bounds the worker threads."""

    def __init__(self, limiter: trio.CapacityLimiter | None = None) -> None:
        self._limiter = limiter or trio.CapacityLimiter(FS_WORKER_THREADS)

    async def _run(self, function: Callable[[], T], *, changes: bool) -> T:
        return await run_fs_operation(function, limiter=self._limiter, changes=changes)

    async def read_file(self, session: Session, params: f.FsReadFileParams) -> f.FsReadFileResponse:
        path = f.absolute_path(params.path)
        _refuse_sandboxed(_check_sandbox(params.sandbox))
        data = await self._run(lambda: fs.read_file(path), changes=False)
        return f.FsReadFileResponse(data_base64=data)

    async def write_file(self, session: Session, params: f.FsWriteFileParams) -> f.EmptyResponse:
        path = f.absolute_path(params.path)
        profile = _check_sandbox(params.sandbox)
        data = _decode_base64(params.data_base64)
        _refuse_sandboxed(profile)
        await self._run(lambda: fs.write_file(path, data), changes=True)
        return f.EmptyResponse()

    async def create_directory(
        self, session: Session, params: f.FsCreateDirectoryParams
    ) -> f.EmptyResponse:
        path = f.absolute_path(params.path)
        _refuse_sandboxed(_check_sandbox(params.sandbox))
        recursive = params.recursive is not False
        await self._run(lambda: fs.create_directory(path, recursive=recursive), changes=True)
        return f.EmptyResponse()

    async def get_metadata(
        self, session: Session, params: f.FsGetMetadataParams
    ) -> f.FsGetMetadataResponse:
        path = f.absolute_path(params.path)
        _refuse_sandboxed(_check_sandbox(params.sandbox))
        return await self._run(lambda: read_metadata(path), changes=False)

    async def read_directory(
        self, session: Session, params: f.FsReadDirectoryParams
    ) -> f.FsReadDirectoryResponse:
        path = f.absolute_path(params.path)
        _refuse_sandboxed(_check_sandbox(params.sandbox))
        entries = await self._run(lambda: read_directory_entries(path), changes=False)
        return f.FsReadDirectoryResponse(entries=entries)

    async def remove(self, session: Session, params: f.FsRemoveParams) -> f.EmptyResponse:
        path = f.absolute_path(params.path)
        _refuse_sandboxed(_check_sandbox(params.sandbox))
        recursive, force = params.recursive is not False, params.force is not False
        await self._run(lambda: fs.remove(path, recursive=recursive, force=force), changes=True)
        return f.EmptyResponse()

    async def copy(self, session: Session, params: f.FsCopyParams) -> f.EmptyResponse:
        source = f.absolute_path(params.source_path)
        destination = f.absolute_path(params.destination_path)
        _refuse_sandboxed(_check_sandbox(params.sandbox))
        recursive = params.recursive
        await self._run(lambda: fs.copy(source, destination, recursive=recursive), changes=True)
        return f.EmptyResponse()
