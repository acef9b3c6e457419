"""A minimal inotify binding (ctypes on libc): no dependency, Linux only.

Sans-trio: the descriptor is non-blocking, and the caller waits for it to be
readable its own way (``trio.lowlevel.wait_readable``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import struct
from typing import Final

__all__ = [
    "IN_CREATE",
    "IN_DELETE",
    "IN_DELETE_SELF",
    "IN_DONT_FOLLOW",
    "IN_IGNORED",
    "IN_MOVED_FROM",
    "IN_MOVED_TO",
    "IN_MOVE_SELF",
    "IN_Q_OVERFLOW",
    "Inotify",
]

IN_MOVED_FROM: Final = 0x00000040
IN_MOVED_TO: Final = 0x00000080
IN_CREATE: Final = 0x00000100
IN_DELETE: Final = 0x00000200
IN_DELETE_SELF: Final = 0x00000400
IN_MOVE_SELF: Final = 0x00000800
IN_Q_OVERFLOW: Final = 0x00004000
IN_IGNORED: Final = 0x00008000
IN_DONT_FOLLOW: Final = 0x02000000

_EVENT: Final = struct.Struct("iIII")  # wd, mask, cookie, len (then len bytes of name)
_READ_BYTES: Final = 64 * 1024

_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
_libc.inotify_init1.argtypes = [ctypes.c_int]
_libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
_libc.inotify_rm_watch.argtypes = [ctypes.c_int, ctypes.c_int]


def _os_error() -> OSError:
    code = ctypes.get_errno()
    return OSError(code, os.strerror(code))


class Inotify:
    """One inotify instance; its descriptor is non-blocking and close-on-exec."""

    def __init__(self) -> None:
        fd = _libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if fd < 0:
            raise _os_error()
        self.fd: int = fd

    def add_watch(self, path: str, mask: int) -> int:
        """Watch ``path`` (the same inode gives the same watch descriptor)."""
        wd = _libc.inotify_add_watch(self.fd, os.fsencode(path), mask)
        if wd < 0:
            raise _os_error()
        return int(wd)

    def remove_watch(self, wd: int) -> None:
        """Stop watching; a watch the kernel already dropped is fine."""
        _libc.inotify_rm_watch(self.fd, wd)

    def read_events(self) -> list[tuple[int, int]] | None:
        """The pending events as ``(wd, mask)``; None when there are none."""
        try:
            data = os.read(self.fd, _READ_BYTES)
        except BlockingIOError:
            return None
        events = []
        offset = 0
        while offset < len(data):
            wd, mask, _cookie, length = _EVENT.unpack_from(data, offset)
            events.append((wd, mask))
            offset += _EVENT.size + length
        return events

    def close(self) -> None:
        os.close(self.fd)
