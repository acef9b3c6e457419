"""The server-wide cap on output kept by closed processes.

Each process retains at most its own budget, but closed processes stay readable
for the exited-retention time, and a client can close many in that time. Their
output together is capped here: past the cap the processes closed longest ago
lose their oldest output first (evicted whole, so reads of it say ``truncated``).

Freed output goes back to the OS: glibc serves large reads from its heap once
its mmap threshold has adapted, and a heap fragmented by live objects is not
trimmed on its own, so after every :data:`TRIM_AFTER_BYTES` freed here, and when
the last closed process's output is freed, this asks for it with ``malloc_trim``
(where the C library has it).
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from .managed import ManagedProcess

__all__ = ["TRIM_AFTER_BYTES", "ExitedOutputBudget"]

TRIM_AFTER_BYTES: Final = 16 << 20
"""Output freed by eviction or forgetting between two returns of free memory to the OS."""


def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None where the C library has none (musl, macOS)."""
    try:
        trim: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


_MALLOC_TRIM: Final = _malloc_trim()


class ExitedOutputBudget:
    """Output retained by closed processes, in closing order, within ``max_bytes``."""

    def __init__(self, max_bytes: int) -> None:
        self._max_bytes = max_bytes
        self._closed: dict[ManagedProcess, None] = {}  # oldest first
        self._retained_bytes = 0
        self._freed_bytes = 0  # since memory was last returned to the OS

    def add(self, process: ManagedProcess) -> None:
        """``process`` is closed (its output is final): count it, then evict the
        oldest output past the cap, ``process``'s own last."""
        self._closed[process] = None
        self._retained_bytes += process.retained_bytes
        while self._retained_bytes > self._max_bytes and self._closed:
            oldest = next(iter(self._closed))
            freed = oldest.evict_output(self._retained_bytes - self._max_bytes)
            self._retained_bytes -= freed
            self._freed(freed)
            if oldest.retained_bytes == 0:
                del self._closed[oldest]

    def discard(self, process: ManagedProcess) -> None:
        """``process`` is forgotten: its output is freed now and no longer counts.
        Idempotent."""
        counted = self._closed.pop(process, False) is None
        freed = process.evict_output(process.retained_bytes)
        if counted:
            self._retained_bytes -= freed
        self._freed(freed)

    def _freed(self, size: int) -> None:
        self._freed_bytes += size
        settled = self._freed_bytes > 0 and not self._closed  # the last closed output is gone
        if _MALLOC_TRIM is not None and (self._freed_bytes >= TRIM_AFTER_BYTES or settled):
            self._freed_bytes = 0
            _MALLOC_TRIM(0)
