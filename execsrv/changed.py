"""A broadcast "something changed" signal, so state can be waited for, not polled.

The owner of some state calls :meth:`Changed.notify` after each change; waiters
re-check their condition then. This replaces the hand-rolled pattern of an
``Event`` that is set and replaced on every change.
"""

from __future__ import annotations

from collections.abc import Callable

import trio

__all__ = ["Changed"]


class Changed:
    """Wakes every task waiting at the time of :meth:`notify`."""

    def __init__(self) -> None:
        self._event = trio.Event()

    def notify(self) -> None:
        """Wake the current waiters; later waiters wait for the next call."""
        self._event.set()
        self._event = trio.Event()

    async def wait(self) -> None:
        """Until the next :meth:`notify`. Cancellation is safe: nothing is consumed."""
        await self._event.wait()

    async def wait_until(self, condition: Callable[[], bool]) -> None:
        """Until ``condition()`` is true, checked now and after each :meth:`notify`
        (without a checkpoint if it is true now). Cancellation is safe."""
        while not condition():
            await self._event.wait()
