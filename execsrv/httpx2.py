"""The httpx transport of :mod:`execsrv.httpx` for ``httpx2`` (extra ``execsrv[httpx2]``).

``httpx2`` is the fork the ``mcp`` 2.x SDK requires; its classes are not
httpx's, so it needs its own transport. It behaves as :mod:`execsrv.httpx`
describes::

    import httpx2
    import execsrv.httpx2

    async with httpx2.AsyncClient(transport=execsrv.httpx2.transport(client)) as http:
        response = await http.get("https://example.test/")
"""

from __future__ import annotations

import httpx2

from ._httpx_core import BodyStream, respond
from .client.client import Client

__all__ = ["ExecsrvTransport", "transport"]


def transport(client: Client) -> ExecsrvTransport:
    """A transport for ``httpx2.AsyncClient(transport=...)`` that sends through ``client``."""
    return ExecsrvTransport(client)


class ExecsrvTransport(httpx2.AsyncBaseTransport):
    """Sends each request with a streamed ``http/request`` on one :class:`Client`.

    Holds no connections of its own: closing it leaves ``client`` open.
    """

    def __init__(self, client: Client) -> None:
        self._client = client

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response: httpx2.Response = await respond(httpx2, self._client, request, _BodyStream)
        return response


class _BodyStream(BodyStream, httpx2.AsyncByteStream):
    """The executor's body as httpx2's byte stream."""
