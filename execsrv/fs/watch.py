"""``fs/watchMissing``: one-shot watches for paths to appear, driven by inotify.

A watch waits on the nearest existing directory above each missing path (and,
with ``present``, on that path's directory). Any event there wakes the watch,
which looks again: when a missing path exists (a dangling symlink counts) or
``present`` is gone it fires once and ends; otherwise it moves its watches to
the new nearest directories (down as directories appear, up as they vanish)
and waits again. Nothing polls. Each look runs in a worker thread (path lookups
can block), arming the inotify watches before checking, so an entry created
between the look and the watch is never missed.

:class:`MissingWatches` holds one connection's watches, one inotify instance
for them all, and the task that reads it; they all live in the nursery given
to :meth:`MissingWatches.run`, and end (the descriptor closed) with it.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Final

import trio

from ..protocol import fs as f
from . import inotify
from .errors import ErrorKind, FsError
from .ops import _check
from .worker import run_fs_operation

__all__ = ["MissingWatches"]

_MASK: Final = (
    inotify.IN_CREATE
    | inotify.IN_MOVED_TO
    | inotify.IN_DELETE
    | inotify.IN_MOVED_FROM
    | inotify.IN_DELETE_SELF
    | inotify.IN_MOVE_SELF
)
_ARM_ATTEMPTS: Final = 64
"""Looks in a row that may find the tree changed under them before a watch gives up
and fires (the client then looks for itself)."""


class _Watch:
    def __init__(
        self, missing: list[str], present: str | None, fire: Callable[[], Awaitable[None]]
    ) -> None:
        self.missing = missing
        self.present = present
        self.fire = fire
        self.wds: set[int] = set()
        self.woken = trio.Event()


def _nearest_existing(path: str) -> str:
    while True:
        path = os.path.dirname(path)
        if os.path.lexists(path):
            return path


def _add_watch(watcher: inotify.Inotify, path: str) -> int:
    try:
        return watcher.add_watch(path, _MASK)
    except FileNotFoundError:
        if not os.path.islink(path):
            raise
        return watcher.add_watch(path, _MASK | inotify.IN_DONT_FOLLOW)  # a dangling link


def _arm(watcher: inotify.Inotify, missing: list[str], present: str | None) -> set[int] | None:
    """Blocking: watch the nearest existing directories; None if the watch should fire
    now (a missing path exists, ``present`` does not, or the tree kept changing)."""
    for _ in range(_ARM_ATTEMPTS):
        if present is not None and not os.path.lexists(present):
            return None
        if any(os.path.lexists(path) for path in missing):
            return None
        parents = [_nearest_existing(path) for path in missing]
        if present is not None:
            parents.append(os.path.dirname(present))
        try:
            wds = {_add_watch(watcher, parent) for parent in parents}
        except (FileNotFoundError, NotADirectoryError):
            continue  # changed meanwhile: look again
        unchanged = parents[: len(missing)] == [_nearest_existing(path) for path in missing]
        if (
            unchanged
            and not any(os.path.lexists(path) for path in missing)
            and (present is None or os.path.lexists(present))
        ):
            return wds
    return None


class MissingWatches:
    """One connection's ``fs/watchMissing`` watches (at most :data:`f.MAX_MISSING_WATCHES`)."""

    def __init__(self, limiter: trio.CapacityLimiter) -> None:
        self._limiter = limiter
        self._inotify: inotify.Inotify | None = None
        self._nursery: trio.Nursery | None = None
        self._by_id: dict[int, _Watch] = {}
        self._by_wd: dict[int, set[_Watch]] = {}
        self._arming = trio.Lock()
        """Held while a look arms watches: a watch descriptor the kernel hands out
        again (same directory) must not be removed before its new user counts."""
        self._reading = False

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Own the watches until cancelled; then every watch ends, without notifying."""
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                task_status.started()
                await trio.sleep_forever()
        finally:
            self._nursery = None
            if self._inotify is not None:
                self._inotify.close()
                self._inotify = None

    async def watch(
        self,
        watch_id: int,
        missing: list[str],
        present: str | None,
        fire: Callable[[], Awaitable[None]],
    ) -> bool:
        """Start a watch; False if there is nothing to watch (0.171's rules: no path, a
        path already there, ``present`` missing, ``watchId`` 0 or active).

        ``fire`` is awaited once, when the watch fires; the watch has ended by then.

        Raises:
            FsError: the connection's limit is reached, a path has a NUL byte, or
                inotify refused (out of instances or watches, permission).
        """
        if not missing or watch_id == 0 or watch_id in self._by_id:
            return False
        if len(self._by_id) >= f.MAX_MISSING_WATCHES or self._nursery is None:
            raise FsError(ErrorKind.INVALID_INPUT, f.TOO_MANY_WATCHES)
        _check(*missing, *([] if present is None else [present]))
        if self._inotify is None:
            self._inotify = inotify.Inotify()
            self._nursery.start_soon(self._read_events)
        watch = _Watch(missing, present, fire)
        self._by_id[watch_id] = watch
        try:
            if not await self._look(watch):
                self._end(watch_id, watch)
                return False
        except BaseException:
            self._end(watch_id, watch)
            raise
        self._nursery.start_soon(self._wait, watch_id, watch)
        return True

    async def _look(self, watch: _Watch) -> bool:
        """Re-arm ``watch`` on the tree as it is now; False if it should fire."""
        watcher = self._inotify
        assert watcher is not None
        async with self._arming:
            wds = await run_fs_operation(
                lambda: _arm(watcher, watch.missing, watch.present),
                limiter=self._limiter,
                changes=True,  # not abandoned: the descriptor stays open under it
            )
            self._set_wds(watch, wds or set(), may_remove=True)
        return wds is not None

    async def _wait(self, watch_id: int, watch: _Watch) -> None:
        try:
            while True:
                await watch.woken.wait()
                watch.woken = trio.Event()
                try:
                    armed = await self._look(watch)
                except FsError:
                    armed = False  # cannot watch any more: let the client look
                if not armed:
                    break
        finally:
            self._end(watch_id, watch)
        await watch.fire()

    def _set_wds(self, watch: _Watch, wds: set[int], *, may_remove: bool) -> None:
        """Count ``watch`` as a user of ``wds`` only; a descriptor left without users
        is removed if ``may_remove`` (else it stays, unused, until the instance ends)."""
        for wd in wds - watch.wds:
            self._by_wd.setdefault(wd, set()).add(watch)
        for wd in watch.wds - wds:
            users = self._by_wd.get(wd)
            if users is not None:
                users.discard(watch)
                if not users:
                    del self._by_wd[wd]
                    if self._inotify is not None and may_remove:
                        self._inotify.remove_watch(wd)
        watch.wds = wds

    def _end(self, watch_id: int, watch: _Watch) -> None:
        if self._by_id.get(watch_id) is watch:
            del self._by_id[watch_id]
        self._set_wds(watch, set(), may_remove=not self._arming.locked())

    async def _read_events(self) -> None:
        watcher = self._inotify
        assert watcher is not None
        while True:
            await trio.lowlevel.wait_readable(watcher.fd)
            for wd, mask in watcher.read_events() or ():
                if mask & inotify.IN_Q_OVERFLOW:  # events were lost: everyone looks again
                    woken = set(self._by_id.values())
                else:
                    woken = self._by_wd.get(wd, set())
                if mask & inotify.IN_IGNORED:  # the kernel dropped it (directory gone)
                    for watch in self._by_wd.pop(wd, set()):
                        watch.wds.discard(wd)
                for watch in woken:
                    watch.woken.set()
