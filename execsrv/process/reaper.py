"""``execsrv serve`` as child subreaper: it adopts and reaps its children's orphans.

When a process dies, its children go to the nearest *subreaper* ancestor,
or to PID 1. As a subreaper, the server is that ancestor for everything its
children start: an escaped descendant stays in its process tree, is reaped
by it when it exits (no zombies, even where PID 1 reaps nothing), and is
killed when the server ends, whatever :mod:`.containment` could find.

This changes the whole process and reaps children it did not fork, so only
a process that owns all its children may use it: the CLI server, never an
embedding application (``LocalBackend``, :func:`execsrv.serve` in-process).
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final

import trio

from .spawn import fork_thread

__all__ = ["adopting_orphans"]

_PR_SET_CHILD_SUBREAPER: Final = 36

LIST_RETRY_SECONDS: Final = 0.05
"""How soon to list children again when out of descriptors."""

log = logging.getLogger("execsrv.process")


@asynccontextmanager
async def adopting_orphans() -> AsyncIterator[None]:
    """Be the subreaper for the block (call in the main thread, which gets SIGCHLD).

    Orphans are reaped as they exit. Leaving the block, after the server has
    reaped its own children, SIGKILLs and reaps every orphan still alive.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")
    try:
        with trio.open_signal_receiver(signal.SIGCHLD) as exits:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_reap_on_exits, exits)
                yield
                nursery.cancel_scope.cancel()
    finally:
        with trio.CancelScope(shield=True):
            await fork_thread.run_sync(_end_orphans)


async def _reap_on_exits(exits: AsyncIterator[int]) -> None:
    async for _ in exits:
        # Listing children takes descriptors: out of them, try again shortly (no
        # event says when one is free, as for accept).
        while not await fork_thread.run_sync(_reap_orphans):  # noqa: ASYNC110
            await trio.sleep(LIST_RETRY_SECONDS)


def _orphans() -> list[int]:
    """Our children that the fork thread did not fork (or that trio has reaped).

    Raises ``OSError`` if the children cannot be listed (out of descriptors).
    """
    fork_thread.forget_reaped()
    children: list[int] = []
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/children") as listing:
                children += (int(pid) for pid in listing.read().split())
        except FileNotFoundError:
            continue  # the thread ended meanwhile
    return [pid for pid in children if pid not in fork_thread.forked]


def _reap_orphans() -> bool:  # on the fork thread: no fork races its view of `forked`
    """Reap the orphans that have exited; False if they could not be listed."""
    try:
        orphans = _orphans()
    except OSError:
        return False
    for pid in orphans:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
    return True


def _end_orphans() -> None:
    try:
        orphans = _orphans()
    except OSError as error:  # at exit: they go to PID 1 or the next subreaper
        log.warning("cannot list orphans to end them: %s", error)
        return
    for pid in orphans:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
