"""What :mod:`execsrv.httpx` and :mod:`execsrv.httpx2` share: a request sent as a
streamed ``http/request``, and its body read with httpx's timeouts and errors.

``lib`` is the library module (``httpx`` or ``httpx2``): both have the same
request, response, timeout and exception API but distinct classes, so each flavour
module subclasses its own library's transport and byte stream (the latter mixing in
:class:`BodyStream`) around these.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable
from types import ModuleType
from typing import Any, Final

import trio

from .client.client import Client
from .client.errors import Disconnected, RemoteError
from .client.http import RemoteHttp
from .client.http_body import HttpBodyStream, HttpStreamError
from .protocol.errors import INVALID_PARAMS

__all__ = ["BodyReader", "BodyStream", "respond"]

_NOT_FORWARDED: Final = frozenset({"connection", "keep-alive", "transfer-encoding", "upgrade"})
"""Hop-by-hop headers: the body goes as one buffer, framed by the executor."""


async def respond(
    lib: ModuleType, client: Client, request: Any, stream: Callable[[BodyReader], Any]
) -> Any:
    """Send ``request`` (a ``lib.Request``) with a streamed ``http/request``, redirects
    left to the caller; the ``lib.Response`` once the head is in, its body
    ``stream(reader)`` (a ``lib.AsyncByteStream``), or ``lib``'s exception."""
    timeouts = request.extensions.get("timeout", {})
    connect, read = timeouts.get("connect"), timeouts.get("read")
    body: bytes = await request.aread()
    headers = [
        (name.decode("latin-1"), value.decode("latin-1"))
        for name, value in request.headers.raw
        if name.decode("latin-1").lower() not in _NOT_FORWARDED
    ]
    head_timeout = math.inf if connect is None or read is None else connect + read
    if read is None and connect is not None:
        head_timeout = connect
    with trio.move_on_after(head_timeout):
        try:
            response = await client.http.request(
                request.method,
                str(request.url),
                headers=headers,
                body=body or None,
                stream=True,
                redirect_policy="stop",
            )
        except RemoteError as error:
            if error.code == INVALID_PARAMS:
                raise lib.UnsupportedProtocol(error.message, request=request) from error
            raise lib.ConnectError(error.message, request=request) from error
        except Disconnected as error:
            raise lib.ConnectError(str(error), request=request) from error
        assert isinstance(response.body, HttpBodyStream)
        reader = BodyReader(lib, response.body, client.http, request, read)
        return lib.Response(
            response.status,
            headers=response.headers,
            stream=stream(reader),
            extensions={"http_version": b"HTTP/1.1"},
            request=request,
        )
    # The head did not come in time (the request was cancelled on the server).
    message = f"no response head from the executor within {head_timeout} s"
    if read is None:
        raise lib.ConnectTimeout(message, request=request)
    raise lib.ReadTimeout(message, request=request)


class BodyReader:
    """The executor's body frames; ``read`` (seconds or None) bounds each wait."""

    def __init__(
        self, lib: ModuleType, body: HttpBodyStream, http: RemoteHttp, request: Any, read: Any
    ) -> None:
        self._lib = lib
        self._body = body
        self._http = http
        self._request = request
        self._read = math.inf if read is None else float(read)

    async def next(self) -> bytes:
        """The next chunk; ``StopAsyncIteration`` at the end."""
        with trio.move_on_after(self._read):
            try:
                return await self._body.__anext__()
            except HttpStreamError as error:
                raise self._lib.RemoteProtocolError(str(error), request=self._request) from error
            except Disconnected as error:
                raise self._lib.ReadError(str(error), request=self._request) from error
        await self.close()
        message = f"no body data from the executor within {self._read} s"
        raise self._lib.ReadTimeout(message, request=self._request)

    async def close(self) -> None:
        """Stop listening, and stop the executor's download unless the body is done."""
        if self._body.finished:
            return
        self._body.close()
        await self._http.abandon(self._body.request_id)


class BodyStream:
    """A :class:`BodyReader` as an async byte stream; each flavour mixes this into its
    library's ``AsyncByteStream`` (the response checks that type)."""

    def __init__(self, reader: BodyReader) -> None:
        self._reader = reader

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self  # not a generator: nothing left for the garbage collector to finalise

    async def __anext__(self) -> bytes:
        return await self._reader.next()

    async def aclose(self) -> None:
        await self._reader.close()
