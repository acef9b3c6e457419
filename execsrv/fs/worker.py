"""The blocking operations run off the event loop, as ``fs/*`` needs them.

Shared by the server's ``fs/*`` handlers and the local backend, so both run
the same code and fail with the same :class:`~.errors.FsError`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, TypeVar

import trio

from ..protocol import fs as f
from .errors import FsError
from .ops import get_metadata, read_directory

__all__ = ["FS_WORKER_THREADS", "read_directory_entries", "read_metadata", "run_fs_operation"]

T = TypeVar("T")

FS_WORKER_THREADS: Final = 8
"""Filesystem operations running at once per server (or local backend); more wait
for a thread."""


async def run_fs_operation(
    function: Callable[[], T], *, limiter: trio.CapacityLimiter, changes: bool
) -> T:
    """Run a blocking :mod:`execsrv.fs` operation in a worker thread.

    Every failure leaves as :class:`FsError` (an :class:`OSError` is converted).
    On cancellation a read (``changes=False``) is abandoned: the thread finishes
    on its own and the caller gets :class:`trio.Cancelled` at once. A change is
    waited for, so nothing is left half-done behind the caller's back.
    """
    try:
        return await trio.to_thread.run_sync(
            function, limiter=limiter, abandon_on_cancel=not changes
        )
    except OSError as error:
        raise FsError.from_os_error(error) from error


def read_metadata(path: str, *, follow_symlinks: bool = True) -> f.FsGetMetadataResponse:
    """Blocking ``fs/getMetadata`` result for ``path``."""
    m = get_metadata(path, follow_symlinks=follow_symlinks)
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
        for e in read_directory(path)
    ]
