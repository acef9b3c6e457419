"""``client.http``: HTTP requests made from the server's side.

``await client.http.request("GET", url)`` returns an :class:`HttpResponse`
whose ``body`` is ``bytes``. With ``stream=True`` the result comes back once the
headers are in, and ``body`` is an :class:`HttpBodyStream`, an async iterator
of chunks fed by ``http/request/bodyDelta`` notifications::

    response = await client.http.request("GET", url, stream=True)
    async for chunk in response.body:
        ...

The stream raises :class:`HttpStreamError` when the server reports that the
body broke off, when a frame is missing (a seq gap), or when the consumer
falls :data:`BODY_BUFFER_FRAMES` frames behind; and :class:`~.errors.Disconnected`
when the connection is lost (the server aborts body streams with their
connection, so a resumed session cannot continue one).

Request ids are generated here (``http-1``, ``http-2``, …), as the reference
client does, so they never collide on the connection.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import trio

from ..protocol.http import (
    HttpHeader,
    HttpRequestBodyDeltaNotification,
    HttpRequestParams,
    HttpRequestResponse,
)
from ..protocol.methods import HTTP_REQUEST
from .errors import ClientError, Disconnected

if TYPE_CHECKING:
    from .client import Client

__all__ = ["BODY_BUFFER_FRAMES", "HttpBodyStream", "HttpResponse", "HttpStreamError", "RemoteHttp"]

BODY_BUFFER_FRAMES: Final = 256
"""Frames a stream holds for a consumer (the reference client's channel capacity).

The client's reader cannot wait for one slow consumer without holding up every
other call and stream on the connection, so a consumer that falls this far
behind fails its stream, as the reference does (``body delta channel filled
before delivery``). Read promptly, or use a buffered request.
"""


class HttpStreamError(ClientError):
    """A streamed body cannot be completed; ``reason`` says why.

    The message follows the reference client: ``http response stream `<id>`
    failed: <reason>``, or ``… received seq X, expected Y`` for a gap.
    """

    def __init__(self, request_id: str, message: str, reason: str) -> None:
        super().__init__(message)
        self.request_id = request_id
        self.reason = reason

    @classmethod
    def failed(cls, request_id: str, reason: str) -> HttpStreamError:
        return cls(request_id, f"http response stream `{request_id}` failed: {reason}", reason)

    @classmethod
    def gap(cls, request_id: str, received: int, expected: int) -> HttpStreamError:
        message = (
            f"http response stream `{request_id}` received seq {received}, expected {expected}"
        )
        return cls(request_id, message, message)


class HttpBodyStream:
    """The chunks of a streamed body, in order; iterate it once.

    Ends when the server's last frame (``done``) arrives, or raises
    :class:`HttpStreamError` / :class:`~.errors.Disconnected`. Chunks that
    arrived before a failure are still delivered first. :meth:`close` stops
    listening (later frames are dropped).
    """

    def __init__(self, request_id: str, client: Client) -> None:
        self.request_id = request_id
        self._client = client
        self._send, self._receive = trio.open_memory_channel[bytes](BODY_BUFFER_FRAMES)
        self._expected_seq = 1
        self._error: ClientError | None = None
        self._open = True  # still accepting frames

    def __aiter__(self) -> HttpBodyStream:
        return self

    async def __anext__(self) -> bytes:
        try:
            return await self._receive.receive()
        except trio.EndOfChannel:
            if self._error is not None:
                raise self._error from None
            raise StopAsyncIteration from None

    async def read(self) -> bytes:
        """The rest of the body, joined."""
        return b"".join([chunk async for chunk in self])

    def close(self) -> None:
        """Stop receiving: frames still to come are dropped, iteration ends."""
        self._finish(None)

    def feed(self, delta: HttpRequestBodyDeltaNotification) -> None:
        """Take one frame from the client's reader; never blocks."""
        if not self._open:
            return
        if delta.seq != self._expected_seq:
            self._finish(HttpStreamError.gap(self.request_id, delta.seq, self._expected_seq))
            return
        self._expected_seq += 1
        if delta.delta_base64:
            try:
                self._send.send_nowait(delta.delta_base64)
            except trio.WouldBlock:
                reason = "body delta channel filled before delivery"
                self._finish(HttpStreamError.failed(self.request_id, reason))
                return
        if delta.done:
            error = None
            if delta.error is not None:
                error = HttpStreamError.failed(self.request_id, delta.error)
            self._finish(error)

    def fail(self, error: ClientError) -> None:
        """End the stream with ``error`` (e.g. the connection is gone)."""
        self._finish(error)

    def _finish(self, error: ClientError | None) -> None:
        if not self._open:
            return
        self._open = False
        self._error = error
        self._send.close()  # the consumer drains what is buffered, then sees the end
        self._client._forget_http_stream(self)


@dataclass(frozen=True)
class HttpResponse:
    """A response: the final one after redirects (non-2xx included)."""

    status: int
    headers: list[tuple[str, str]]
    """Lowercased names, in the server's order; repeats kept."""
    body: bytes | HttpBodyStream
    """The whole body, or (``stream=True``) a stream of its chunks."""
    request_id: str

    def header(self, name: str) -> str | None:
        """The first value of ``name`` (case-insensitive), or None."""
        name = name.lower()
        return next((value for key, value in self.headers if key == name), None)


class RemoteHttp:
    """``http/request`` on one client; reached as ``client.http``."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._ids = itertools.count(1)

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | Sequence[tuple[str, str]] = (),
        body: bytes | None = None,
        timeout_ms: int | None = None,
        stream: bool = False,
    ) -> HttpResponse:
        """Make a request from the server.

        Args:
            method: sent as given (``get`` stays ``get``).
            url: an absolute http or https URL.
            headers: sent in order; ``accept: */*`` and ``host`` are added unless given.
            body: the request body.
            timeout_ms: a deadline for the whole exchange on the server, body
                included (also for a stream). None: no deadline.
            stream: return once the headers are in; ``body`` is then an
                :class:`HttpBodyStream`.

        Raises:
            RemoteError: ``-32602`` for an invalid request, ``-32603`` when it
                failed (``http/request failed: error sending request for url
                (…)``, or a broken or too large buffered body).
            Disconnected: the connection is gone.
        """
        items = headers.items() if isinstance(headers, Mapping) else headers
        request_id = f"http-{next(self._ids)}"
        params = HttpRequestParams(
            method=method,
            url=url,
            headers=[HttpHeader(name=name, value=value) for name, value in items],
            body_base64=body,
            timeout_ms=timeout_ms,
            request_id=request_id,
            stream_response=stream,
        )
        if not stream:
            result = await self._client.call(HTTP_REQUEST, params)
            return _response(result, result.body_base64, request_id)
        body_stream = self._client._open_http_stream(request_id)
        try:
            result = await self._client.call(HTTP_REQUEST, params)
        except BaseException:
            body_stream.close()
            raise
        return _response(result, body_stream, request_id)


def _response(
    result: HttpRequestResponse, body: bytes | HttpBodyStream, request_id: str
) -> HttpResponse:
    headers = [(header.name, header.value) for header in result.headers]
    return HttpResponse(result.status, headers, body, request_id)


def fail_streams(streams: Sequence[HttpBodyStream], reason: str) -> None:
    """End every stream with :class:`~.errors.Disconnected` (the connection is gone)."""
    for stream in streams:
        stream.fail(Disconnected(reason))
