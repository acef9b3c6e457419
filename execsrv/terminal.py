"""The local terminal for the ``exec`` and ``shell`` commands: raw mode, size, fd modes.

Every change made here is undone on the way out, whatever the way out is
(normal exit, an error, a signal turned into cancellation).
"""

from __future__ import annotations

import contextlib
import os
import termios
import tty
from collections.abc import Iterable, Iterator

__all__ = ["preserve_blocking", "raw_mode", "terminal_size"]


@contextlib.contextmanager
def raw_mode(fd: int) -> Iterator[None]:
    """Put the terminal on ``fd`` in raw mode (no echo, no line editing, no signal
    keys, no output processing) for the block; restore its settings after."""
    saved = termios.tcgetattr(fd)
    try:
        tty.setraw(fd, termios.TCSADRAIN)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


@contextlib.contextmanager
def preserve_blocking(fds: Iterable[int]) -> Iterator[None]:
    """Restore each fd's blocking flag after the block.

    ``trio.lowlevel.FdStream`` makes its fd non-blocking, and the flag lives in
    the open file description, which a terminal's stdin, stdout and stderr
    share with each other and with the shell that started us: a shell left with
    a non-blocking terminal misbehaves.
    """
    saved: list[tuple[int, bool]] = []
    for fd in fds:
        with contextlib.suppress(OSError):
            saved.append((fd, os.get_blocking(fd)))
    try:
        yield
    finally:
        for fd, blocking in saved:
            with contextlib.suppress(OSError):
                os.set_blocking(fd, blocking)


def terminal_size(*fds: int) -> tuple[int, int] | None:
    """``(rows, cols)`` of the first fd that is a terminal with a size, else None."""
    for fd in fds:
        try:
            size = os.get_terminal_size(fd)
        except OSError:
            continue
        if size.lines > 0 and size.columns > 0:
            return size.lines, size.columns
    return None
