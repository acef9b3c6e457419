"""The ``http/request`` handler: the HTTP runner mapped onto JSON-RPC.

Buffered (``streamResponse: false``): the body is read whole, up to
``max_body_bytes``, and returned in the result. Streamed: the result comes
back once the final response's headers are in, with an empty body; the body
follows as ``http/request/bodyDelta`` notifications, numbered from 1, the last
one ``done: true`` (with ``error`` if the body broke off). The frames are sent
only after the result, and the body task lives in the connection's nursery, so
it is cancelled when the connection goes away.

``timeoutMs`` is one deadline for the whole exchange: connect, redirects,
headers and body, streamed bodies included. Until the headers are in, running
out of it fails the request (``error sending request``); afterwards it fails
the body (``error decoding response body``). A zero deadline in a 0.171
request fails with 0.171's own text, ``route-aware request timed out``.

``http/request/cancel`` (an extension) cancels a streamed request's scope:
before its head the request fails as if the deadline ran out, after it the
last frame's ``error`` is ``cancelled``; either way the connection to the
origin is closed. A client that stops reading a body sends it, so the
download does not run on for nobody.

The generation of the request (``call.generation``) decides two more things:
a 0.171 request offers and decodes gzip bodies, a 0.130 one gets the body as
sent (see :class:`~execsrv.protocol.http.HttpRequestParams`). ``redirectPolicy``
and header ``valueEnvVar`` exist only in 0.171 requests; the variable is read
from the server's environment (``environ``) and its value never leaves the
request: errors name the variable, not its value, and nothing logs headers.

Failures are the runner's errors (:mod:`execsrv.http.errors`); :mod:`.errors`
words them for the wire. Unlike the reference, a request never holds up other
requests on its connection (DESIGN.md §1.1.1).
"""

from __future__ import annotations

import math
import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import trio

from ..http import (
    BodyFailed,
    BodyTooLarge,
    HttpExchange,
    HttpRequest,
    RequestFailed,
    ResponseHead,
    ZeroTimeout,
    is_visible_ascii,
)
from ..protocol.errors import RpcError
from ..protocol.generation import Generation
from ..protocol.http import (
    HttpHeader,
    HttpRequestBodyDeltaNotification,
    HttpRequestCancelParams,
    HttpRequestCancelResponse,
    HttpRequestParams,
    HttpRequestResponse,
)
from ..protocol.methods import HTTP_BODY_DELTA
from .budget import DEFAULT_REPLY_BUDGET_BYTES, LARGE_REPLY_BYTES, ByteBudget, base64_size
from .call import Call, Peer
from .config import ServerConfig
from .tracing import TRACING

__all__ = ["HttpApi"]

_CANCELLED: Final = "cancelled"
"""The ``error`` of the last frame of a body stopped by ``http/request/cancel``."""


@dataclass
class _Running:
    """A streamed request: its scope (deadline and cancel), and whether it was cancelled."""

    scope: trio.CancelScope
    cancelled: bool = False


class HttpApi:
    """``http/request`` for one server.

    ``max_body_bytes`` caps buffered bodies (decoded size; streamed ones are not
    held, so they are not capped). ``ssl_context`` replaces the system trust
    store, e.g. with one that also trusts a test CA. ``environ`` is where header
    ``valueEnvVar`` names are looked up (default: the server's environment).
    """

    def __init__(
        self,
        *,
        max_body_bytes: int,
        ssl_context: ssl.SSLContext | None = None,
        budget: ByteBudget | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.max_body_bytes = max_body_bytes
        self.budget = budget or ByteBudget(DEFAULT_REPLY_BUDGET_BYTES)
        self.ssl_context = ssl_context
        self.environ = os.environ if environ is None else environ
        self._streaming: dict[Peer, dict[str, _Running]] = {}
        """Per connection, its streamed requests still running, by request id (an id
        may not be reused on its connection until its ``done`` frame is on its way),
        for ``http/request/cancel``. A connection leaves with its last stream, and its
        streams end with it."""

    @classmethod
    def from_config(cls, config: ServerConfig, budget: ByteBudget | None = None) -> HttpApi:
        """``max_http_body_bytes``, and the system store plus ``http_ca_file`` if given;
        ``budget`` is the server's reply budget (``max_reply_bytes_in_flight``)."""
        context = None
        if config.http_ca_file is not None:
            context = ssl.create_default_context()
            context.load_verify_locations(config.http_ca_file)
        return cls(
            max_body_bytes=config.max_http_body_bytes,
            ssl_context=context,
            budget=budget or ByteBudget(config.max_reply_bytes_in_flight),
        )

    async def request(self, call: Call[HttpRequestParams]) -> HttpRequestResponse:
        params, peer = call.params, call.peer
        deadline = math.inf
        if params.timeout_ms is not None:
            deadline = trio.current_time() + params.timeout_ms / 1000
        request_id = params.request_id
        if params.stream_response and request_id in self._streaming.get(peer, ()):
            raise RpcError.invalid_params(
                f"http/request streamResponse requestId `{request_id}` is already active"
            )
        request = self._build(params, call.generation)
        if params.timeout_ms == 0 and call.generation is Generation.V0_171:
            raise ZeroTimeout
        if not params.stream_response:
            return await self._buffered(request, deadline, call)
        running = _Running(trio.CancelScope(deadline=deadline))
        self._streaming.setdefault(peer, {})[request_id] = running
        try:
            head: ResponseHead = await peer.nursery.start(
                self._stream, request, request_id, running, call
            )
        except BaseException:
            self._stream_ended(peer, request_id)
            raise
        return _result(head, b"")

    async def cancel(self, call: Call[HttpRequestCancelParams]) -> HttpRequestCancelResponse:
        """``http/request/cancel``: cancel the streamed request's scope (it words the end)."""
        running = self._streaming.get(call.peer, {}).get(call.params.request_id)
        if running is None or running.cancelled:
            return HttpRequestCancelResponse(cancelled=False)
        running.cancelled = True
        running.scope.cancel()
        return HttpRequestCancelResponse(cancelled=True)

    def _build(self, params: HttpRequestParams, generation: Generation) -> HttpRequest:
        """Validate the request; :class:`~execsrv.http.InvalidRequest` for the first
        problem. A 0.171 request decodes gzip bodies and follows redirects as 0.171
        does (see :mod:`execsrv.http.runner`). Called in the request's RPC span: its
        ``traceparent`` header is added unless the request has one (:mod:`.tracing`)."""
        headers = [(header.name, header.value, header.value_env_var) for header in params.headers]
        headers += [
            (name, value, None) for name, value in TRACING.outgoing_headers(h[0] for h in headers)
        ]
        return HttpRequest.build(
            params.method,
            params.url,
            headers,
            params.body_base64,
            follow_redirects=params.redirect_policy != "stop",
            decode=generation is Generation.V0_171,
            route_aware=generation is Generation.V0_171,
            environ=self.environ,
        )

    def _stream_ended(self, peer: Peer, request_id: str) -> None:
        active = self._streaming.get(peer)
        if active is not None:
            active.pop(request_id, None)
            if not active:
                del self._streaming[peer]

    async def _buffered(
        self, request: HttpRequest, deadline: float, call: Call[HttpRequestParams]
    ) -> HttpRequestResponse:
        """The whole body in the result. Once it reaches :data:`LARGE_REPLY_BYTES`
        (as base64) it reserves the largest body's size in the reply budget, held
        until the reply is written: while that is taken, large bodies wait."""
        head: ResponseHead | None = None
        exchange = HttpExchange(request, ssl_context=self.ssl_context)
        reserved = 0
        try:
            with trio.CancelScope(deadline=deadline):
                async with exchange:
                    head = await exchange.send()
                    body = bytearray()
                    while chunk := await exchange.receive_some():
                        body += chunk
                        if len(body) > self.max_body_bytes:
                            raise BodyTooLarge(self.max_body_bytes)
                        if not reserved and base64_size(len(body)) >= LARGE_REPLY_BYTES:
                            reserved = await self.budget.acquire(base64_size(self.max_body_bytes))
                    result = _result(head, bytes(body))
                    if reserved:
                        self.budget.release_after(reserved, call.replied, call.peer.nursery)
                        reserved = 0
                    return result
        finally:
            if reserved:
                self.budget.release(reserved)
        # The deadline ran out.
        if head is None:
            raise RequestFailed.sending(str(exchange.url))
        raise BodyFailed()

    async def _stream(
        self,
        request: HttpRequest,
        request_id: str,
        running: _Running,
        call: Call[HttpRequestParams],
        *,
        task_status: trio.TaskStatus[ResponseHead],
    ) -> None:
        """Fetch the head (then ``started``), and send the body as frames; all within
        ``running.scope`` (the deadline, and ``http/request/cancel``)."""
        seq = 0
        error: str | None = None
        started = False
        exchange = HttpExchange(request, ssl_context=self.ssl_context)
        try:
            with running.scope as scope:
                async with exchange:
                    head = await exchange.send()
                    task_status.started(head)
                    started = True
                    await call.replied.wait()
                    try:
                        while chunk := await exchange.receive_some():
                            seq += 1
                            await call.peer.notify(HTTP_BODY_DELTA, _delta(request_id, seq, chunk))
                    except BodyFailed as failure:
                        error = str(failure)
            if scope.cancelled_caught:
                if not started:
                    raise RequestFailed.sending(str(exchange.url))
                error = _CANCELLED if running.cancelled else str(BodyFailed())
            await call.replied.wait()  # the deadline may have cut the wait short
        finally:
            self._stream_ended(call.peer, request_id)  # free before `done` is seen: reusable
        await call.peer.notify(
            HTTP_BODY_DELTA, _delta(request_id, seq + 1, b"", done=True, error=error)
        )


def _result(head: ResponseHead, body: bytes) -> HttpRequestResponse:
    headers = [
        HttpHeader(name=name, value=value.decode())
        for name, value in head.headers
        if is_visible_ascii(value)
    ]
    return HttpRequestResponse(status=head.status, headers=headers, body_base64=body)


def _delta(
    request_id: str, seq: int, chunk: bytes, *, done: bool = False, error: str | None = None
) -> HttpRequestBodyDeltaNotification:
    return HttpRequestBodyDeltaNotification(
        request_id=request_id, seq=seq, delta_base64=chunk, done=done, error=error
    )
