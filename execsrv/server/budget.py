"""A server-wide budget of bytes for large replies in flight.

A large ``fs/readFile`` result or buffered ``http/request`` body costs its
size again as base64 while it is encoded and sent; a few at once could take
the host's memory. Each such reply reserves its bytes here before it reads,
and gives them back once the reply has been written (or has failed), so the
sum held by large replies stays within the budget (``--max-reply-bytes-in-flight``).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Final

import trio

__all__ = ["DEFAULT_REPLY_BUDGET_BYTES", "LARGE_REPLY_BYTES", "ByteBudget", "base64_size"]

DEFAULT_REPLY_BUDGET_BYTES: Final = 1 << 30
"""The budget when none is configured (``ServerConfig.max_reply_bytes_in_flight``)."""

LARGE_REPLY_BYTES: Final = 1 << 20
"""Replies of fewer bytes than this do not use the budget (their number is bounded
by the requests in flight); larger ones do."""


def base64_size(data_bytes: int) -> int:
    """The bytes of the base64 text of ``data_bytes`` bytes."""
    return (data_bytes + 2) // 3 * 4


@dataclass
class _Waiter:
    size: int
    granted: trio.Event = field(default_factory=trio.Event)


class ByteBudget:
    """Bytes reserved by large replies, at most ``total`` at once (first come, first served).

    A reservation larger than the whole budget waits until nothing else is held
    and then goes alone, so every size is served and the bound is
    ``max(total, largest reply)``.
    """

    def __init__(self, total: int) -> None:
        if total <= 0:
            raise ValueError("the reply budget must be positive")
        self.total = total
        self.in_use = 0
        """Bytes reserved now."""
        self._queue: deque[_Waiter] = deque()

    @property
    def waiting(self) -> int:
        """Reservations waiting for bytes."""
        return len(self._queue)

    async def acquire(self, size: int) -> int:
        """Reserve ``size`` bytes (at most :attr:`total`); returns what to :meth:`release`.

        Waits, in arrival order, until they are free. Cancelled while waiting,
        nothing is held.
        """
        size = min(size, self.total)
        if not self._queue and self.in_use + size <= self.total:
            self.in_use += size
            await trio.lowlevel.cancel_shielded_checkpoint()
            return size
        waiter = _Waiter(size)
        self._queue.append(waiter)
        try:
            await waiter.granted.wait()
        except BaseException:
            if waiter.granted.is_set():
                self.release(size)
            else:
                self._queue.remove(waiter)
                self._grant()
            raise
        return size

    def release(self, size: int) -> None:
        """Give back what :meth:`acquire` returned."""
        self.in_use -= size
        self._grant()

    def release_after(self, size: int, replied: trio.Event, nursery: trio.Nursery) -> None:
        """Give ``size`` back once ``replied`` is set, or when ``nursery`` is cancelled
        (the connection ends with the reply unsent)."""
        nursery.start_soon(self._release_when, size, replied)

    async def _release_when(self, size: int, replied: trio.Event) -> None:
        try:
            await replied.wait()
        finally:
            self.release(size)

    def _grant(self) -> None:
        while self._queue and self.in_use + self._queue[0].size <= self.total:
            waiter = self._queue.popleft()
            self.in_use += waiter.size
            waiter.granted.set()
