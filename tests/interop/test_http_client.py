"""execsrv's ``client.http`` against the real codex 0.130.0 and 0.171.0 servers (DESIGN.md §1).

codex frames bodies its own way (reqwest's chunks), so these check that the
client's routing, seq checks and error frames work with codex's notifications.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import trio

import execsrv
from execsrv.client import HttpBodyStream, HttpStreamError
from execsrv.protocol.generation import Generation

from ..http.server import HttpServer, open_http_server, pattern
from ..servers import open_codex

pytestmark = pytest.mark.interop

WAIT = 15


@pytest.fixture(params=[Generation.V0_130, Generation.V0_171], ids=["codex-0.130", "codex-0.171"])
async def client(request: pytest.FixtureRequest) -> AsyncIterator[execsrv.Client]:
    async with (
        open_codex(generation=request.param) as codex,
        execsrv.connect(codex.url, client_name="interop") as c,
    ):
        assert c.generation is request.param
        yield c


@pytest.fixture
async def http_server() -> AsyncIterator[HttpServer]:
    async with open_http_server() as server:
        yield server


async def test_buffered(client: execsrv.Client, http_server: HttpServer) -> None:
    with trio.fail_after(WAIT):
        response = await client.http.request(
            "POST", http_server.url(), body=b"x", headers={"A": "1"}
        )
    assert response.status == 200
    assert response.header("content-type") == "application/json"
    assert http_server.received[0].headers[0] == ("a", "1")


async def test_streamed(client: execsrv.Client, http_server: HttpServer) -> None:
    with trio.fail_after(WAIT):
        response = await client.http.request(
            "GET", http_server.url("/chunked?n=3000000&chunk=50000"), stream=True
        )
        assert isinstance(response.body, HttpBodyStream)
        assert await response.body.read() == pattern(3000000)


async def test_streamed_error(client: execsrv.Client, http_server: HttpServer) -> None:
    with trio.fail_after(WAIT):
        response = await client.http.request(
            "GET", http_server.url("/broken?n=100000"), stream=True
        )
        assert isinstance(response.body, HttpBodyStream)
        with pytest.raises(HttpStreamError, match="error decoding response body"):
            await response.body.read()
