"""Arrival-order execution for one process's control requests.

Requests on a connection run concurrently, but ``process/start``,
``write``, ``terminate``, ``signal``, ``resize`` and ``closeStdin`` for one
process must take effect in the order they arrived. The reader takes a
:class:`Ticket` synchronously on arrival; each ticket waits for the previous
one to *take effect* (not to finish: a write blocked on a full stdin queue
does not hold up a later terminate).
"""

from __future__ import annotations

import trio

__all__ = ["Lanes", "Ticket"]

_PRUNE_FLOOR = 64


class Ticket:
    """One request's place in its lane."""

    __slots__ = ("_done", "_previous")

    def __init__(self, previous: trio.Event | None) -> None:
        self._previous = previous
        self._done = trio.Event()

    @property
    def ready(self) -> bool:
        """Every earlier request in the lane has taken effect: no need to wait."""
        return self._previous is None or self._previous.is_set()

    async def wait_turn(self) -> None:
        """Wait until every earlier request in the lane has taken effect."""
        if self._previous is not None:
            await self._previous.wait()

    def release(self) -> None:
        """This request has taken effect; idempotent."""
        self._done.set()


class Lanes:
    """One FIFO lane per process id."""

    def __init__(self) -> None:
        self._tails: dict[str, trio.Event] = {}
        self._prune_at = _PRUNE_FLOOR

    def __len__(self) -> int:
        """Lanes remembered: those with requests pending, and some finished ones."""
        return len(self._tails)

    def take_ticket(self, key: str) -> Ticket:
        previous = self._tails.get(key)
        if previous is not None and previous.is_set():
            previous = None
        ticket = Ticket(previous)
        self._tails[key] = ticket._done
        if len(self._tails) >= self._prune_at:
            # Amortised: a long session with many process ids stays bounded.
            self.prune()
            self._prune_at = max(_PRUNE_FLOOR, 2 * len(self._tails))
        return ticket

    def barrier(self, key: str) -> trio.Event | None:
        """What a read waits for: everything queued so far, without queueing itself."""
        tail = self._tails.get(key)
        return None if tail is None or tail.is_set() else tail

    def prune(self) -> None:
        """Forget lanes with nothing pending (bounded memory)."""
        for key in [k for k, tail in self._tails.items() if tail.is_set()]:
            del self._tails[key]
