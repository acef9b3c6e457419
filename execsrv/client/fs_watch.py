"""A ``fs/watchMissing`` watch as the client holds it, fed by the notification router."""

from __future__ import annotations

import trio

from .errors import Disconnected

__all__ = ["MissingWatch"]


class MissingWatch:
    """One watch; get it from :meth:`~.fs.RemoteFileSystem.watch_missing`.

    ``watching`` is the server's answer: False means there was nothing to wait
    for (a path already exists, ``present`` does not), and :meth:`wait` returns
    at once.
    """

    def __init__(self, watch_id: int) -> None:
        self.watch_id = watch_id
        self.watching = False
        self._fired = trio.Event()
        self._failure: Disconnected | None = None

    async def wait(self) -> None:
        """Wait for the server's one ``fs/missingChanged``: a missing path exists now,
        or ``present`` is gone. Cancelling it leaves the watch as it is.

        Raises:
            Disconnected: the connection was lost first (the server ends a watch with
                its connection; watch again after the client resumes).
        """
        if not self.watching:
            await trio.lowlevel.checkpoint()
            return
        await self._fired.wait()
        if self._failure is not None:
            raise self._failure

    @property
    def fired(self) -> bool:
        """The notification has arrived (or the connection was lost)."""
        return self._fired.is_set()

    def fire(self) -> None:
        self._fired.set()

    def fail(self, error: Disconnected) -> None:
        if not self._fired.is_set():
            self._failure = error
            self._fired.set()
