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

:mod:`execsrv.httpx2` is the same for ``httpx2`` (which the ``mcp`` 2.x SDK
uses). These modules are named like the libraries they adapt; they import them
absolutely, so ``import httpx`` inside execsrv is always the real one.
"""

from __future__ import annotations

import httpx

from ._httpx_core import BodyStream, respond
from .client.client import Client

__all__ = ["ExecsrvTransport", "transport"]


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
        response: httpx.Response = await respond(httpx, self._client, request, _BodyStream)
        return response


class _BodyStream(BodyStream, httpx.AsyncByteStream):
    """The executor's body as httpx's byte stream."""
