"""The server-wide cap on output kept by closed processes.

Each process retains at most its own budget, but closed processes stay readable
for the exited-retention time, and a client can close many in that time. Their
output together is capped here: past the cap the processes closed longest ago
lose their oldest output first (evicted whole, so reads of it say ``truncated``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .managed import ManagedProcess

__all__ = ["ExitedOutputBudget"]


class ExitedOutputBudget:
    """Output retained by closed processes, in closing order, within ``max_bytes``."""

    def __init__(self, max_bytes: int) -> None:
        self._max_bytes = max_bytes
        self._closed: dict[ManagedProcess, None] = {}  # oldest first
        self._retained_bytes = 0

    @property
    def retained_bytes(self) -> int:
        """Output held by the closed processes counted here."""
        return self._retained_bytes

    def add(self, process: ManagedProcess) -> None:
        """``process`` is closed (its output is final): count it, then evict the
        oldest output past the cap, ``process``'s own last."""
        self._closed[process] = None
        self._retained_bytes += process.retained_bytes
        while self._retained_bytes > self._max_bytes and self._closed:
            oldest = next(iter(self._closed))
            self._retained_bytes -= oldest.evict_output(self._retained_bytes - self._max_bytes)
            if oldest.retained_bytes == 0:
                del self._closed[oldest]

    def discard(self, process: ManagedProcess) -> None:
        """``process`` is forgotten: its output no longer counts. Idempotent."""
        if self._closed.pop(process, False) is None:
            self._retained_bytes -= process.retained_bytes
