"""The server: its nursery tree, listeners and two-phase shutdown.

::

    holding nursery ─ one task per session (see .session)
    └── connection nursery ─ one task per connection
        └── open_server's body: listeners, each serve_websocket call in a cancel
            scope of its own (its accept nursery inside), or serve_stdio

Shutdown (:meth:`ExecServer.shutdown`, or leaving :func:`open_server`'s block)
has two phases, which a drain (:meth:`ExecServer.drain`, see :mod:`.drain`) may
precede: new sessions and process starts are refused, and the running processes
get until the drain's deadline to finish.

One: the listeners close. Two, until ``shutdown_grace`` from then: connections
read no more requests, answer those in flight and flush what is queued, then
close; every child gets SIGTERM. At the deadline what is left is cancelled and
every child still running gets SIGKILL. Cancelling the block instead shuts down
at once (each process group gets SIGTERM, the kill grace, then SIGKILL). Either
way every child is reaped before :func:`open_server` returns.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any, Final, NoReturn, final

import trio

from ..logs import clip
from ..process import ManagedProcess, ProcessLimits
from ..transport import LineTransport, TransportClosed, WebSocketTransport
from ..transport.websocket import (
    BadUpgradeRequest,
    ConnectionClosed,
    RequestHead,
    WebSocketConnection,
    accept_websocket,
    receive_upgrade_request,
    refuse_upgrade,
)
from .budget import ByteBudget
from .config import ServerConfig
from .connection import Connection
from .drain import STARTING_POLL_SECONDS, AdmissionGate
from .fs_api import FsApi
from .http_api import HttpApi
from .probes import plain_answer
from .process_api import ProcessApi
from .routes import RouteTable, build_routes
from .security import (
    ConnectionLimits,
    HandshakePolicy,
    PendingHandshakes,
    Rejection,
    is_loopback,
    raise_fd_limit,
    require_auth_off_loopback,
)
from .session import STARTING, SessionRegistry

__all__ = ["ExecServer", "ListenAddress", "open_server", "parse_listen", "serve"]

log = logging.getLogger("execsrv.server")

POLICY_VIOLATION = 1008

OUT_OF_RESOURCES_ERRNOS: Final = frozenset(
    {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}
)
"""``accept`` errors that pass once descriptors (or memory) are free again."""
ACCEPT_RETRY_SECONDS: Final = 0.05
"""How often a listener out of descriptors tries again."""


@dataclass(frozen=True)
class ListenAddress:
    """A parsed ``--listen`` value: ``stdio``, or a websocket host and port."""

    stdio: bool
    host: str = ""
    port: int = 0


def parse_listen(url: str) -> ListenAddress:
    """Parse ``ws://IP:PORT`` or ``stdio``; ValueError with the reference's wording."""
    if url in ("stdio", "stdio://"):
        return ListenAddress(stdio=True)
    if not url.startswith("ws://"):
        raise ValueError(f"unsupported --listen URL `{url}`; expected `ws://IP:PORT` or `stdio`")
    invalid = ValueError(f"invalid websocket --listen URL `{url}`; expected `ws://IP:PORT`")
    rest = url.removeprefix("ws://")
    host, sep, port_text = rest.rpartition(":")
    if not sep or not port_text.isdigit():
        raise invalid
    host = host.removeprefix("[").removesuffix("]")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise invalid from None
    port = int(port_text)
    if port > 65535:
        raise invalid
    return ListenAddress(stdio=False, host=host, port=port)


@final
class ExecServer:
    """A running server; get one from :func:`open_server`, which owns its nurseries.

    ``port`` and ``url`` are those of the websocket listener started last.
    """

    def __init__(
        self,
        config: ServerConfig,
        registry: SessionRegistry,
        connections: trio.Nursery,
        *,
        policy: HandshakePolicy | None = None,
    ) -> None:
        self.config = config
        self.registry = registry
        self._connections = connections
        """Where each accepted connection runs; :func:`open_server`'s connection nursery."""
        self.policy = policy if policy is not None else HandshakePolicy.from_config(config)
        """Who may open a websocket (Origin, bearer token); fixed at startup."""
        self.url: str | None = None
        self.port: int | None = None
        self.connection_count = 0
        """Websocket connections accepted and not yet ended (``--max-connections``)."""
        self.max_connections = config.max_connections
        """``config.max_connections``, lowered to fit the descriptor limit once listening."""
        self._pending = PendingHandshakes(config.max_pending_handshakes, config.handshake_timeout)
        self._accepting = True
        self._listeners: set[trio.CancelScope] = set()
        """A scope per running :meth:`serve_websocket` call; :meth:`stop_accepting` cancels them."""
        self._live: set[Connection] = set()
        """Connections being served, each drained at shutdown."""
        self._grace_bounded: set[trio.CancelScope] = {connections.cancel_scope}
        """Scopes the shutdown deadline cancels: the connection nursery, serve_stdio calls."""
        self._shutdown_deadline: float | None = None
        self._terminated: set[ManagedProcess] = set()
        """Children sent SIGTERM by the shutdown."""
        self.admission: AdmissionGate = registry.admission
        """Closed by :meth:`drain`: ``/readyz`` 503, new sessions and starts refused."""
        self._drain_scope: trio.CancelScope | None = None
        processes = ProcessApi(
            ProcessLimits(
                retained_output_bytes=config.retention_bytes,
                exited_retention_seconds=config.exited_retention,
                kill_grace_seconds=config.kill_grace,
                reader_timeout_seconds=config.reader_timeout,
            ),
            max_processes=config.max_processes_per_session,
            exited_output_bytes=config.exited_retention_bytes,
            admission=registry.admission,
        )
        self.reply_budget = ByteBudget(config.max_reply_bytes_in_flight)
        """Bytes of large replies in flight (``--max-reply-bytes-in-flight``)."""
        self.http = HttpApi.from_config(config, self.reply_budget)
        files = FsApi(budget=self.reply_budget)
        self.routes: RouteTable = build_routes(processes, files, self.http)
        """Every method's handler and scheduling facts; raises at startup if incomplete."""

    def _connection(self, transport: Any, **options: bool) -> Connection:
        return Connection(transport, self.registry, self.routes, **options)

    async def _run_connection(self, connection: Connection) -> None:
        """Serve ``connection``, drained by :meth:`shutdown` (even one accepted just before)."""
        self._live.add(connection)
        try:
            if self._shutdown_deadline is not None:
                connection.drain()
            await connection.run()
        finally:
            self._live.discard(connection)

    @property
    def pending_handshakes(self) -> int:
        """Connections accepted whose upgrade request is not answered yet."""
        return len(self._pending)

    async def serve_websocket(
        self,
        host: str,
        port: int,
        *,
        task_status: trio.TaskStatus[ExecServer] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Accept websocket connections until :meth:`stop_accepting`; ``started`` once
        listening. Then the sockets are closed and this returns; connections already
        accepted go on (they run in the server's connection nursery).

        Call it once per listener: several may run at once. Cancelling one call
        closes only its listener. Raises :class:`~.security.ConfigError`, before
        binding, for a non-loopback ``host`` without a token (unless
        ``insecure_no_auth``), and ``RuntimeError`` once accepting has stopped.
        First raises the soft descriptor limit to the hard one and lowers the
        connection limits to fit it (see :class:`~.security.ConnectionLimits`).
        """
        require_auth_off_loopback(host, port, self.config)
        if not self._accepting:
            raise RuntimeError("the server has stopped accepting connections")
        self._fit_limits_to_descriptors()
        with trio.CancelScope() as accepting:
            self._listeners.add(accepting)
            try:
                await self._listen(host, port, task_status)
            finally:
                self._listeners.discard(accepting)

    async def _listen(
        self, host: str, port: int, task_status: trio.TaskStatus[ExecServer]
    ) -> NoReturn:
        listeners = await trio.open_tcp_listeners(port, host=host)
        try:
            async with trio.open_nursery() as accept:
                for listener in listeners:
                    accept.start_soon(self._accept_loop, listener)
                self.port = listeners[0].socket.getsockname()[1]
                shown = f"[{host}]" if ":" in host else host
                self.url = f"ws://{shown}:{self.port}"
                log.info("listening on %s", self.url)
                if not is_loopback(host) and not self.policy.requires_token:
                    log.warning(
                        "no authentication on a non-loopback address (--insecure-no-auth): "
                        "anyone who can reach %s can run commands",
                        self.url,
                    )
                task_status.started(self)
        finally:
            for listener in listeners:
                await trio.aclose_forcefully(listener)
        raise AssertionError("unreachable")  # pragma: no cover

    def _fit_limits_to_descriptors(self) -> None:
        fd_limit = raise_fd_limit()
        limits = ConnectionLimits.fit(self.config, fd_limit)
        self.max_connections = limits.max_connections
        self._pending.limit = limits.max_pending_handshakes
        configured = (self.config.max_connections, self.config.max_pending_handshakes)
        if (limits.max_connections, limits.max_pending_handshakes) != configured:
            log.warning(
                "file descriptor limit too low for the configured connection limits: "
                "lowered to fit (raise `ulimit -n`, the hard limit, to keep them)",
                extra={
                    "fd_limit": fd_limit,
                    "max_connections": limits.max_connections,
                    "max_pending_handshakes": limits.max_pending_handshakes,
                },
            )

    async def _accept_loop(self, listener: trio.SocketListener) -> NoReturn:
        """Accept connections; out of descriptors, retry often and log it once.

        Each connection's handshake is admitted to :attr:`_pending` here, in accept
        order, so the oldest is the first to make room.
        """
        failed_since: float | None = None
        failures = 0
        while True:
            try:
                stream = await listener.accept()
            except OSError as error:
                if error.errno not in OUT_OF_RESOURCES_ERRNOS:
                    raise
                if failed_since is None:
                    failed_since = trio.current_time()
                    log.warning(
                        "cannot accept connections: %s; retrying until descriptors are free",
                        os.strerror(error.errno),
                        extra={"errno": errno.errorcode[error.errno]},
                    )
                failures += 1
                await trio.sleep(ACCEPT_RETRY_SECONDS)
                continue
            if failed_since is not None:
                waited = trio.current_time() - failed_since
                log.warning(
                    "accepting connections again",
                    extra={"after_s": f"{waited:.1f}", "failed_accepts": failures},
                )
                failed_since, failures = None, 0
            self._connections.start_soon(self._serve_peer, stream, self._pending.admit())

    async def _serve_peer(self, stream: trio.SocketStream, handshake: trio.CancelScope) -> None:
        """One TCP peer: its upgrade request within ``handshake``, then its websocket.

        Nothing a peer sends ends more than its own connection: a bad request gets
        an HTTP error, an incomplete one a close at EOF or at the handshake deadline
        (or when a newer peer needs its slot), and any other failure is logged.
        """
        peer = _peer_name(stream)
        try:
            async with trio.open_nursery() as websocket_tasks:
                websocket: WebSocketConnection | None = None
                try:
                    with handshake:
                        websocket = await self._handshake(stream, websocket_tasks, peer)
                finally:
                    self._pending.release(handshake)
                if handshake.cancelled_caught:
                    log.debug(
                        "upgrade request not completed in time or evicted", extra={"peer": peer}
                    )
                if websocket is not None:
                    try:
                        await self._run_websocket(websocket)
                    finally:
                        self.connection_count -= 1
        except Exception:
            log.exception("connection failed", extra={"peer": peer})
        finally:
            await trio.aclose_forcefully(stream)

    async def _handshake(
        self, stream: trio.SocketStream, websocket_tasks: trio.Nursery, peer: str
    ) -> WebSocketConnection | None:
        """Read and check the upgrade request; the open websocket, or None if refused.

        Origin (403), token (401) and connection limit (503) are checked on the
        upgrade request, before it is accepted and before any JSON-RPC. An accepted
        connection is counted in ``connection_count``. A peer that leaves is None too.
        Before all that, a request for another path than ``/`` gets its plain HTTP
        answer (:mod:`.probes`).
        """
        try:
            try:
                request = await receive_upgrade_request(stream)
            except BadUpgradeRequest as error:
                if error.head is not None and await self._answer_plain(stream, error.head, peer):
                    return None
                malformed = Rejection(
                    error.status,
                    f"bad websocket upgrade request: {error.message}",
                    extra_headers=tuple(error.headers),
                )
                await self._refuse(stream, malformed, peer, [])
                return None
            if await self._answer_plain(stream, request.head, peer):
                return None
            rejection = self.policy.check(request.headers)
            limit = self.max_connections
            if rejection is None and self.connection_count >= limit:
                rejection = Rejection(503, f"too many connections (limit {limit})")
            if rejection is not None:
                await self._refuse(stream, rejection, peer, request.headers)
                return None
            self.connection_count += 1
            try:
                return await accept_websocket(
                    websocket_tasks, request, max_message_size=self.config.max_message_bytes
                )
            except BaseException:
                self.connection_count -= 1
                raise
        except TransportClosed as closed:
            log.debug("peer left during the handshake: %s", closed.reason, extra={"peer": peer})
            return None

    async def _answer_plain(self, stream: trio.SocketStream, head: RequestHead, peer: str) -> bool:
        """Answer a request for a path other than the websocket's (see :mod:`.probes`);
        False, sending nothing, for the websocket path."""
        answer = plain_answer(head, self)
        if answer is None:
            return False
        extra = {"peer": peer, "status": answer.status, "target": clip(head.target)}
        if answer.probe:
            log.debug("probe answered", extra=extra)
        else:
            log.warning("handshake refused: %s", answer.body.decode().strip(), extra=extra)
        await refuse_upgrade(stream, answer.status, answer.body, answer.headers)
        return True

    async def _run_websocket(self, websocket: WebSocketConnection) -> None:
        transport = WebSocketTransport(websocket, role="websocket")
        connection = self._connection(transport)
        log.debug("connection from %s", transport.peer)
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._keep_alive, websocket, connection, nursery.cancel_scope)
                await self._run_connection(connection)
                nursery.cancel_scope.cancel()
            if connection.violation or connection.evicted:
                await transport.aclose(POLICY_VIOLATION, connection.close_reason)
            else:
                await transport.aclose()
        except ConnectionClosed:
            pass

    async def _refuse(
        self,
        stream: trio.SocketStream,
        rejection: Rejection,
        peer: str,
        headers: list[tuple[bytes, bytes]],
    ) -> None:
        """Answer the upgrade request with an HTTP error; the offered token is never logged."""
        extra: dict[str, object] = {"peer": peer, "status": rejection.status}
        if rejection.status == 403:
            origins = [value for name, value in headers if name.lower() == b"origin"]
            extra["origin"] = clip(b", ".join(origins))
        log.warning("handshake refused: %s", clip(rejection.message), extra=extra)
        await refuse_upgrade(stream, rejection.status, rejection.body, rejection.headers)

    async def _keep_alive(
        self,
        websocket: WebSocketConnection,
        connection: Connection,
        connection_scope: trio.CancelScope,
    ) -> None:
        """Ping every ``ping_interval``; a peer that misses the pong deadline is gone.

        A half-open TCP connection would otherwise keep its session attached
        forever (DESIGN.md §1.1.3). Ending the connection detaches the session.
        """
        interval, timeout = self.config.ping_interval, self.config.pong_timeout
        if interval <= 0:
            return
        while True:
            await trio.sleep(interval)
            with trio.move_on_after(timeout) as pong_scope:
                try:
                    await websocket.ping()
                except ConnectionClosed:
                    return
            if pong_scope.cancelled_caught:
                connection.close_reason = f"no pong within {timeout:g} s"
                log.info("keepalive failed", extra={"peer": connection.peer})
                connection_scope.cancel()
                return

    async def serve_stdio(
        self, *, task_status: trio.TaskStatus[ExecServer] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Serve the one connection on stdin/stdout; returns at stdin EOF, or once
        :meth:`shutdown` has drained it (or its grace has ended).

        At stdin EOF its session ends with the connection (its processes are
        SIGKILLed, as the reference does): there is no resume over stdio. At
        shutdown the session is left to the shutdown's SIGTERM and grace.
        Raises ``RuntimeError`` once the server is shutting down.
        """
        if self._shutdown_deadline is not None:
            raise RuntimeError("the server is shutting down")
        transport = LineTransport(
            trio.lowlevel.FdStream(os.dup(0)),
            trio.lowlevel.FdStream(os.dup(1)),
            description="JSON-RPC message from exec-server stdio",
            max_message_size=self.config.max_message_bytes,
        )
        connection = self._connection(transport, answer_after_input_ends=True)
        task_status.started(self)
        try:
            with trio.CancelScope() as serving:
                self._grace_bounded.add(serving)
                try:
                    await self._run_connection(connection)
                finally:
                    self._grace_bounded.discard(serving)
        finally:
            session = connection.session
            if session is not None and self._shutdown_deadline is None:
                # The reference kills every process at once at stdin EOF.
                session.close(kill=True)
                with trio.CancelScope(shield=True):
                    await session.ended.wait()
            await transport.aclose()

    def stop_accepting(self) -> None:
        """Phase one of shutdown: close every listener (each :meth:`serve_websocket`
        call returns); connections already accepted go on."""
        self._accepting = False
        for accepting in self._listeners:
            accepting.cancel()

    @property
    def draining(self) -> bool:
        """:meth:`drain` has begun (it may have ended and the shutdown begun)."""
        return not self.admission.open

    def running_processes(self) -> int:
        """Children running now, with starts admitted and still spawning."""
        return sum(
            1
            for session in self.registry.sessions()
            for entry in session.processes.values()
            if entry is STARTING or (isinstance(entry, ManagedProcess) and entry.running)
        )

    def _unsettled(self) -> list[ManagedProcess | None]:
        """What a drain waits for: processes whose ``closed`` is not sent yet (see
        ``ManagedProcess.settled``), and None for each start still spawning."""
        return [
            entry if isinstance(entry, ManagedProcess) else None
            for session in self.registry.sessions()
            for entry in session.processes.values()
            if not (isinstance(entry, ManagedProcess) and entry.settled.is_set())
        ]

    async def drain(
        self,
        seconds: float | None = None,
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> int:
        """Take no new work, let the running processes finish, then :meth:`shutdown`.

        At once (no checkpoint first): ``/readyz`` turns 503 ``draining``, and
        ``initialize`` without ``resumeSessionId`` and ``process/start`` are refused
        (-32600 ``server is draining: ...``). Listeners, connections and sessions
        (attached, and detached within their TTL) go on, so clients can resume and
        read. Once every process has exited and its ``process/closed`` is queued
        for its client (if attached), or after ``seconds`` (default
        ``config.drain_timeout``), or when
        :meth:`shutdown` is called meanwhile, the shutdown begins. Returns how many
        processes were still running then (the shutdown kills them): 0 means the
        drain ended clean. ``started`` once the refusals are in place (with
        ``nursery.start``, :attr:`draining` is true when that returns). Raises
        ``RuntimeError`` if a drain or shutdown has begun.
        """
        if self.draining or self.shutting_down:
            raise RuntimeError("the server is already draining or shutting down")
        self.admission.close("draining")
        seconds = self.config.drain_timeout if seconds is None else seconds
        log.info(
            "draining: not ready; new sessions and process starts are refused",
            extra={"timeout_s": f"{seconds:g}", "running": self.running_processes()},
        )
        task_status.started()
        with trio.move_on_after(seconds) as self._drain_scope:
            while unsettled := self._unsettled():
                if unsettled[0] is not None:
                    await unsettled[0].settled.wait()
                else:  # admitted before the gate closed, still spawning
                    await trio.sleep(STARTING_POLL_SECONDS)
        cut = self.running_processes()
        if cut:
            log.warning("drain ended with processes running: they are cut", extra={"cut": cut})
        else:
            log.info("drain complete: no process running")
        self.shutdown()
        return cut

    def shutdown(self) -> None:
        """Shut down gracefully; a second call does nothing.

        Phase one: :meth:`stop_accepting`, and pending upgrade requests are
        dropped. Phase two, until ``config.shutdown_grace`` from now: every
        connection reads no more requests, answers those in flight, flushes its
        queued messages and closes (:meth:`serve_stdio` returns); every running
        child gets SIGTERM (its group and descendants). Leaving
        :func:`open_server`'s block (``serve`` does once its listener returns)
        waits for this, up to the deadline; then what is left is cancelled and
        every child still running is SIGKILLed and reaped.
        """
        if self._shutdown_deadline is not None:
            return
        if self._drain_scope is not None:
            self._drain_scope.cancel()  # drain() returns, counting what is cut
        grace = self.config.shutdown_grace
        log.info("shutting down", extra={"grace_s": f"{grace:g}"})
        self._shutdown_deadline = deadline = trio.current_time() + grace
        self.stop_accepting()
        self._pending.cancel_all()
        for scope in self._grace_bounded:
            scope.deadline = min(scope.deadline, deadline)
        for connection in self._live:
            connection.drain()
        self._terminate_children()

    @property
    def shutting_down(self) -> bool:
        """:meth:`shutdown` has been called."""
        return self._shutdown_deadline is not None

    def _running_children(self) -> list[ManagedProcess]:
        return [
            entry
            for session in self.registry.sessions()
            for entry in session.processes.values()
            if isinstance(entry, ManagedProcess) and entry.running
        ]

    def _terminate_children(self) -> None:
        """SIGTERM, once, to every running child not sent it yet."""
        for child in self._running_children():
            if child not in self._terminated:
                self._terminated.add(child)
                child.signal_contained(signal.SIGTERM)

    async def _end_sessions(self) -> None:
        """The end of phase two, once the connections are gone: wait for the children
        to exit on SIGTERM, until the deadline; then SIGKILL the rest and end every
        session (its supervisors reap the children)."""
        assert self._shutdown_deadline is not None
        self._terminate_children()  # any started by requests answered during the grace
        with trio.move_on_at(self._shutdown_deadline):
            for child in self._running_children():
                await child.wait_exited()
        for session in self.registry.sessions():
            session.close(kill=True)


@asynccontextmanager
async def open_server(config: ServerConfig | None = None) -> AsyncIterator[ExecServer]:
    """Run a server's nurseries for the duration of the block.

    Start listeners with ``await nursery.start(server.serve_websocket, host, port)``
    inside the block, or use :func:`serve`. Leaving the block shuts down in two
    phases (see :meth:`ExecServer.shutdown`; call that to end the listeners and
    begin the grace while still inside). Leaving it by an exception or a
    cancellation shuts down at once instead. Either way this returns only when
    every child process is reaped.
    """
    config = config or ServerConfig()
    policy = HandshakePolicy.from_config(config)  # ConfigError before anything starts
    async with trio.open_nursery() as holding:
        registry = SessionRegistry(
            holding, ttl=config.session_ttl, max_sessions=config.max_sessions
        )
        async with trio.open_nursery() as connections:
            server = ExecServer(config, registry, connections, policy=policy)
            yield server
            server.shutdown()
        await server._end_sessions()
        holding.cancel_scope.cancel()


def _peer_name(stream: trio.SocketStream) -> str:
    try:
        host, port, *_ = stream.socket.getpeername()
    except OSError:  # already reset
        return "unknown"
    return f"{host}:{port}"


async def serve(
    listen: str | None = None,
    *,
    config: ServerConfig | None = None,
    task_status: trio.TaskStatus[ExecServer] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``listen`` until cancelled (or, for ``stdio``, until stdin EOF).

    ``await nursery.start(execsrv.serve, "ws://127.0.0.1:0")`` returns the
    :class:`ExecServer` once it is listening (its ``url`` has the real port).
    ``nursery.start`` passes positional arguments only, so give a ``config``
    with :func:`functools.partial`:
    ``await nursery.start(partial(execsrv.serve, config=config))``.
    ``listen`` defaults to ``config.listen``; given, it replaces it.
    :meth:`ExecServer.shutdown` ends it in two phases (a websocket listener
    returns at once, then the grace runs); cancellation ends it at once. Every
    child is gone when this returns.

    Raises :class:`~.security.ConfigError` before binding when the config is
    refused (a non-loopback listen without a token, an unreadable or empty
    token file, a malformed ``allow_origin``).
    """
    config = config or ServerConfig()
    if listen is not None:
        config = replace(config, listen=listen)
    address = parse_listen(config.listen)
    if not address.stdio:
        require_auth_off_loopback(address.host, address.port, config)
    async with open_server(config) as server:
        if address.stdio:
            await server.serve_stdio(task_status=task_status)
        else:
            await server.serve_websocket(address.host, address.port, task_status=task_status)
