"""``process/*`` handlers: params in, result out, reference errors.

Each handler gets its session and decoded params. Ordered handlers also get
``took_effect``, to call once their effect is in place so the next request
in the process's lane may go (see :mod:`.lanes`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial

from ..process import ExitedOutputBudget, ManagedProcess, ProcessLimits
from ..process.containment import Leftovers
from ..protocol import process as p
from ..protocol.errors import RpcError
from .session import STARTING, Session, short_id

__all__ = ["ProcessApi"]

log = logging.getLogger("execsrv.process")

TookEffect = Callable[[], None]


class ProcessApi:
    """The process methods of one server, with its limits."""

    def __init__(
        self,
        limits: ProcessLimits,
        *,
        max_processes: int | None = None,
        exited_output_bytes: int,
    ) -> None:
        self._limits = limits
        self._max_processes = max_processes
        """Per session: running processes, i.e. starting or not yet ``closed``."""
        self._exited_output = ExitedOutputBudget(exited_output_bytes)
        """Output of closed processes, server-wide (every session's)."""
        self._leftovers: dict[str, Leftovers] = {}
        """Per session id: what its exited processes left running, killed when it ends."""

    @staticmethod
    def _lookup(session: Session, process_id: str) -> ManagedProcess:
        entry = session.processes.get(process_id)
        if entry is None:
            raise RpcError.invalid_request(f"unknown process id {process_id}")
        if entry is STARTING:
            raise RpcError.invalid_request(f"process id {process_id} is starting")
        assert isinstance(entry, ManagedProcess)
        return entry

    async def start(
        self, session: Session, params: p.ExecParams, took_effect: TookEffect
    ) -> p.ExecResponse:
        if not params.argv:
            raise RpcError.invalid_params("argv must not be empty")
        process_id = params.process_id
        if process_id in session.processes:
            raise RpcError.invalid_request(f"process {process_id} already exists")
        self._check_process_limit(session)
        session.processes[process_id] = STARTING
        size = params.pty_size

        def forget(managed: ManagedProcess) -> None:
            self._exited_output.discard(managed)
            if session.processes.get(process_id) is managed:
                del session.processes[process_id]

        run = partial(
            ManagedProcess.run,
            process_id,
            params.argv,
            cwd=params.cwd,
            env=params.env,
            env_policy=params.env_policy,
            tty=params.tty,
            pipe_stdin=params.pipe_stdin,
            arg0=params.arg0,
            pty_size=(size.rows, size.cols) if size else None,
            timeout_ms=params.timeout_ms,
            sink=session.notify,
            limits=self._limits,
            exited_output=self._exited_output,
            forget=forget,
            leftovers=self._session_leftovers(session),
        )
        try:
            managed: ManagedProcess = await session.nursery.start(run)
        except BaseException:
            del session.processes[process_id]
            raise
        session.processes[process_id] = managed
        took_effect()
        return p.ExecResponse(process_id=process_id)

    def _session_leftovers(self, session: Session) -> Leftovers:
        leftovers = self._leftovers.get(session.id)
        if leftovers is None:
            leftovers = self._leftovers[session.id] = Leftovers(self._limits.kill_grace_seconds)
            session.nursery.start_soon(self._hold_leftovers, session.id, leftovers)
        return leftovers

    async def _hold_leftovers(self, session_id: str, leftovers: Leftovers) -> None:
        try:
            await leftovers.hold()
        finally:
            del self._leftovers[session_id]

    def _check_process_limit(self, session: Session) -> None:
        """Count what holds a child or its pipes: exited-and-closed entries kept only
        for reading (``--exited-retention``) do not count."""
        limit = self._max_processes
        if limit is None:
            return
        running = sum(
            1
            for entry in session.processes.values()
            if not (isinstance(entry, ManagedProcess) and entry.closed)
        )
        if running >= limit:
            log.info("process limit reached", extra={"session": short_id(session.id)})
            raise RpcError.invalid_request(f"process limit reached ({limit})")

    async def read(self, session: Session, params: p.ReadParams) -> p.ReadResponse:
        managed = self._lookup(session, params.process_id)
        return await managed.read(params.after_seq or 0, params.max_bytes, params.wait_ms or 0)

    @staticmethod
    def _stdin_target(session: Session, process_id: str) -> ManagedProcess | p.WriteResponse:
        """The process to write to, or the status the reference answers instead."""
        entry = session.processes.get(process_id)
        if entry is None:
            return p.WriteResponse(status="unknownProcess")
        if not isinstance(entry, ManagedProcess):
            return p.WriteResponse(status="starting")
        return entry

    async def write(
        self, session: Session, params: p.WriteParams, took_effect: TookEffect
    ) -> p.WriteResponse:
        target = self._stdin_target(session, params.process_id)
        if isinstance(target, p.WriteResponse):
            return target
        status = target.write(params.chunk)
        took_effect()
        if status == "accepted":
            await target.wait_stdin_room()
        return p.WriteResponse(status=status)

    async def close_stdin(
        self, session: Session, params: p.CloseStdinParams, took_effect: TookEffect
    ) -> p.WriteResponse:
        target = self._stdin_target(session, params.process_id)
        if isinstance(target, p.WriteResponse):
            return target
        return p.WriteResponse(status=target.close_stdin())

    async def terminate(
        self, session: Session, params: p.TerminateParams, took_effect: TookEffect
    ) -> p.TerminateResponse:
        entry = session.processes.get(params.process_id)
        running = isinstance(entry, ManagedProcess) and entry.kill()
        return p.TerminateResponse(running=running)

    async def signal(
        self, session: Session, params: p.SignalParams, took_effect: TookEffect
    ) -> p.EmptyResponse:
        self._lookup(session, params.process_id).send_signal(params.signal)
        return p.EmptyResponse()

    async def resize(
        self, session: Session, params: p.ResizeParams, took_effect: TookEffect
    ) -> p.EmptyResponse:
        managed = self._lookup(session, params.process_id)
        if not managed.resize(params.rows, params.cols):
            raise RpcError.invalid_request(f"process {params.process_id} is not a tty")
        return p.EmptyResponse()

    async def list(self, session: Session, params: p.ListParams) -> p.ListResponse:
        processes = [e.info() for e in session.processes.values() if isinstance(e, ManagedProcess)]
        return p.ListResponse(processes=processes)
