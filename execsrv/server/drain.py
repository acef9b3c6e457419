"""Drain: take no new work, let the running work finish, then shut down.

A drain (:meth:`ExecServer.drain <execsrv.server.server.ExecServer.drain>`, or
``serve --drain-timeout`` on the first SIGTERM/SIGINT) closes the
:class:`AdmissionGate`: from then on ``/readyz`` answers 503 ``draining``, and
``initialize`` without ``resumeSessionId`` and ``process/start`` are refused
with -32600 (as the session and process limits refuse). Sessions go on, attached
and detached; resuming one still works. When no process runs, or at the deadline,
the usual two-phase shutdown follows.
"""

from __future__ import annotations

from typing import Final

from ..protocol.errors import RpcError

__all__ = ["EXIT_PROCESSES_CUT", "AdmissionGate"]

EXIT_PROCESSES_CUT: Final = 3
"""``serve``'s exit status when a drain ended with processes still running (its
deadline passed, or a second signal came): they were killed. 0: none was."""

STARTING_POLL_SECONDS: Final = 0.01
"""How often a drain looks again at a start admitted before it began and still
spawning (a spawn takes milliseconds, and none can begin after the gate closed)."""


class AdmissionGate:
    """Whether new sessions and process starts are admitted; closed once, for good.

    The checks are synchronous and sit right where the work is registered (no
    checkpoint between check and registration), so nothing is admitted after
    :meth:`close` and everything admitted before it is visible to the drain.
    """

    def __init__(self) -> None:
        self.refusal: str | None = None
        """Why new work is refused (``draining``); None while it is admitted."""

    @property
    def open(self) -> bool:
        return self.refusal is None

    def close(self, reason: str) -> None:
        """Refuse new work from now on; ``reason`` is ``/readyz``'s 503 body."""
        if self.refusal is None:
            self.refusal = reason

    def admit(self, what: str) -> None:
        """Raise -32600 ``server is draining: new sessions are refused`` (``what`` =
        ``new sessions``) once closed."""
        if self.refusal is not None:
            raise RpcError.invalid_request(f"server is {self.refusal}: {what} are refused")
