"""The trio client: the process, file and HTTP APIs over a resumable session.

Layers, each importing only the ones below it:

- :mod:`.peer`: one transport's JSON-RPC (calls matched by id, one reader,
  error answers mapped to exceptions);
- :mod:`.router`: notifications to process event streams and HTTP body streams;
- :mod:`.supervisor`: the handshake, and re-dial + resume when the peer is lost;
- :mod:`.process`, :mod:`.fs`, :mod:`.http`: the APIs, each a call by constant;
- this module: :class:`Client`, which puts them together, and :func:`connect`.

When the transport ends, every pending call and every later call raises
:class:`~.errors.Disconnected`, and event streams end with a ``Failed`` event:
nothing hangs.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Final, TypeVar

import trio

from ..protocol import discovery as d
from ..protocol import environment as e
from ..protocol import process as p
from ..protocol.errors import INVALID_PARAMS
from ..protocol.generation import Generation
from ..protocol.methods import (
    CAPABILITIES_DISCOVER_V2,
    CAPABILITY_ROOTS_DISCOVER,
    ENVIRONMENT_INFO,
    ENVIRONMENT_STATUS,
    PROCESS_LIST,
    Method,
)
from ..protocol.paths import NOT_A_URI, format_path
from ..protocol.wire import Params, Payload
from ..transport import MessageTransport, WebSocketTransport
from ..transport.websocket import RECEIVE_BUFFER_BYTES, HandshakeError
from .auth import authorization_header
from .dial import dial_websocket
from .errors import Disconnected, client_error
from .fs import RemoteFileSystem
from .http import RemoteHttp
from .process import RemoteProcess
from .router import NotificationRouter
from .supervisor import CONNECT_SECONDS, Dialer, ResumeSupervisor
from .unwrap import unwrap_exception_groups

__all__ = ["CONNECT_SECONDS", "MAX_INBOUND_MESSAGE", "Client", "connect", "running_client"]

P = TypeVar("P", bound=Params)
R = TypeVar("R", bound=Payload)

MAX_INBOUND_MESSAGE: Final = 1 << 30
"""The server's messages are not limited by the reference; we accept up to 1 GiB."""


class Client:
    """A connection to an exec-server with an initialized session.

    Get one from :func:`connect` or :func:`~.stdio.connect_stdio`. Methods may be
    called from many tasks at once. Cancelling a call abandons it (its late
    reply is ignored).

    It speaks the server's protocol generation (:attr:`generation`, learned from
    the ``initialize`` result): paths go out as plain paths to a 0.130 server and
    as ``file://`` URIs to a 0.171 one, and come back as host paths either way.
    """

    def __init__(self, supervisor: ResumeSupervisor, router: NotificationRouter) -> None:
        self._supervisor = supervisor
        self._router = router
        self._process_ids = itertools.count(1)
        self.http = RemoteHttp(self, router)
        """HTTP requests made by the server: ``await client.http.request("GET", url)``."""
        self.fs = RemoteFileSystem(self, router)
        """The server's file system: ``await client.fs.read_file(path)`` and the other ``fs/*``."""

    async def call(self, method: Method[P, R], params: P) -> R:
        """Send a request and wait for its result, decoded as ``method`` says.

        Raises:
            RemoteError: the server answered with an error (``FileNotFound`` for
                ``-32004``).
            Disconnected: the transport is gone (before or during the call).
                With ``auto_resume``, calls made after a successful resume work again.
        """
        return await self._supervisor.live_peer().call(method, params)

    # -- the session's connection -----------------------------------------------

    @property
    def session_id(self) -> str:
        return self._supervisor.session_id

    @property
    def initial_environment_info(self) -> e.EnvironmentInfo | None:
        """``environmentInfo`` from the last ``initialize`` result (None when the server
        sends none, as codex 0.130 does); :meth:`environment_info` asks anew."""
        return self._supervisor.environment_info

    @property
    def generation(self) -> Generation:
        """The codex protocol generation the server speaks: 0.171 when its ``initialize``
        result carries ``environmentInfo``, else 0.130."""
        return self._supervisor.generation

    def wire_path(self, path: str | bytes) -> str:
        """An absolute host path on the server as the server's generation writes it
        (plain, or a ``file://`` URI). A relative path cannot be a URI: to a 0.171
        server it raises the :class:`RemoteError` that server answers for one
        (``-32602``), without sending anything."""
        try:
            return format_path(path, self.generation.path_form)
        except ValueError:
            raise client_error(INVALID_PARAMS, NOT_A_URI) from None

    @property
    def resumes(self) -> int:
        """How many times the session was resumed on a new connection."""
        return self._supervisor.resumes

    @property
    def disconnected(self) -> Disconnected | None:
        """The error every call raises once the transport is gone for good, else None."""
        return self._supervisor.gone

    async def wait_connected(self) -> None:
        """Return once the client has a working connection (at once if it has one).

        Raises :class:`Disconnected` if the connection is gone for good.
        """
        await self._supervisor.wait_connected()

    async def wait_resumed(self, count: int = 1) -> None:
        """Return once the session has been resumed ``count`` times since
        :func:`connect` (at once if it has been).

        Raises :class:`Disconnected` if the client gives up first (no
        ``auto_resume``, the resume window passed, a 401, …).
        """
        await self._supervisor.wait_resumed(count)

    # -- the environment (codex 0.171) ------------------------------------------

    async def environment_info(self) -> e.EnvironmentInfo:
        """``environment/info``: the server's shell, directories, version and capabilities.

        Raises ``RemoteError`` (``-32601``) from a server without it (codex 0.130).
        """
        return await self.call(ENVIRONMENT_INFO, e.EnvironmentInfoParams())

    async def environment_status(self) -> e.EnvironmentStatusResponse:
        """``environment/status``: ``status == "ready"`` while the connection serves."""
        return await self.call(ENVIRONMENT_STATUS, e.EnvironmentInfoParams())

    async def discover_capabilities(self, cwd: str) -> d.DiscoverV2CapabilitiesResponse:
        """``capabilities/discoverV2``: the skills installed on the server's host.

        ``cwd`` is a host path on the server, sent in the server's form (see
        :meth:`wire_path`); result paths come in that form too.
        """
        params = d.DiscoverV2CapabilitiesParams(cwd=self.wire_path(cwd))
        return await self.call(CAPABILITIES_DISCOVER_V2, params)

    async def discover_capability_roots(
        self, roots: Mapping[str, str]
    ) -> list[d.CapabilityRootDiscovery]:
        """``capabilityRoots/discoverV1``: the skill and plugin files under each root
        (``{id: host path}``, at most 128), in the mapping's order; paths are sent
        and returned as :meth:`discover_capabilities` says. A root that cannot be
        scanned has ``error`` set; the call does not fail for it."""
        requests = [
            d.CapabilityRootDiscoverRequest(id=id, path=self.wire_path(path))
            for id, path in roots.items()
        ]
        params = d.CapabilityRootsDiscoverParams(roots=requests)
        return (await self.call(CAPABILITY_ROOTS_DISCOVER, params)).roots

    # -- processes ------------------------------------------------------------

    async def start_process(
        self,
        argv: Sequence[str],
        *,
        process_id: str | None = None,
        cwd: str = "/",
        env: Mapping[str, str] | None = None,
        tty: bool = False,
        pipe_stdin: bool = False,
        arg0: str | None = None,
        env_policy: p.EnvPolicy | None = None,
        timeout_ms: int | None = None,
        pty_size: tuple[int, int] | None = None,
    ) -> RemoteProcess:
        """``process/start``. Returns a handle whose :attr:`~RemoteProcess.events` see
        every event of the process, including those sent before the reply.

        ``cwd`` is a host path on the server (relative ones only for a 0.130
        server: see :meth:`wire_path`). ``env`` is the child's *exact*
        environment (nothing is inherited) unless ``env_policy`` says otherwise;
        ``timeout_ms`` and ``pty_size`` are execsrv extensions.
        """
        params = p.ExecParams(
            process_id=process_id if process_id is not None else f"proc-{next(self._process_ids)}",
            argv=list(argv),
            cwd=self.wire_path(cwd),
            env=dict(env or {}),
            tty=tty,
            pipe_stdin=pipe_stdin,
            arg0=arg0,
            env_policy=env_policy,
            timeout_ms=timeout_ms,
            pty_size=p.PtySize(rows=pty_size[0], cols=pty_size[1]) if pty_size else None,
        )
        return await RemoteProcess.start(self, self._router, params)

    async def list_processes(self) -> list[p.ProcessInfo]:
        """Extension: the session's processes."""
        return (await self.call(PROCESS_LIST, p.ListParams())).processes


@unwrap_exception_groups
@asynccontextmanager
async def connect(
    url: str,
    *,
    client_name: str = "execsrv-client",
    resume_session_id: str | None = None,
    auto_resume: bool = False,
    token: str | None = None,
) -> AsyncIterator[Client]:
    """Connect to an exec-server over websocket and complete the handshake.

    Works against execsrv and against codex exec-server 0.130.0 and 0.171.0,
    speaking the generation the server's ``initialize`` result shows
    (:attr:`Client.generation`). The websocket connect and ``initialize`` are
    limited to :data:`CONNECT_SECONDS`.

    With ``auto_resume``, a dropped connection is re-dialled with backoff and
    the session resumed (for up to :data:`~.supervisor.RESUME_WITHIN_SECONDS`, or
    :data:`~.supervisor.RESUME_WITHIN_SECONDS_0_171` with a 0.171 server): calls in
    flight fail with :class:`Disconnected`, later calls work again, and each
    process event stream re-reads what it missed, so it sees every seq exactly
    once (or a :class:`~.events.Gap` where retention already dropped output).
    Without it, the first drop is final.

    ``token`` is sent as ``Authorization: Bearer <token>`` on the websocket
    handshake (servers started with ``--auth-token-file``); command-line tools
    take it from ``$EXECSRV_TOKEN`` with :func:`~.auth.token_from_env`.

    Raises:
        AuthenticationFailed: the server answered the handshake with HTTP 401
            (missing or wrong token) or 403 (``Origin`` not allowed).
        HandshakeRejected: another HTTP refusal, e.g. 503 at its connection limit.
        Disconnected: could not connect, or the handshake failed on the wire.
        ValueError: ``token`` is not printable ASCII without spaces.
        RemoteError: the server refused ``initialize`` (e.g. unknown session id).
    """
    headers = [] if token is None else [authorization_header(token)]
    async with trio.open_nursery() as nursery:

        async def dial() -> MessageTransport:
            try:
                websocket = await dial_websocket(
                    nursery,
                    url,
                    extra_headers=headers,
                    max_message_size=MAX_INBOUND_MESSAGE,
                    receive_buffer_size=RECEIVE_BUFFER_BYTES,
                )
            except (OSError, HandshakeError) as error:
                raise Disconnected(f"could not connect to {url}: {error}") from None
            return WebSocketTransport(websocket, role="client")

        try:
            with trio.fail_after(CONNECT_SECONDS):
                transport = await dial()
        except trio.TooSlowError:
            raise Disconnected(f"timed out connecting to {url}") from None
        async with running_client(
            nursery,
            transport,
            client_name=client_name,
            server_name=url,
            resume_session_id=resume_session_id,
            dial=dial if auto_resume else None,
        ) as client:
            yield client


@asynccontextmanager
async def running_client(
    nursery: trio.Nursery,
    transport: MessageTransport,
    *,
    client_name: str,
    server_name: str,
    resume_session_id: str | None = None,
    dial: Dialer | None,
) -> AsyncIterator[Client]:
    """A :class:`Client` on ``transport`` after the handshake (limited to
    :data:`CONNECT_SECONDS`), its reader and supervisor in ``nursery``.

    Shared by :func:`connect` and ``connect_stdio``; ``server_name`` names the
    server in a timeout's message. On exit the client is disconnected for good,
    the transport closed (at once, without a goodbye, when cancelled) and
    ``nursery`` cancelled.

    Raises:
        Disconnected: the handshake timed out or the connection was lost.
        RemoteError: the server refused ``initialize``.
    """
    router = NotificationRouter()
    supervisor = ResumeSupervisor(transport, router, client_name=client_name, dial=dial)
    nursery.start_soon(supervisor.supervise, nursery)
    graceful = False
    try:
        try:
            with trio.fail_after(CONNECT_SECONDS):
                await supervisor.handshake(resume_session_id)
        except trio.TooSlowError:
            raise Disconnected(
                f"timed out waiting for the initialize handshake of {server_name}"
            ) from None
        yield Client(supervisor, router)
        graceful = True
    except Exception:
        graceful = True  # the caller's error: the connection itself is fine
        raise
    finally:
        with trio.CancelScope(shield=True):
            # Cancelled: our reader is being cancelled too, so no closing handshake.
            await supervisor.aclose(abort=not graceful)
        nursery.cancel_scope.cancel()
