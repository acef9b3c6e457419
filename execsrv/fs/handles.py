"""File handles for ``fs/open``, ``fs/readBlock``, ``fs/writeBlock`` and ``fs/close``.

:class:`FileHandles` is one connection's table: it enforces 0.171's limits (128
handles, ids of at most 32 bytes, no duplicate) and owns every descriptor in
it. The blocking I/O (:func:`open_handle`, :meth:`FileHandle.read_block`,
:meth:`FileHandle.write_block`) runs in a worker thread; the table itself is
touched only from the event loop. A descriptor is closed exactly once, by the
last of its closer and the operations using it: closing a handle that a
worker thread is reading leaves the descriptor to that thread's operation, so
a descriptor number is never reused under a running read or write.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from ..protocol import fs as f
from .errors import ErrorKind, FsError
from .ops import _check, _open_file

__all__ = ["FileHandle", "FileHandles", "Reservation", "open_handle"]

_MAX_OFFSET: Final = (1 << 63) - 1
"""The largest file offset (``off_t``, a signed 64-bit integer)."""


class FileHandle:
    """An open regular file: readable (``read`` mode) or writable (``replace``)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._users = 0
        self._closing = False

    def read_block(self, offset: int, length: int) -> tuple[bytes, bool]:
        """Up to ``length`` bytes at ``offset`` and whether the end was reached (fewer
        came). A write handle fails with ``EBADF``; an offset past 2^63 with ``EINVAL``."""
        if offset > _MAX_OFFSET:
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
        chunks: list[bytes] = []
        got = 0
        while got < length:
            chunk = os.pread(self.fd, length - got, offset + got)
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        return data, got < length

    def write_block(self, offset: int, data: bytes) -> None:
        """Write all of ``data`` at ``offset`` (a gap before it reads as zeros). A read
        handle fails with ``EBADF``."""
        if offset + len(data) > _MAX_OFFSET:
            raise FsError(ErrorKind.INVALID_INPUT, f.WRITE_RANGE_TOO_LARGE)
        view = memoryview(data)
        while view:
            written = os.pwrite(self.fd, view, offset)
            view, offset = view[written:], offset + written

    def _release(self) -> None:
        if self._closing and not self._users:
            os.close(self.fd)
            self.fd = -1


def open_handle(path: str, mode: f.OpenMode) -> FileHandle:
    """Open ``path`` for a handle (blocking): ``read``, or ``replace`` (create or
    truncate now). Never blocks on a FIFO (``O_NONBLOCK``: one without a reader
    is ``ENXIO`` for ``replace``); anything but a regular file is refused with
    0.171's ``path `...` is not a file``."""
    _check(path)
    flags = os.O_CLOEXEC | os.O_NONBLOCK
    if mode == "replace":
        flags |= os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    fd = _open_file(path, flags, follow_symlinks=True)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise FsError(ErrorKind.INVALID_INPUT, f.NOT_A_FILE.format(path=path))
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return FileHandle(fd)


class Reservation:
    """An id claimed by an ``fs/open`` whose file is still being opened."""


class FileHandles:
    """One connection's open handles, by the client's ids.

    An id is reserved before its file is opened (so two concurrent opens of one
    id cannot both succeed) and counts against the limit from then on. After
    :meth:`close_all` nothing can be opened.
    """

    def __init__(self) -> None:
        self._handles: dict[str, FileHandle | Reservation] = {}
        self._closed = False

    def reserve(self, handle_id: str) -> Reservation:
        """Claim ``handle_id`` for an ``fs/open``, with 0.171's checks in its order."""
        if len(handle_id.encode("utf-8", "surrogatepass")) > f.MAX_HANDLE_ID_BYTES:
            raise FsError(ErrorKind.INVALID_INPUT, f.HANDLE_ID_TOO_LONG)
        if handle_id in self._handles:
            raise FsError(ErrorKind.INVALID_INPUT, f.HANDLE_EXISTS.format(handle_id=handle_id))
        if self._closed or len(self._handles) >= f.MAX_FILE_HANDLES:
            raise FsError(ErrorKind.INVALID_INPUT, f.TOO_MANY_HANDLES)
        reservation = self._handles[handle_id] = Reservation()
        return reservation

    def opened(self, handle_id: str, reservation: Reservation, handle: FileHandle | None) -> None:
        """Fill a reservation with the opened file, or give it up (None: the open failed)."""
        if self._handles.get(handle_id) is not reservation:  # closed meanwhile
            if handle is not None:
                handle._closing = True
                handle._release()
        elif handle is None:
            del self._handles[handle_id]
        else:
            self._handles[handle_id] = handle

    @contextmanager
    def using(self, handle_id: str) -> Iterator[FileHandle]:
        """The handle, kept open until the block ends even if it is closed meanwhile.

        Raises:
            FsError: ``-32004`` ``unknown file handle`` (also while it is being opened).
        """
        handle = self._handles.get(handle_id)
        if not isinstance(handle, FileHandle):
            raise FsError(ErrorKind.NOT_FOUND, f.UNKNOWN_HANDLE.format(handle_id=handle_id))
        handle._users += 1
        try:
            yield handle
        finally:
            handle._users -= 1
            handle._release()

    def close(self, handle_id: str) -> None:
        """Close ``handle_id``; an unknown id is fine (``fs/close`` is idempotent)."""
        handle = self._handles.pop(handle_id, None)
        if isinstance(handle, FileHandle):
            handle._closing = True
            handle._release()

    def close_all(self) -> None:
        """Close every handle (the connection ended); later opens are refused."""
        self._closed = True
        for handle_id in list(self._handles):
            self.close(handle_id)

    def __len__(self) -> int:
        return len(self._handles)
