"""The ``writeId``s a process has accepted: codex 0.171's safe ``process/write`` retries.

A client that lost a connection mid-write cannot know whether the write landed,
so codex 0.171 tags each write with an id and answers a repeated id
``accepted`` without writing again. A process remembers the ids of the writes it
accepted (not those answered ``stdinClosed``: a retry of one is answered afresh),
as fixed-size digests, the :data:`MAX_REMEMBERED_WRITE_IDS` most recent only,
so memory stays bounded whatever the ids and however many writes there are. A
retry of an id older than that is written again.
"""

from __future__ import annotations

import hashlib
from typing import Final

__all__ = ["MAX_REMEMBERED_WRITE_IDS", "WriteIds"]

MAX_REMEMBERED_WRITE_IDS: Final = 4096
"""Accepted ``writeId``s remembered per process (16-byte digests: 64 KiB of keys)."""


def _digest(write_id: str) -> bytes:
    return hashlib.blake2b(write_id.encode("utf-8", "surrogatepass"), digest_size=16).digest()


class WriteIds:
    """The most recent accepted ``writeId``s of one process, oldest forgotten first."""

    def __init__(self, limit: int = MAX_REMEMBERED_WRITE_IDS) -> None:
        self._limit = limit
        self._digests: dict[bytes, None] = {}  # insertion order: oldest first

    def __contains__(self, write_id: str) -> bool:
        return _digest(write_id) in self._digests

    def __len__(self) -> int:
        return len(self._digests)

    def add(self, write_id: str) -> None:
        """Remember ``write_id`` as accepted, forgetting the oldest beyond the limit."""
        self._digests[_digest(write_id)] = None
        if len(self._digests) > self._limit:
            del self._digests[next(iter(self._digests))]
