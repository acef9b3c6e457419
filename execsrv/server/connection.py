"""One JSON-RPC connection: handshake, dispatch, outbound queue.

The reader decodes messages in arrival order and applies the handshake
rules synchronously (so pipelined ``initialize`` + ``initialized`` + calls
work as with the reference). Each request then runs in its own task in the
connection's nursery, or in the reader when its route says it will not wait
this time: a long poll never holds up other requests. What to run for a method,
and how to schedule it, comes from its route (:mod:`.routes`).
Responses and notifications go through one bounded outbound queue drained by
a writer task; a slow peer therefore slows the producers (backpressure),
never grows memory without bound.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final, TypeVar

import msgspec
import trio

from ..logs import clip
from ..protocol import jsonrpc
from ..protocol.errors import (
    INTERNAL_ERROR,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    MalformedParams,
    RpcError,
)
from ..protocol.framing import MessageTooLarge
from ..protocol.generation import Generation
from ..protocol.methods import INITIALIZE, INITIALIZED, Method, NotificationMethod
from ..protocol.session import InitializeParams, InitializeResponse
from ..protocol.wire import Payload
from ..transport import MessageTransport, TransportClosed
from .call import Call, no_effect
from .environment_api import environment_info
from .errors import DOMAIN_ERRORS, rpc_error
from .lanes import Ticket
from .metrics import Metrics
from .routes import Route, RouteTable
from .session import Session, SessionRegistry, short_id
from .tracing import TRACING, RpcSpan

__all__ = ["OUTBOUND_QUEUE_SIZE", "Connection"]

log = logging.getLogger("execsrv.connection")

N = TypeVar("N", bound=Payload)

OUTBOUND_QUEUE_SIZE: Final = 128
"""Messages waiting for the writer (the reference's channel capacity)."""

WRITE_BATCH_BYTES: Final = 1 << 20
"""The writer stops adding encoded messages to a batch past this many bytes."""

EVICTION_GRACE: Final = 1.0
"""Seconds an evicted connection's in-flight requests get to answer before it closes."""

RESUMED_ELSEWHERE: Final = "session has been resumed by another connection"

UNANSWERED_REQUEST_BYTES: Final = 8 << 20
"""Bytes of request input (a route's ``held_bytes``: stdin chunks) a connection may
have waiting for their answer (e.g. queued for a child that does not read its stdin).
A request that would go past it (unless nothing is waiting) stops the reader until
enough are answered: pipelined requests cannot grow memory, at the price of the
requests behind them waiting too."""

MAX_IN_FLIGHT_REQUESTS: Final = 1024
"""Requests running at once per connection; beyond it the reader waits."""


class CloseConnection(Exception):
    """The peer broke a rule that ends the connection (reference behaviour)."""


class Connection:
    """Serve one peer until it goes away or breaks a closing rule.

    A method-agnostic JSON-RPC engine: it serves the handshake itself and every
    other method through its :class:`~.routes.Route`, scheduled by the route's
    facts (inline, long poll, lane, held bytes). It is the :class:`~.call.Peer`
    its handlers get. The connection never owns the session: on exit it detaches,
    and the session's TTL starts.
    """

    def __init__(
        self,
        transport: MessageTransport,
        registry: SessionRegistry,
        routes: RouteTable,
        *,
        answer_after_input_ends: bool = False,
        metrics: Metrics | None = None,
    ) -> None:
        self._transport = transport
        self._metrics = metrics if metrics is not None else Metrics()
        self._answer_after_input_ends = answer_after_input_ends
        self._registry = registry
        self._routes = routes
        # Queued messages stay unencoded until the writer takes them: an output
        # notification then costs nothing extra while it waits (its bytes are the
        # retained chunk), where the encoded base64 copy would cost 1.33x its size.
        # Each with the event to set once it is written, if its sender waits for that.
        self._send_channel, self._receive_channel = trio.open_memory_channel[
            tuple[object, trio.Event | None]
        ](OUTBOUND_QUEUE_SIZE)
        self._in_flight = trio.Semaphore(MAX_IN_FLIGHT_REQUESTS)
        self._unanswered_bytes = 0
        self._request_answered = trio.Event()
        self._unsent = 0  # messages queued or being written
        self._direct_scope: trio.CancelScope | None = None  # set while direct writes are allowed
        self._initialize_started = False
        self._initialized = False
        self.session: Session | None = None
        self.close_reason = ""
        self.peer = getattr(transport, "peer", "stdio")
        self.violation = False  # closed for breaking a protocol rule
        self.evicted = False  # its session was resumed by another connection
        self.draining = False  # the server is shutting down (see drain)
        self._reader_scope = trio.CancelScope()
        self._long_polls: set[trio.CancelScope] = set()
        self._companions: set[trio.CancelScope] = set()  # see start_companion
        self._reading = True  # requests may still arrive
        self._requests: trio.Nursery | None = None  # the request nursery, while it runs

    # -- outbound ----------------------------------------------------------

    async def _send(self, message: object, *, until_written: bool = False) -> None:
        """Send ``message`` after everything queued before it.

        With nothing queued or being written, the caller writes it itself (one
        task switch fewer per reply); otherwise it joins the writer's queue.
        Either way a slow peer makes this wait: backpressure, not memory. With
        ``until_written`` a queued message is also waited for until the writer
        has written it (a large reply holds its budget while it is queued).
        """
        connection_scope = self._direct_scope
        if self._unsent == 0 and connection_scope is not None:
            self._unsent += 1
            try:
                await self._transport.send_messages([jsonrpc.encode_message(message)])
            except TransportClosed as error:
                self.close_reason = error.reason
                connection_scope.cancel()
            finally:
                self._unsent -= 1
            return
        self._unsent += 1
        written = trio.Event() if until_written else None
        try:
            await self._send_channel.send((message, written))
        except BaseException as error:
            self._unsent -= 1
            if not isinstance(error, trio.BrokenResourceError | trio.ClosedResourceError):
                raise
            return  # the connection is going away; the session recovers via reads
        if written is not None:
            await written.wait()  # cancelled when the connection ends unwritten

    async def notify(self, method: NotificationMethod[N], params: N) -> None:
        """Send a notification (the session's :class:`~.session.Attachment`, a
        handler's :class:`~.call.Peer`)."""
        await self._send(jsonrpc.Notification(method=method.name, params=params))

    @property
    def nursery(self) -> trio.Nursery:
        """The request nursery (a handler's :class:`~.call.Peer`); valid while requests run."""
        assert self._requests is not None, "the connection is not running"
        return self._requests

    async def start_companion(
        self, async_fn: Callable[..., Awaitable[object]], *args: object
    ) -> object:
        """Run ``async_fn`` until the connection stops reading requests (a handler's
        :class:`~.call.Peer`)."""
        return await self.nursery.start(self._companion, async_fn, *args)

    async def _companion(
        self,
        async_fn: Callable[..., Awaitable[object]],
        *args: object,
        task_status: trio.TaskStatus[object] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        with trio.CancelScope() as scope:
            if not self._reading:
                scope.cancel()
            self._companions.add(scope)
            try:
                await async_fn(*args, task_status=task_status)
            finally:
                self._companions.discard(scope)

    def _stop_companions(self) -> None:
        self._reading = False
        for scope in self._companions:
            scope.cancel()

    async def _write_loop(self, connection_scope: trio.CancelScope) -> None:
        try:
            async for message, written in self._receive_channel:
                batch = [jsonrpc.encode_message(message)]
                waiting = [written]
                size = len(batch[0])
                while len(batch) < OUTBOUND_QUEUE_SIZE and size < WRITE_BATCH_BYTES:
                    try:
                        message, written = self._receive_channel.receive_nowait()
                    except (trio.WouldBlock, trio.EndOfChannel):  # drained, or closed and drained
                        break
                    batch.append(jsonrpc.encode_message(message))
                    waiting.append(written)
                    size += len(batch[-1])
                await self._transport.send_messages(batch)
                self._unsent -= len(batch)
                for event in waiting:
                    if event is not None:
                        event.set()
        except TransportClosed as error:
            self.close_reason = error.reason
            connection_scope.cancel()

    # -- lifetime ----------------------------------------------------------

    async def run(self) -> None:
        """Serve until the peer leaves; never raises for peer misbehaviour.

        When another connection resumes this one's session (:meth:`evict`), the
        in-flight long-poll reads answer ``session has been resumed by another
        connection``, the other in-flight requests get :data:`EVICTION_GRACE`
        to answer, the replies are flushed, and then the connection ends. With
        ``answer_after_input_ends`` (stdio, whose output outlives its input),
        requests read before EOF get the same grace to answer. After :meth:`drain`
        the requests in flight run to their answer, bounded by the server's grace.
        """
        input_ended = False
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._write_loop, nursery.cancel_scope)
                self._direct_scope = nursery.cancel_scope
                async with trio.open_nursery() as requests:
                    self._requests = requests
                    try:
                        with self._reader_scope:
                            await self._read_loop(requests)
                    except TransportClosed as error:
                        self.close_reason = error.reason
                        input_ended = True
                    except CloseConnection as error:
                        self.close_reason = str(error)
                        self.violation = True
                    self._stop_companions()
                    drained = self.draining and not (input_ended or self.violation)
                    if self.evicted or (input_ended and self._answer_after_input_ends):
                        requests.cancel_scope.deadline = trio.current_time() + EVICTION_GRACE
                    elif not drained:  # drained: the server's shutdown grace bounds them
                        requests.cancel_scope.cancel()
                self._direct_scope = None
                self._send_channel.close()  # the writer flushes what is queued, then ends
        finally:
            self._direct_scope = None
            self._receive_channel.close()
            if self.session is not None and self.session.detach(self):
                log.info(
                    "session detached",
                    extra={"session": short_id(self.session.id), "reason": clip(self.close_reason)},
                )

    async def _read_loop(self, nursery: trio.Nursery) -> None:
        while True:
            try:
                frame = await self._transport.receive_message()
            except MessageTooLarge as error:  # stdio: the line was dropped, the next one is fine
                await self._send(jsonrpc.parse_error(str(error), self._transport.description))
                continue
            message = jsonrpc.decode_message(frame)
            match message:
                case jsonrpc.MalformedMessage(detail=detail, detail_0171=detail_0171):
                    if detail_0171 is not None and self._heard_0171():
                        detail = detail_0171  # only a session that has spoken 0.171 says so
                    await self._send(jsonrpc.parse_error(detail, self._transport.description))
                case jsonrpc.IncomingRequest():
                    await self._dispatch(message, nursery)
                case jsonrpc.IncomingNotification(invalid_id=True) if self._heard_0171():
                    # codex 0.171 refuses an id that is no RequestId (null, a float) and
                    # stays open; 0.130 reads it as a notification (and closes, below).
                    # Without a 0.171 session to say otherwise, 0.130's rule holds.
                    detail = jsonrpc.REQUEST_ID_MISMATCH
                    await self._send(jsonrpc.parse_error(detail, self._transport.description))
                case jsonrpc.IncomingNotification(method=method) if (
                    method == INITIALIZED.name and self._initialize_started
                ):
                    self._initialized = True
                case jsonrpc.IncomingNotification(method=method):
                    if method == INITIALIZED.name:
                        raise CloseConnection(
                            "received `initialized` notification before `initialize`"
                        )
                    raise CloseConnection(f"unexpected notification `{method}`")
                case _:
                    raise CloseConnection("unexpected response from client")

    # -- dispatch ----------------------------------------------------------

    async def _reply_error(self, request_id: jsonrpc.RequestId, error: RpcError) -> None:
        await self._send(
            jsonrpc.ErrorResponse(
                error=jsonrpc.ErrorObject(
                    code=error.code,
                    message=error.message,
                    data=msgspec.UNSET if error.data is None else error.data,
                ),
                id=request_id,
            )
        )

    async def _dispatch(self, request: jsonrpc.IncomingRequest, nursery: trio.Nursery) -> None:
        read_at = time.perf_counter()
        if request.method == INITIALIZE.name:
            await self._handshake(request, read_at)
            return
        route = self._routes.get(request.method)
        if route is None:
            await self._reply_error(request.id, RpcError.method_not_found(request.method))
            self._answered_rpc(request.method, METHOD_NOT_FOUND, read_at)
            return
        span = TRACING.rpc(route.method.name, request.trace)
        try:
            params = route.method.decoder.decode(request.params, self._speaks(route.method))
            session = self._require_session(route.method)
        except RpcError as error:
            span.end(error.code)
            await self._reply_error(request.id, error)
            self._answered_rpc(request.method, error.code, read_at)
            return
        except MalformedParams as error:  # the reference could not parse the message at all
            span.end(INVALID_REQUEST)
            await self._send(jsonrpc.parse_error(str(error), self._transport.description))
            self._answered_rpc(request.method, INVALID_REQUEST, read_at)
            return
        held = 0
        if route.held_bytes is not None:
            held = route.held_bytes(params)
            await self._admit(held)
        ticket: Ticket | None = None
        barrier: trio.Event | None = None
        if route.lane is not None:
            lane = route.lane(params)
            if route.method.ordered:
                ticket = session.lanes.take_ticket(lane)
            else:
                barrier = session.lanes.barrier(lane)
        took_effect = no_effect if ticket is None else ticket.release
        generation = session.heard(route.method.generation_of(params))
        call = Call(params, session, self, took_effect, trio.Event(), generation)
        await self._in_flight.acquire()
        if route.inline(call) and barrier is None and (ticket is None or ticket.ready):
            # never waits: answer inline, saving a task switch
            await self._run_request(request.id, route, call, ticket, barrier, held, span, read_at)
        else:
            nursery.start_soon(
                self._run_request, request.id, route, call, ticket, barrier, held, span, read_at
            )

    def _answered_rpc(self, method: str, code: int | None, read_at: float) -> None:
        self._metrics.rpc_answered(method, code, time.perf_counter() - read_at)

    async def _handshake(self, request: jsonrpc.IncomingRequest, read_at: float) -> None:
        span = TRACING.rpc(INITIALIZE.name, request.trace)
        try:
            params = INITIALIZE.decoder.decode(request.params, self._speaks(INITIALIZE))
            result = await self._initialize(params)
        except RpcError as error:
            span.end(error.code)
            await self._reply_error(request.id, error)
            self._answered_rpc(request.method, error.code, read_at)
            return
        except MalformedParams as error:
            span.end(INVALID_REQUEST)
            await self._send(jsonrpc.parse_error(str(error), self._transport.description))
            self._answered_rpc(request.method, INVALID_REQUEST, read_at)
            return
        span.end()
        await self._send(jsonrpc.Response(id=request.id, result=result))
        self._answered_rpc(request.method, None, read_at)

    async def _admit(self, size: int) -> None:
        """Count a request's input bytes as unanswered, first waiting (the reader, so
        nothing behind it is read) while they would take the total past the budget."""
        while self._unanswered_bytes and (self._unanswered_bytes + size > UNANSWERED_REQUEST_BYTES):
            await self._request_answered.wait()
        self._unanswered_bytes += size

    def _answered(self, size: int) -> None:
        self._unanswered_bytes -= size
        self._request_answered.set()
        self._request_answered = trio.Event()

    def _heard_0171(self) -> bool:
        """This connection's session has spoken 0.171 (see ``Session.heard``)."""
        return self.session is not None and self.session.generation is Generation.V0_171

    def _speaks(self, method: Method[Any, Any]) -> Generation:
        """The generation a request of ``method`` is worded as where its params do
        not say: 0.171 for a method only 0.171 has or in a session that has spoken
        0.171; else (before ``initialize`` too) 0.130."""
        only_0171 = method.since is Generation.V0_171 and not method.had_as_extension
        if only_0171 or self._heard_0171():
            return Generation.V0_171
        return Generation.V0_130

    def _require_session(self, method: Method[Any, Any]) -> Session:
        family = method.family
        if self.session is None:
            raise RpcError.invalid_request(
                f"client must call initialize before using {family} methods"
            )
        if not self._initialized:
            raise RpcError.invalid_request(
                f"client must send initialized before using {family} methods"
            )
        return self.session

    async def _run_request(
        self,
        request_id: jsonrpc.RequestId,
        route: Route[Any, Any],
        call: Call[Any],
        ticket: Ticket | None,
        barrier: trio.Event | None,
        held: int,
        span: RpcSpan,
        read_at: float,
    ) -> None:
        error_code: int | None = None
        try:
            if barrier is not None:
                await barrier.wait()
            if ticket is not None:
                await ticket.wait_turn()
            if route.long_poll:
                with trio.CancelScope() as long_poll:
                    self._long_polls.add(long_poll)
                    try:
                        result = await span.run(route.handler, call)
                    finally:
                        self._long_polls.discard(long_poll)
                if long_poll.cancelled_caught or call.session.attachment is not self:
                    raise RpcError.invalid_request(RESUMED_ELSEWHERE)
            else:
                result = await span.run(route.handler, call)
        except RpcError as error:
            error_code = error.code
            await self._reply_error(request_id, error)
        except DOMAIN_ERRORS as error:  # the one place they become wire errors
            wire_error = rpc_error(error)
            error_code = wire_error.code
            await self._reply_error(request_id, wire_error)
        except Exception as error:
            log.exception("internal error in %s", route.method.name)
            error_code = INTERNAL_ERROR
            await self._reply_error(request_id, RpcError(INTERNAL_ERROR, str(error)))
        else:
            response = jsonrpc.Response(id=request_id, result=result)
            await self._send(response, until_written=route.awaits_reply)
        finally:
            span.end(error_code)
            call.replied.set()
            if ticket is not None:
                ticket.release()
            if held:
                self._answered(held)
            self._in_flight.release()
        self._answered_rpc(route.method.name, error_code, read_at)  # not when cancelled unanswered

    async def _initialize(self, params: InitializeParams) -> InitializeResponse:
        if self._initialize_started:
            raise RpcError.invalid_request("initialize may only be sent once per connection")
        self._initialize_started = True
        try:
            if params.resume_session_id is None:
                session = await self._registry.create()
            else:
                session = self._resume(params.resume_session_id)
        except BaseException:
            self._initialize_started = False
            raise
        session.attach(self)
        self.session = session
        log.info(
            "client initialized",
            extra={"session": short_id(session.id), "client": clip(params.client_name)},
        )
        return InitializeResponse(session_id=session.id, environment_info=environment_info())

    def _resume(self, session_id: str) -> Session:
        session = self._registry.lookup(session_id)
        if session is None:
            raise RpcError.invalid_request(f"unknown session id {session_id}")
        previous = session.attachment
        if isinstance(previous, Connection):
            # DESIGN.md §1.1.2: a resume takes over; a half-open peer can never
            # lock a session out.
            previous.evict()
            log.info("session taken over", extra={"session": short_id(session_id)})
        else:
            log.info("session resumed", extra={"session": short_id(session_id)})
        self._metrics.session_resumed(taken_over=isinstance(previous, Connection))
        return session

    def drain(self) -> None:
        """Server shutdown: read no more requests; those in flight run to their answer
        (cancelled if the server's shutdown grace ends first), the queued messages are
        flushed, and then :meth:`run` returns."""
        self.draining = True
        self._reader_scope.cancel()

    def evict(self) -> None:
        """Another connection resumed our session: fail long-polls, then close."""
        self.evicted = True
        self.close_reason = RESUMED_ELSEWHERE
        for long_poll in self._long_polls:
            long_poll.cancel()
        self._reader_scope.cancel()
