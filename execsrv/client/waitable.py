"""State that tasks can wait on, instead of polling it."""

from __future__ import annotations

from collections.abc import Callable

import trio

__all__ = ["Changed"]


class Changed:
    """Wakes every task waiting for a condition when its owner says the state changed.

    The owner calls :meth:`notify` after each change; waiters re-check their
    condition then. Nothing is missed: a change between the check and the wait
    still wakes the waiter.
    """

    def __init__(self) -> None:
        self._event = trio.Event()

    def notify(self) -> None:
        """The state changed: wake every waiter (synchronous, never blocks)."""
        self._event.set()
        self._event = trio.Event()

    async def wait_until(self, condition: Callable[[], bool]) -> None:
        """Return once ``condition()`` is true (a checkpoint even if it already is).

        Cancelling the wait is safe: nothing is consumed.
        """
        while not condition():
            await self._event.wait()
        await trio.lowlevel.checkpoint()
