"""What a process tells whoever listens: its domain events, in seq order.

Neutral types with one home, outside the process package so the client can use
them without loading spawn and containment: the server's session turns them into
``process/*`` notifications, the local backend feeds them to its event stream, and
the client rebuilds them from notifications (:mod:`execsrv.client.events` adds
``Gap`` and ``Failed``). Every event of a process takes
the next seq from one counter; ``Closed`` is the last.
"""

from __future__ import annotations

from dataclasses import dataclass

from .protocol.process import OutputStream

__all__ = ["Closed", "Exited", "Output", "ProcessEvent"]


@dataclass(frozen=True, slots=True)
class Output:
    """A chunk read from one output stream."""

    seq: int
    stream: OutputStream
    data: bytes


@dataclass(frozen=True, slots=True)
class Exited:
    """The child exited and was reaped (output may still follow)."""

    seq: int
    exit_code: int
    signal: str | None = None
    sandbox_denied: bool | None = None
    """Whether a sandbox denial made it fail (codex 0.171); None where not reported (a
    process started by a 0.130 request)."""


@dataclass(frozen=True, slots=True)
class Closed:
    """The last event: exited and every output stream at EOF."""

    seq: int


ProcessEvent = Output | Exited | Closed
