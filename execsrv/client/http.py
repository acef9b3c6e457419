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
from typing import Final

import msgspec
import trio

from ..protocol.http import (
    HttpHeader,
    HttpRequestCancelParams,
    HttpRequestParams,
    HttpRequestResponse,
    RedirectPolicy,
)
from ..protocol.methods import HTTP_REQUEST, HTTP_REQUEST_CANCEL
from .errors import Disconnected, RemoteError
from .http_body import HttpBodyStream
from .peer import Caller
from .router import NotificationRouter

# The body stream lives in .http_body (the router feeds it); named here too.
__all__ = ["CANCEL_GRACE", "HeaderLine", "HttpResponse", "RemoteHttp"]

CANCEL_GRACE: Final = 5.0
"""Seconds a cancelled task still waits for its ``http/request/cancel`` to be answered."""

HeaderLine = tuple[str, str] | tuple[str, str, str]
"""``(name, value)``, or ``(name, value, variable)``: the server sends ``value``
followed by its own environment variable ``variable`` (codex 0.171's ``valueEnvVar``)."""


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

    def __init__(self, client: Caller, router: NotificationRouter) -> None:
        self._client = client
        self._router = router
        self._ids = itertools.count(1)

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | Sequence[HeaderLine] = (),
        body: bytes | None = None,
        timeout_ms: int | None = None,
        stream: bool = False,
        redirect_policy: RedirectPolicy | None = None,
    ) -> HttpResponse:
        """Make a request from the server.

        Args:
            method: sent as given (``get`` stays ``get``).
            url: an absolute http or https URL.
            headers: sent in order; ``accept: */*`` and ``host`` are added unless given.
                A three-item header ``(name, value, variable)`` appends the server's
                environment variable ``variable`` to ``value`` (a 0.171 server,
                or execsrv), so a secret need not pass through the client.
            body: the request body.
            timeout_ms: a deadline for the whole exchange on the server, body
                included (also for a stream). None: no deadline.
            stream: return once the headers are in; ``body`` is then an
                :class:`HttpBodyStream`.
            redirect_policy: ``"stop"`` returns a 3xx as it is; ``"follow"`` (the
                server's default) follows redirects. None sends no policy (as a
                0.130 client does). Either value, or an environment-variable
                header, makes the request a 0.171 one: execsrv then also decodes
                gzip bodies.

        Raises:
            RemoteError: ``-32602`` for an invalid request (or an unset
                environment variable), ``-32603`` when it
                failed (``http/request failed: error sending request for url
                (…)``, or a broken or too large buffered body).
            Disconnected: the connection is gone.
        """
        items: Sequence[HeaderLine] = (
            list(headers.items()) if isinstance(headers, Mapping) else headers
        )
        request_id = f"http-{next(self._ids)}"
        params = HttpRequestParams(
            method=method,
            url=url,
            headers=[_header(*item) for item in items],
            body_base64=body,
            timeout_ms=timeout_ms,
            request_id=request_id,
            stream_response=stream,
            redirect_policy=msgspec.UNSET if redirect_policy is None else redirect_policy,
        )
        if not stream:
            result = await self._client.call(HTTP_REQUEST, params)
            return _response(result, result.body_base64, request_id)
        body_stream = self._router.open_body(request_id)
        try:
            result = await self._client.call(HTTP_REQUEST, params)
        except trio.Cancelled:
            body_stream.close()
            await self.abandon(request_id)
            raise
        except BaseException:
            body_stream.close()
            raise
        return _response(result, body_stream, request_id)

    async def cancel(self, request_id: str) -> bool:
        """Stop a streamed request on the server (execsrv's ``http/request/cancel``):
        its download ends, and a body stream still read ends with
        :class:`HttpStreamError` (reason ``cancelled``). False: the server had no
        such request running (unknown, or already done).

        Raises:
            RemoteError: ``-32601`` from a server without the extension (codex).
            Disconnected: the connection is gone.
        """
        result = await self._client.call(HTTP_REQUEST_CANCEL, HttpRequestCancelParams(request_id))
        return result.cancelled

    async def abandon(self, request_id: str) -> None:
        """:meth:`cancel` as best effort, never raising, also from a cancelled task
        (shielded, for at most :data:`CANCEL_GRACE`): a streamed request given up on
        stops on the server too, unless the server cannot (codex) or the connection
        is gone. A streamed request cancelled before its head calls this itself."""
        with trio.CancelScope(shield=True) as scope:
            scope.deadline = trio.current_time() + CANCEL_GRACE
            try:
                await self.cancel(request_id)
            except (RemoteError, Disconnected):
                pass


def _header(name: str, value: str, variable: str | None = None) -> HttpHeader:
    return HttpHeader(name=name, value=value, value_env_var=variable)


def _response(
    result: HttpRequestResponse, body: bytes | HttpBodyStream, request_id: str
) -> HttpResponse:
    headers = [(header.name, header.value) for header in result.headers]
    return HttpResponse(result.status, headers, body, request_id)
