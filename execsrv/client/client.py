"""The trio client: calls matched by id, notifications routed by process.

One reader task owns the transport's receive side. It resolves pending calls
and feeds each process's :class:`~.events.ProcessEventStream`. When the
transport ends, every pending call and every later call raises
:class:`~.errors.Disconnected`, and event streams end with a ``Failed``
event: nothing hangs.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Final, TypeVar

import msgspec
import trio

from ..logs import clip
from ..protocol import jsonrpc
from ..protocol import process as p
from ..protocol.methods import (
    HTTP_BODY_DELTA,
    INITIALIZE,
    PROCESS_CLOSE_STDIN,
    PROCESS_CLOSED,
    PROCESS_EXITED,
    PROCESS_LIST,
    PROCESS_OUTPUT,
    PROCESS_READ,
    PROCESS_RESIZE,
    PROCESS_SIGNAL,
    PROCESS_START,
    PROCESS_TERMINATE,
    PROCESS_WRITE,
    Method,
)
from ..protocol.session import InitializeParams
from ..protocol.wire import Params, Payload
from ..transport import MessageTransport, TransportClosed, WebSocketTransport
from ..transport.websocket import RECEIVE_BUFFER_BYTES, HandshakeError
from .auth import authorization_header
from .dial import dial_websocket
from .errors import AuthenticationFailed, Disconnected, RemoteError
from .events import Closed, Exited, Output, ProcessEventStream
from .fs import RemoteFileSystem
from .http import HttpBodyStream, RemoteHttp, fail_streams
from .process import RemoteProcess
from .unwrap import unwrap_exception_groups

__all__ = ["CONNECT_SECONDS", "Client", "connect", "running_client"]

log = logging.getLogger("execsrv.client")

P = TypeVar("P", bound=Params)
R = TypeVar("R", bound=Payload)

CONNECT_SECONDS: Final = 10.0
"""Limit on the websocket and ``initialize`` handshake (as the reference's client)."""

RESUME_WITHIN_SECONDS: Final = 30.0
"""How long ``auto_resume`` keeps re-dialling (execsrv's default session TTL)."""

FIRST_RETRY_SECONDS: Final = 0.05
MAX_RETRY_SECONDS: Final = 2.0

MAX_INBOUND_MESSAGE: Final = 1 << 30
"""The server's messages are not limited by the reference; we accept up to 1 GiB."""

_encoder: Final = msgspec.json.Encoder()


Dialer = Callable[[], Awaitable[MessageTransport]]


class _PendingCall:
    __slots__ = ("done", "error", "result")

    def __init__(self) -> None:
        self.done = trio.Event()
        self.result: msgspec.Raw | None = None
        self.error: Exception | None = None


class Client:
    """A connection to an exec-server with an initialized session.

    Get one from :func:`connect`. Methods may be called from many tasks at
    once. Cancelling a call abandons it (its late reply is ignored).
    """

    def __init__(self, transport: MessageTransport, *, client_name: str) -> None:
        self._transport = transport
        self._client_name = client_name
        self._ids = itertools.count(1)
        self._pending: dict[jsonrpc.RequestId, _PendingCall] = {}
        self._streams: dict[str, ProcessEventStream] = {}
        self._send_lock = trio.Lock()
        self._outage: Disconnected | None = None  # transport lost, maybe resuming
        self._disconnected: Disconnected | None = None  # for good
        self._transport_lost = trio.Event()
        self._reconnected = trio.Event()  # set (and replaced) when an outage ends
        self._process_ids = itertools.count(1)
        self.session_id = ""
        self.resumes = 0
        """How many times the session was resumed on a new connection."""
        self._http_streams: dict[str, HttpBodyStream] = {}
        self.http = RemoteHttp(self)
        """HTTP requests made by the server: ``await client.http.request("GET", url)``."""
        self.fs = RemoteFileSystem(self)
        """The server's file system: ``await client.fs.read_file(path)`` and the other ``fs/*``."""

    # -- plumbing -----------------------------------------------------------

    @property
    def disconnected(self) -> Disconnected | None:
        """The error every call raises once the transport is gone for good, else None."""
        return self._disconnected

    async def wait_connected(self) -> None:
        """Return once the client has a working connection (at once if it has one).

        Raises :class:`Disconnected` if the connection is gone for good.
        """
        while self._disconnected is None and self._outage is not None:
            await self._reconnected.wait()
        if self._disconnected is not None:
            raise self._disconnected

    async def call(self, method: Method[P, R], params: P) -> R:
        """Send a request and wait for its result, decoded as ``method`` says.

        Raises:
            RemoteError: the server answered with an error.
            Disconnected: the transport is gone (before or during the call).
                With ``auto_resume``, calls made after a successful resume work again.
        """
        unavailable = self._disconnected or self._outage
        if unavailable is not None:
            raise unavailable
        return await self._call(method, params)

    async def _call(self, method: Method[P, R], params: P) -> R:
        transport = self._transport
        request_id = next(self._ids)
        pending = _PendingCall()
        self._pending[request_id] = pending
        try:
            message = _encoder.encode(
                jsonrpc.Request(id=request_id, method=method.name, params=params)
            )
            try:
                async with self._send_lock:
                    await transport.send_messages([message])
            except TransportClosed as error:
                self._lose(transport, error.reason)
            await pending.done.wait()
        finally:
            del self._pending[request_id]
        if pending.error is not None:
            raise pending.error
        assert pending.result is not None
        return method.result_decoder.decode(pending.result)

    def _lose(self, transport: MessageTransport, reason: str) -> None:
        """``transport`` is gone: fail the calls waiting on it (during a resume, the
        handshake's own calls, so the next attempt starts at once)."""
        if transport is not self._transport or self._transport_lost.is_set():
            return
        self._transport_lost.set()
        lost = Disconnected(reason)
        for pending in self._pending.values():
            pending.error = lost
            pending.done.set()
        if self._outage is None:
            self._outage = lost
            fail_streams(list(self._http_streams.values()), reason)  # they die with it

    def _disconnect(self, reason: str) -> None:
        """Give up: every later call raises, event streams end with ``Failed``."""
        if self._disconnected is not None:
            return
        self._disconnected = Disconnected(reason)
        for pending in self._pending.values():
            pending.error = self._disconnected
            pending.done.set()
        for stream in self._streams.values():
            stream.fail(reason)
        fail_streams(list(self._http_streams.values()), reason)
        self._reconnected.set()

    async def _read_loop(self, transport: MessageTransport) -> None:
        try:
            while True:
                self._route(jsonrpc.decode_message(await transport.receive_message()))
        except TransportClosed as error:
            self._lose(transport, error.reason)
        except msgspec.ValidationError as error:
            self._lose(transport, f"exec-server notification handling failed: {error}")
            await transport.aclose()

    async def _supervise(self, nursery: trio.Nursery, dial: Dialer | None) -> None:
        """Watch the transport; re-dial and resume when it drops (``auto_resume``)."""
        while True:
            await self._transport_lost.wait()
            assert self._outage is not None
            if dial is None or self._disconnected is not None:
                self._disconnect(self._outage.reason)
                return
            log.info("connection lost (%s); resuming session", clip(self._outage.reason))
            try:
                await self._resume(nursery, dial)
            except Disconnected as error:
                self._disconnect(error.reason)
                return

    async def _resume(self, nursery: trio.Nursery, dial: Dialer) -> None:
        """Re-dial with backoff, ``initialize`` with our session id, catch streams up."""
        last_error = self._outage.reason if self._outage else "connection lost"
        delay = FIRST_RETRY_SECONDS
        with trio.move_on_after(RESUME_WITHIN_SECONDS):
            while True:
                try:
                    with trio.fail_after(CONNECT_SECONDS):
                        await self._attach(nursery, await dial())
                        await self._handshake(self.session_id)
                    break
                except RemoteError as error:  # e.g. the session expired: final
                    raise Disconnected(f"could not resume session: {error.message}") from None
                except AuthenticationFailed:  # the same credentials cannot succeed later
                    raise
                except (Disconnected, trio.TooSlowError) as error:
                    last_error = str(error)
                await trio.sleep(delay)
                delay = min(delay * 2, MAX_RETRY_SECONDS)
        if self._outage is not None:
            raise Disconnected(f"could not resume within {RESUME_WITHIN_SECONDS:g} s: {last_error}")
        self.resumes += 1
        for stream in self._streams.values():
            stream.recover()
        self._reconnected.set()
        self._reconnected = trio.Event()

    async def _attach(self, nursery: trio.Nursery, transport: MessageTransport) -> None:
        """Make ``transport`` current and start reading it."""
        old, self._transport = self._transport, transport
        await old.aclose()
        self._transport_lost = trio.Event()
        nursery.start_soon(self._read_loop, transport)

    def _route(self, message: jsonrpc.Message | jsonrpc.MalformedMessage) -> None:
        match message:
            case jsonrpc.IncomingResponse(id=request_id, result=result):
                pending = self._pending.get(request_id)
                if pending is not None:
                    pending.result = result
                    pending.done.set()
            case jsonrpc.IncomingError(id=request_id, error=error):
                pending = self._pending.get(request_id)
                if pending is not None:
                    pending.error = RemoteError(error.code, error.message)
                    pending.done.set()
            case jsonrpc.IncomingNotification(method=method, params=params) if params:
                self._route_notification(method, params)
            case _:
                log.debug("ignored message from server: %s", clip(repr(message)))

    def _route_notification(self, method: str, params: msgspec.Raw) -> None:
        if method == PROCESS_OUTPUT.name:
            output = PROCESS_OUTPUT.decode(params)
            target = self._streams.get(output.process_id)
            if target is not None:
                target.feed(output.seq, Output(output.seq, output.stream, output.chunk))
        elif method == PROCESS_EXITED.name:
            exited = PROCESS_EXITED.decode(params)
            target = self._streams.get(exited.process_id)
            if target is not None:
                target.feed(exited.seq, Exited(exited.seq, exited.exit_code, exited.signal))
        elif method == PROCESS_CLOSED.name:
            closed = PROCESS_CLOSED.decode(params)
            target = self._streams.get(closed.process_id)
            if target is not None:
                target.feed(closed.seq, Closed(closed.seq))
        elif method == HTTP_BODY_DELTA.name:
            delta = HTTP_BODY_DELTA.decode(params)
            body = self._http_streams.get(delta.request_id)
            if body is not None:
                body.feed(delta)

    def _forget_stream(self, process_id: str, stream: ProcessEventStream) -> None:
        """``stream`` has all its events: stop routing to it and recovering it."""
        if self._streams.get(process_id) is stream:
            del self._streams[process_id]

    def _open_http_stream(self, request_id: str) -> HttpBodyStream:
        """Route ``request_id``'s body frames to a new stream (before the request is sent)."""
        stream = HttpBodyStream(request_id, self)
        self._http_streams[request_id] = stream
        return stream

    def _forget_http_stream(self, stream: HttpBodyStream) -> None:
        if self._http_streams.get(stream.request_id) is stream:
            del self._http_streams[stream.request_id]

    async def _handshake(self, resume_session_id: str | None) -> None:
        """``initialize`` (resuming if asked) then ``initialized``; clears an outage."""
        transport = self._transport
        params = InitializeParams(
            client_name=self._client_name, resume_session_id=resume_session_id
        )
        response = await self._call(INITIALIZE, params)
        self.session_id = response.session_id
        message = _encoder.encode(jsonrpc.Notification(method="initialized", params={}))
        try:
            async with self._send_lock:
                await transport.send_messages([message])
        except TransportClosed as error:
            self._lose(transport, error.reason)
            raise Disconnected(error.reason) from None
        if transport is not self._transport or self._transport_lost.is_set():
            raise Disconnected(self._outage.reason if self._outage else "connection lost")
        self._outage = None

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
        """``process/start``. Returns a handle whose :meth:`~RemoteProcess.events` stream
        sees every event of the process, including those sent before the reply.

        ``env`` is the child's *exact* environment (nothing is inherited) unless
        ``env_policy`` says otherwise; ``timeout_ms`` and ``pty_size`` are execsrv
        extensions.
        """
        process_id = process_id if process_id is not None else f"proc-{next(self._process_ids)}"
        handle = RemoteProcess(self, process_id)
        # Route events before the reply (output may precede it), but never take the
        # route of a live process with the same id: the server refuses the duplicate.
        live = self._streams.get(process_id)
        if live is None:
            self._streams[process_id] = handle.stream
        params = p.ExecParams(
            process_id=process_id,
            argv=list(argv),
            cwd=cwd,
            env=dict(env or {}),
            tty=tty,
            pipe_stdin=pipe_stdin,
            arg0=arg0,
            env_policy=env_policy,
            timeout_ms=timeout_ms,
            pty_size=p.PtySize(rows=pty_size[0], cols=pty_size[1]) if pty_size else None,
        )
        try:
            await self.call(PROCESS_START, params)
        except BaseException:
            if live is None and self._streams.get(process_id) is handle.stream:
                del self._streams[process_id]
            raise
        if not handle.stream.complete:  # else it closed before the reply
            self._streams[process_id] = handle.stream
        return handle

    async def read_process(
        self,
        process_id: str,
        *,
        after_seq: int | None = None,
        max_bytes: int | None = None,
        wait_ms: int | None = None,
    ) -> p.ReadResponse:
        """``process/read``: retained output after ``after_seq``; long-polls ``wait_ms``."""
        params = p.ReadParams(
            process_id=process_id, after_seq=after_seq, max_bytes=max_bytes, wait_ms=wait_ms
        )
        return await self.call(PROCESS_READ, params)

    async def write_process(self, process_id: str, data: bytes) -> p.WriteStatus:
        params = p.WriteParams(process_id=process_id, chunk=data)
        return (await self.call(PROCESS_WRITE, params)).status

    async def terminate_process(self, process_id: str) -> bool:
        """SIGKILL the process group; True if it was still running."""
        params = p.TerminateParams(process_id=process_id)
        return (await self.call(PROCESS_TERMINATE, params)).running

    async def signal_process(self, process_id: str, signal: p.SignalName) -> None:
        """Extension: deliver ``signal`` to the process group."""
        await self.call(PROCESS_SIGNAL, p.SignalParams(process_id=process_id, signal=signal))

    async def resize_process(self, process_id: str, rows: int, cols: int) -> None:
        """Extension: resize a PTY process's terminal."""
        params = p.ResizeParams(process_id=process_id, rows=rows, cols=cols)
        await self.call(PROCESS_RESIZE, params)

    async def close_stdin(self, process_id: str) -> p.WriteStatus:
        """Extension: EOF on the process's stdin."""
        params = p.CloseStdinParams(process_id=process_id)
        return (await self.call(PROCESS_CLOSE_STDIN, params)).status

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

    Works against execsrv and against codex exec-server 0.130.0. The websocket
    connect and ``initialize`` are limited to :data:`CONNECT_SECONDS`.

    With ``auto_resume``, a dropped connection is re-dialled with backoff and
    the session resumed (for up to :data:`RESUME_WITHIN_SECONDS`): calls in
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
            nursery, transport, client_name=client_name, dial=dial if auto_resume else None
        ) as client:
            with trio.fail_after(CONNECT_SECONDS):
                await client._handshake(resume_session_id)
            yield client


@asynccontextmanager
async def running_client(
    nursery: trio.Nursery, transport: MessageTransport, *, client_name: str, dial: Dialer | None
) -> AsyncIterator[Client]:
    """A :class:`Client` on ``transport``, its reader and supervisor in ``nursery``.

    Shared by :func:`connect` and ``connect_stdio``; the caller does the handshake.
    On exit the client is disconnected for good, the transport closed (at once,
    without a goodbye, when cancelled) and ``nursery`` cancelled.
    """
    client = Client(transport, client_name=client_name)
    nursery.start_soon(client._read_loop, transport)
    nursery.start_soon(client._supervise, nursery, dial)
    graceful = False
    try:
        yield client
        graceful = True
    except Exception:
        graceful = True  # the caller's error: the connection itself is fine
        raise
    finally:
        client._disconnect("client closed")  # no re-dial from here on
        with trio.CancelScope(shield=True):
            if graceful:
                await client._transport.aclose()
            else:  # cancelled: our reader is being cancelled too, so no handshake
                await client._transport.abort()
        nursery.cancel_scope.cancel()
