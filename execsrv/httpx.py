"""An httpx transport that makes every request from the executor (extra ``execsrv[httpx]``).

::

    import httpx
    import execsrv.httpx

    async with httpx.AsyncClient(transport=execsrv.httpx.transport(client)) as http:
        response = await http.get("https://example.test/")

Each request is one streamed ``http/request`` on ``client``: the result comes
once the response head is in, the body follows as frames and is handed to httpx
chunk by chunk. What a caller may rely on:

- **Redirects are httpx's.** Every request is sent with ``redirectPolicy:
  "stop"``, so a 3xx comes back as it is and httpx follows it (or not) by its
  own ``follow_redirects`` and ``max_redirects``; each hop is an ``http/request``
  and ``response.history`` and ``response.url`` are what httpx makes them.
- **Timeouts are kept on the client** with cancel scopes, from httpx's
  ``request.extensions["timeout"]``. The executor reports no phases, so the wait
  for the response head gets ``connect`` and ``read`` together and running out
  of it raises :class:`httpx.ReadTimeout` (:class:`httpx.ConnectTimeout` when
  only ``connect`` is set); ``read`` also bounds the wait for each body chunk
  (:class:`httpx.ReadTimeout`). ``write`` and ``pool`` do not apply. No
  ``timeoutMs`` is sent: it would cut long bodies such as event streams.
- **Errors are httpx's**: an invalid request (``-32602``) →
  :class:`httpx.UnsupportedProtocol`; a failed request or a lost connection
  before the head → :class:`httpx.ConnectError`; a lost connection after it →
  :class:`httpx.ReadError`; a body that broke off, has a gap, or was read too
  slowly (more than :data:`~execsrv.client.http_body.BODY_BUFFER_FRAMES` frames
  behind) → :class:`httpx.RemoteProtocolError`.
- **Request bodies are buffered** (``http/request`` carries one body), so a
  body must fit in the server's message limit after base64.
- The transport owns the connection: ``verify``, ``cert`` and proxies of the
  ``AsyncClient`` do not apply; TLS is the executor's.
- **Giving up stops the download.** Closing a response before its body is
  read, a read timeout, or a cancelled request sends ``http/request/cancel``
  (an execsrv extension), so the executor closes its connection to the origin.
  Against a server without it (codex) the executor reads the body to its end.

This module is named like the library it adapts; it imports it absolutely, so
``import httpx`` inside execsrv is always the real one.
"""

from __future__ import annotations

import math
from typing import Final

import httpx
import trio

from .client.client import Client
from .client.errors import Disconnected, RemoteError
from .client.http import RemoteHttp
from .client.http_body import HttpBodyStream, HttpStreamError

__all__ = ["ExecsrvTransport", "transport"]

_NOT_FORWARDED: Final = frozenset({"connection", "keep-alive", "transfer-encoding", "upgrade"})
"""Hop-by-hop headers: the body goes as one buffer, framed by the executor."""

_INVALID_PARAMS: Final = -32602


def transport(client: Client) -> ExecsrvTransport:
    """A transport for ``httpx.AsyncClient(transport=...)`` that sends through ``client``."""
    return ExecsrvTransport(client)


class ExecsrvTransport(httpx.AsyncBaseTransport):
    """Sends each request with a streamed ``http/request`` on one :class:`Client`.

    Holds no connections of its own: closing it leaves ``client`` open.
    """

    def __init__(self, client: Client) -> None:
        self._client = client

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeouts = request.extensions.get("timeout", {})
        connect, read = timeouts.get("connect"), timeouts.get("read")
        body = await request.aread()
        headers = [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in request.headers.raw
            if name.lower().decode("latin-1") not in _NOT_FORWARDED
        ]
        head_timeout = math.inf if connect is None or read is None else connect + read
        if read is None and connect is not None:
            head_timeout = connect
        with trio.move_on_after(head_timeout) as head_scope:
            try:
                response = await self._client.http.request(
                    request.method,
                    str(request.url),
                    headers=headers,
                    body=body or None,
                    stream=True,
                    redirect_policy="stop",
                )
            except RemoteError as error:
                if error.code == _INVALID_PARAMS:
                    raise httpx.UnsupportedProtocol(error.message, request=request) from error
                raise httpx.ConnectError(error.message, request=request) from error
            except Disconnected as error:
                raise httpx.ConnectError(str(error), request=request) from error
        if head_scope.cancelled_caught:
            message = f"no response head from the executor within {head_timeout} s"
            if read is None:
                raise httpx.ConnectTimeout(message, request=request)
            raise httpx.ReadTimeout(message, request=request)
        assert isinstance(response.body, HttpBodyStream)
        return httpx.Response(
            response.status,
            headers=response.headers,
            stream=_BodyStream(response.body, self._client.http, request, read),
            extensions={"http_version": b"HTTP/1.1"},
            request=request,
        )


class _BodyStream(httpx.AsyncByteStream):
    """The executor's body frames as httpx's byte stream; ``read`` bounds each wait."""

    def __init__(
        self, body: HttpBodyStream, http: RemoteHttp, request: httpx.Request, read: float | None
    ) -> None:
        self._body = body
        self._http = http
        self._request = request
        self._read = math.inf if read is None else read

    def __aiter__(self) -> _BodyStream:
        return self  # not a generator: nothing left for the garbage collector to finalise

    async def __anext__(self) -> bytes:
        with trio.move_on_after(self._read):
            try:
                return await self._body.__anext__()
            except HttpStreamError as error:
                raise httpx.RemoteProtocolError(str(error), request=self._request) from error
            except Disconnected as error:
                raise httpx.ReadError(str(error), request=self._request) from error
        await self.aclose()
        message = f"no body data from the executor within {self._read} s"
        raise httpx.ReadTimeout(message, request=self._request)

    async def aclose(self) -> None:
        """Stop listening, and stop the executor's download unless the body is done."""
        if self._body.finished:
            return
        self._body.close()
        await self._http.abandon(self._body.request_id)
