"""``process/*`` handlers: params in, result out, process errors.

Each handler gets a :class:`~.call.Call`. Ordered handlers whose effect comes
before they finish waiting (start, write) call ``call.took_effect`` once it is
in place, so the next request in the process's lane may go (see :mod:`.lanes`).
The ``*_will_not_wait`` predicates tell the connection when the reader may
answer a request itself (see :mod:`.routes`). Failures are the process domain's
errors (:mod:`execsrv.process.errors`); :mod:`.errors` words them for the wire.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from functools import partial

import msgspec
import trio

from ..process import (
    EmptyArgv,
    ExitedOutputBudget,
    ManagedProcess,
    ProcessIdTaken,
    ProcessLimitReached,
    ProcessLimits,
    ProcessSpec,
    ProcessStarting,
    UnknownProcess,
)
from ..process.containment import Leftovers
from ..protocol import fs as f
from ..protocol import process as p
from ..protocol.errors import RpcError
from ..protocol.generation import Generation
from ..protocol.paths import parse_wire_path
from ..sandbox import PolicyUnsupported
from ..sandbox.codex_wrapper import (
    HELPER_NAME,
    WrappedCommand,
    WrapperArgumentsInvalid,
    unwrap_codex_sandbox,
)
from ..sandbox.command import CommandSandbox, command_sandbox
from ..sandbox.placeholders import Placeholders, missing_protected
from .call import Call
from .drain import AdmissionGate
from .metrics import Metrics
from .session import STARTING, Session, short_id
from .tracing import TRACING

__all__ = ["ProcessApi"]

log = logging.getLogger("execsrv.process")


class ProcessApi:
    """The process methods of one server, with its limits."""

    def __init__(
        self,
        limits: ProcessLimits,
        *,
        max_processes: int | None = None,
        exited_output_bytes: int,
        metrics: Metrics | None = None,
        admission: AdmissionGate | None = None,
    ) -> None:
        self._limits = limits
        self._metrics = metrics if metrics is not None else Metrics()
        self._admission = admission
        """Closed by a drain: then :meth:`start` refuses."""
        self._max_processes = max_processes
        """Per session: running processes, i.e. starting or not yet ``closed``."""
        self._exited_output = ExitedOutputBudget(exited_output_bytes)
        """Output of closed processes, server-wide (every session's)."""
        self._placeholders = Placeholders()
        """Protected names a writable root lacks, held while confined commands run."""
        self._leftovers: dict[str, Leftovers] = {}
        """Per session id: what its exited processes left running, killed when it ends."""

    @staticmethod
    def _lookup(session: Session, process_id: str) -> ManagedProcess:
        entry = session.processes.get(process_id)
        if entry is None:
            raise UnknownProcess(process_id)
        if entry is STARTING:
            raise ProcessStarting(process_id)
        assert isinstance(entry, ManagedProcess)
        return entry

    async def start(self, call: Call[p.ExecParams]) -> p.ExecResponse:
        session, params, took_effect = call.session, call.params, call.took_effect
        if self._admission is not None:
            self._admission.admit("new processes")  # no checkpoint until STARTING is set
        if not params.argv:
            raise EmptyArgv()
        wrapped = unwrap_codex_sandbox(params.argv, params.arg0)  # the 0.130 harness's helper
        process_id = params.process_id
        if process_id in session.processes:
            raise ProcessIdTaken(process_id)
        self._check_process_limit(session)
        cwd = parse_wire_path(params.cwd, relative=True)  # cwd.form: which generation sent it
        options = params.codex_0171(strict=call.generation is Generation.V0_171)
        argv, child_cwd, arg0 = params.argv, cwd.path, params.arg0
        if wrapped is not None:
            options = _run_unwrapped(options, wrapped)
            argv, child_cwd, arg0 = list(wrapped.argv), wrapped.cwd, None
        sandbox = _confinement(options, params.env)
        placeholders = self._placeholders.hold(
            missing_protected(sandbox.policy) if sandbox and sandbox.policy else ()
        )
        metadata = options.metadata
        session.processes[process_id] = STARTING
        size = params.pty_size
        watch = self._metrics.process_watch()

        def forget(managed: ManagedProcess) -> None:
            self._exited_output.discard(managed)
            watch.forgotten()
            if session.processes.get(process_id) is managed:
                del session.processes[process_id]

        spec = ProcessSpec(
            process_id,
            argv,
            child_cwd,
            params.env,
            env_policy=params.env_policy,
            tty=params.tty,
            pipe_stdin=params.pipe_stdin,
            arg0=arg0,
            pty_size=(size.rows, size.cols) if size else None,
            timeout_ms=params.timeout_ms,
            generation=call.generation,
            injected_env=metadata.child_env() if metadata is not None else {},
            sandbox=sandbox,
        )
        run = partial(
            ManagedProcess.run,
            spec,
            sink=watch.wrap(partial(session.notify, process_id)),
            limits=self._limits,
            exited_output=self._exited_output,
            forget=forget,
            leftovers=self._session_leftovers(session),
        )
        try:
            managed: ManagedProcess = await session.nursery.start(run)
        except BaseException as error:
            del session.processes[process_id]
            self._placeholders.release(placeholders)
            if isinstance(error, Exception):
                watch.failed_to_start()
            raise
        watch.started(managed)
        if placeholders:
            session.nursery.start_soon(self._release_placeholders, managed, placeholders)
        session.processes[process_id] = managed
        TRACING.watch_process(managed, session.nursery)
        took_effect()
        if call.generation is Generation.V0_171:
            return p.ExecResponse(
                process_id=process_id, sandbox_type="none" if sandbox is None else "linuxSeccomp"
            )
        return p.ExecResponse(process_id=process_id)

    async def _release_placeholders(self, managed: ManagedProcess, held: list[str]) -> None:
        """Once ``managed`` is closed and nothing it started runs; a survivor keeps them
        until the session ends (which kills it)."""
        try:
            if await managed.wait_closed():
                await trio.sleep_forever()
        finally:
            self._placeholders.release(held)

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
            raise ProcessLimitReached(limit)

    @staticmethod
    def read_will_not_wait(call: Call[p.ReadParams]) -> bool:
        """No ``waitMs``: the read answers with what is retained now."""
        return not call.params.wait_ms

    async def read(self, call: Call[p.ReadParams]) -> p.ReadResponse:
        params = call.params
        managed = self._lookup(call.session, params.process_id)
        response = await managed.read(params.after_seq or 0, params.max_bytes, params.wait_ms or 0)
        if response.truncated:
            self._metrics.retention_gap()
        return response

    @staticmethod
    def _stdin_target(session: Session, process_id: str) -> ManagedProcess | p.WriteResponse:
        """The process to write to, or the status the reference answers instead."""
        entry = session.processes.get(process_id)
        if entry is None:
            return p.WriteResponse(status="unknownProcess")
        if not isinstance(entry, ManagedProcess):
            return p.WriteResponse(status="starting")
        return entry

    @staticmethod
    def write_will_not_wait(call: Call[p.WriteParams]) -> bool:
        """The chunk fits in the stdin queue now (or there is no process to write to)."""
        entry = call.session.processes.get(call.params.process_id)
        return not (
            isinstance(entry, ManagedProcess) and entry.write_would_wait(len(call.params.chunk))
        )

    async def write(self, call: Call[p.WriteParams]) -> p.WriteResponse:
        params = call.params
        target = self._stdin_target(call.session, params.process_id)
        if isinstance(target, p.WriteResponse):
            return target
        status = target.write(params.chunk, params.write_id)
        call.took_effect()
        if status == "accepted":
            await target.wait_stdin_room()
        return p.WriteResponse(status=status)

    async def close_stdin(self, call: Call[p.CloseStdinParams]) -> p.WriteResponse:
        target = self._stdin_target(call.session, call.params.process_id)
        if isinstance(target, p.WriteResponse):
            return target
        return p.WriteResponse(status=target.close_stdin())

    async def terminate(self, call: Call[p.TerminateParams]) -> p.TerminateResponse:
        entry = call.session.processes.get(call.params.process_id)
        running = isinstance(entry, ManagedProcess) and entry.kill()
        return p.TerminateResponse(running=running)

    async def signal(self, call: Call[p.SignalParams]) -> p.EmptyResponse:
        """codex 0.171's ``interrupt``, asked as 0.171, answers ``{}`` whatever the
        process (unknown, starting or exited); otherwise (execsrv's extension) an
        unknown process is an error."""
        params = call.params
        if call.generation is Generation.V0_171 and params.signal == "interrupt":
            entry = call.session.processes.get(params.process_id)
            if isinstance(entry, ManagedProcess):
                entry.send_signal(params.signal)
            return p.EmptyResponse()
        self._lookup(call.session, params.process_id).send_signal(params.signal)
        return p.EmptyResponse()

    async def resize(self, call: Call[p.ResizeParams]) -> p.EmptyResponse:
        params = call.params
        self._lookup(call.session, params.process_id).resize(params.rows, params.cols)
        return p.EmptyResponse()

    async def list(self, call: Call[p.ListParams]) -> p.ListResponse:
        entries = call.session.processes.values()
        processes = [e.info() for e in entries if isinstance(e, ManagedProcess)]
        return p.ListResponse(processes=processes)


def _run_unwrapped(options: p.StartOptions, wrapped: WrappedCommand) -> p.StartOptions:
    """A wrapped start's options: its helper's sandbox, as a 0.171 ``sandbox`` would ask.
    A start that also carries a ``sandbox`` of its own is refused: which one to honour
    would be a guess."""
    if options.sandbox is not None:
        raise WrapperArgumentsInvalid(
            f"{HELPER_NAME}: a wrapped command cannot also carry a `sandbox`"
        )
    return msgspec.structs.replace(options, sandbox=wrapped.sandbox)


def _confinement(options: p.StartOptions, env: Mapping[str, str]) -> CommandSandbox | None:
    """What a start's ``sandbox`` confines the child to (None: nothing).

    One Landlock cannot express, or managed networking, is refused (``-32600``);
    one the kernel cannot enforce fails the spawn (``sandboxUnavailable``): never
    run unconfined.
    """
    if options.enforce_managed_network or options.network_proxy:
        raise RpcError.invalid_request(p.MANAGED_NETWORK_UNSUPPORTED)
    sandbox = options.sandbox
    if sandbox is None:
        return None
    cwd = None if sandbox.cwd is None else parse_wire_path(sandbox.cwd).path
    roots = [parse_wire_path(root).path for root in sandbox.workspace_roots or ()]
    tmpdir = {"TMPDIR": env.get("TMPDIR") or os.environ.get("TMPDIR") or ""}
    try:
        confinement = command_sandbox(
            sandbox.checked_profile(), cwd=cwd, project_roots=roots, env=tmpdir
        )
    except PolicyUnsupported:
        raise RpcError.invalid_request(f.SANDBOX_UNSUPPORTED) from None
    return confinement
