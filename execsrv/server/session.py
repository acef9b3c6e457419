"""Sessions and the registry that holds them.

A session owns its processes (their supervisors run in the session's own
nursery) and outlives connections: it runs as a task in the server's holding
nursery, and a connection only *attaches* to it. Detaching sets the session's
cancel-scope deadline to now + TTL; attaching sets it back to infinity. When
the deadline passes, the scope cancels the session nursery and every process
group is terminated. Nothing polls.
"""

from __future__ import annotations

import logging
import math
import uuid
from typing import Protocol, TypeVar

import msgspec
import trio

from ..changed import Changed
from ..process import Closed, Exited, ManagedProcess, Output, ProcessEvent
from ..protocol.errors import RpcError
from ..protocol.generation import Generation
from ..protocol.methods import PROCESS_CLOSED, PROCESS_EXITED, PROCESS_OUTPUT, NotificationMethod
from ..protocol.process import (
    ExecClosedNotification,
    ExecExitedNotification,
    ExecOutputDeltaNotification,
)
from ..protocol.wire import Payload
from .drain import AdmissionGate
from .lanes import Lanes

__all__ = ["Attachment", "Session", "SessionRegistry", "short_id"]

log = logging.getLogger("execsrv.session")


def short_id(session_id: str) -> str:
    """Session ids are bearer secrets: logs carry only their first 8 characters."""
    return session_id[:8]


N = TypeVar("N", bound=Payload)


class Attachment(Protocol):
    """The connection a session currently talks through."""

    async def notify(self, method: NotificationMethod[N], params: N) -> None:
        """Queue a notification; blocks when the peer is slow, drops when it is gone."""
        ...


class Starting:
    """Placeholder in the process table while a spawn is in progress."""


STARTING = Starting()


class Session:
    """One client session: processes, their lanes, and the current attachment."""

    def __init__(self, session_id: str, *, ttl: float) -> None:
        self.id = session_id
        self.processes: dict[str, ManagedProcess | Starting] = {}
        self.lanes = Lanes()
        self._ttl = ttl
        self._attachment: Attachment | None = None
        self._scope = trio.CancelScope()
        self._nursery: trio.Nursery | None = None
        self.ended = trio.Event()
        self._detached = False
        self._attachment_changed = Changed()
        self.generation = Generation.V0_130
        """0.171 once any request in it spoke 0.171 (see :meth:`heard`); never back."""

    def heard(self, spoken: Generation | None) -> Generation:
        """Note what a request spoke on its own (see :mod:`~execsrv.protocol.generation`)
        and return the generation to answer it as: its own, else the session's."""
        if spoken is Generation.V0_171:
            self.generation = Generation.V0_171
        return spoken or self.generation

    @property
    def nursery(self) -> trio.Nursery:
        """Where process supervisors run; valid from :meth:`run`'s start until it ends."""
        assert self._nursery is not None, "session is not running"
        return self._nursery

    @property
    def attachment(self) -> Attachment | None:
        return self._attachment

    @property
    def detached(self) -> bool:
        """Its connection left and none has resumed it since (its TTL is running).
        A new session not attached yet is not detached."""
        return self._detached

    async def wait_detached(self) -> None:
        """Return once :attr:`detached` is true (at once, without a checkpoint, if it
        is now). Cancellation is safe."""
        await self._attachment_changed.wait_until(lambda: self._detached)

    async def run(
        self, *, task_status: trio.TaskStatus[Session] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Run until closed or expired; start it in the holding nursery.

        On exit every process has been terminated and reaped.
        """
        try:
            with self._scope:
                async with trio.open_nursery() as nursery:
                    self._nursery = nursery
                    task_status.started(self)
                    await trio.sleep_forever()
        finally:
            self._nursery = None
            self.ended.set()

    async def notify(self, process_id: str, event: ProcessEvent) -> bool:
        """Send a process's event to the attached connection as its ``process/*``
        notification (the one place that picks the method); False if no connection
        is attached (the notification is dropped). Blocks while the peer is slow."""
        attachment = self._attachment
        if attachment is None:
            return False
        match event:
            case Output(seq=seq, stream=stream, data=data):
                output = ExecOutputDeltaNotification(
                    process_id=process_id, seq=seq, stream=stream, chunk=data
                )
                await attachment.notify(PROCESS_OUTPUT, output)
            case Exited(seq=seq, exit_code=exit_code, signal=signal, sandbox_denied=denied):
                exited = ExecExitedNotification(
                    process_id=process_id,
                    seq=seq,
                    exit_code=exit_code,
                    signal=signal,
                    sandbox_denied=msgspec.UNSET if denied is None else denied,
                )
                await attachment.notify(PROCESS_EXITED, exited)
            case Closed(seq=seq):
                closed = ExecClosedNotification(process_id=process_id, seq=seq)
                await attachment.notify(PROCESS_CLOSED, closed)
        return True

    def attach(self, attachment: Attachment) -> Attachment | None:
        """Point notifications at ``attachment``; returns the one it replaced."""
        previous = self._attachment
        self._attachment = attachment
        self._scope.deadline = math.inf
        self._detached = False
        self._attachment_changed.notify()
        return previous

    def detach(self, attachment: Attachment) -> bool:
        """Start the TTL if ``attachment`` is still the current one."""
        if self._attachment is not attachment:
            return False
        self._attachment = None
        self._scope.deadline = trio.current_time() + self._ttl
        self._detached = True
        self._attachment_changed.notify()
        return True

    @property
    def expired(self) -> bool:
        """Past its deadline: a resume now must fail, even if teardown has not run yet."""
        return self.ended.is_set() or trio.current_time() >= self._scope.deadline

    @property
    def ending(self) -> bool:
        """Closed or expired: it no longer counts as a live session."""
        return self.expired or self._scope.cancel_called

    @property
    def expired_by_ttl(self) -> bool:
        return self._attachment is None and trio.current_time() >= self._scope.deadline

    @property
    def reclaimable(self) -> bool:
        """Detached with no process holding a child or its pipes (closed processes
        kept only for reading do not count): ending it early loses no running work."""
        return self._detached and all(
            isinstance(entry, ManagedProcess) and entry.closed for entry in self.processes.values()
        )

    @property
    def deadline(self) -> float:
        """When a detached session expires (infinite while attached); detached sessions
        share one TTL, so the earliest deadline is the longest detached."""
        return self._scope.deadline

    def close(self, *, kill: bool = False) -> None:
        """End the session now; ``kill`` SIGKILLs process groups without a grace."""
        if kill:
            for entry in self.processes.values():
                if isinstance(entry, ManagedProcess):
                    entry.kill()
        self._scope.cancel()


class SessionRegistry:
    """All sessions of a server, held by tasks in the holding nursery."""

    def __init__(
        self, holding_nursery: trio.Nursery, *, ttl: float, max_sessions: int | None = None
    ) -> None:
        self._holding = holding_nursery
        self._ttl = ttl
        self._max_sessions = max_sessions
        self._sessions: dict[str, Session] = {}
        self.admission = AdmissionGate()
        """Closed by a drain: then :meth:`create` refuses (resumes are still served)."""

    def __len__(self) -> int:
        return len(self._sessions)

    def sessions(self) -> list[Session]:
        """Every session held now, ending ones included; a copy, safe to iterate
        while sessions end."""
        return list(self._sessions.values())

    def live_count(self) -> int:
        """Sessions that count against the limit: not closed, not past their TTL.

        Sessions still tearing down their processes are not counted.
        """
        return sum(1 for session in self._sessions.values() if not session.ending)

    async def create(self) -> Session:
        """A new session; at ``max_sessions`` one reclaimable session (see
        :meth:`_reclaim_one`) is closed to make room, else ``session limit reached
        (N)`` (-32600); once :attr:`admission` is closed, ``server is draining: ...``."""
        self.admission.admit("new sessions")
        limit = self._max_sessions
        if limit is not None and self.live_count() >= limit and not self._reclaim_one():
            log.warning("session limit reached", extra={"limit": limit})
            raise RpcError.invalid_request(f"session limit reached ({limit})")
        session = Session(str(uuid.uuid4()), ttl=self._ttl)
        self._sessions[session.id] = session
        await self._holding.start(self._hold, session)
        log.info("session created", extra={"session": short_id(session.id)})
        return session

    def _reclaim_one(self) -> bool:
        """Close the longest-detached live session that has no process holding a child.

        Without this, a client cycling connect/initialize/close fills the limit with
        idle detached sessions and locks every other client out for the TTL.
        Returns False if there is none: then attached sessions, and detached ones
        with work, fill the limit.
        """
        idle = [s for s in self._sessions.values() if not s.ending and s.reclaimable]
        if not idle:
            return False
        oldest = min(idle, key=lambda session: session.deadline)
        log.info("session reclaimed for a new one", extra={"session": short_id(oldest.id)})
        oldest.close()
        return True

    async def _hold(self, session: Session, *, task_status: trio.TaskStatus[Session]) -> None:
        try:
            await session.run(task_status=task_status)
        finally:
            self._sessions.pop(session.id, None)
            how = "session expired" if session.expired_by_ttl else "session closed"
            log.info(how, extra={"session": short_id(session.id)})

    def lookup(self, session_id: str) -> Session | None:
        """The live session with this id; an expired, closed or reclaimed one (perhaps
        still tearing down) is not returned."""
        session = self._sessions.get(session_id)
        if session is None:
            return None
        if session.ending:
            session.close()
            return None
        return session
