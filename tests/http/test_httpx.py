"""``execsrv.httpx`` and ``execsrv.httpx2``: an ``httpx.AsyncClient`` (and an
``httpx2.AsyncClient``) whose requests a real execsrv makes. Every test runs with both.

The requests go to the test HTTP server on 127.0.0.1; what it received shows
that they came through the executor (one ``http/request`` per hop).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from types import ModuleType
from typing import Any

import httpx
import httpx2
import pytest
import trio

import execsrv
import execsrv.httpx
import execsrv.httpx2

from .conftest import closed_port
from .server import HttpServer, pattern

WAIT = 10


@pytest.fixture(params=["httpx", "httpx2"])
def lib(request: pytest.FixtureRequest) -> ModuleType:
    """The HTTP library: ``httpx``, or ``httpx2`` (same API, its own classes)."""
    return httpx if request.param == "httpx" else httpx2


@pytest.fixture
async def http(client: execsrv.Client, lib: ModuleType) -> AsyncIterator[Any]:
    flavour = execsrv.httpx if lib is httpx else execsrv.httpx2
    async with lib.AsyncClient(transport=flavour.transport(client)) as http_client:
        yield http_client


async def test_get_sends_httpx_headers_and_returns_the_response(
    http: Any, lib: ModuleType, http_server: HttpServer
) -> None:
    with trio.fail_after(WAIT):
        response = await http.get(http_server.url("/echo?a=1"), headers={"X-Test": "yes"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    echoed = response.json()
    assert echoed["method"] == "GET"
    assert echoed["target"] == "/echo?a=1"
    sent = {name.lower(): value for name, value in echoed["headers"]}
    assert sent["x-test"] == "yes"
    assert sent["user-agent"].startswith(f"python-{lib.__name__}/")
    assert len(http_server.received) == 1


async def test_post_body_arrives_whole(http: Any, http_server: HttpServer) -> None:
    body = pattern(100_000)
    with trio.fail_after(WAIT):
        response = await http.post(http_server.url(), content=body)
    [received] = http_server.received
    assert received.method == "POST"
    assert received.body == body
    assert received.header("content-length") == [str(len(body))]
    assert response.json()["method"] == "POST"


async def test_streamed_request_body_is_sent_with_a_length(
    http: Any, http_server: HttpServer
) -> None:
    async def parts() -> AsyncIterator[bytes]:
        yield b"one,"
        yield b"two"

    with trio.fail_after(WAIT):
        await http.post(http_server.url(), content=parts())
    [received] = http_server.received
    assert received.body == b"one,two"
    assert received.header("transfer-encoding") == []
    assert received.header("content-length") == ["7"]


async def test_statuses_and_repeated_headers(http: Any, http_server: HttpServer) -> None:
    with trio.fail_after(WAIT):
        missing = await http.get(http_server.url("/status?code=404"))
        headers = await http.get(http_server.url("/headers"))
    assert missing.status_code == 404
    assert missing.text == "status 404\n"
    assert headers.headers.get_list("x-multi") == ["a", "c"]
    assert headers.headers["x-one"] == "1"


async def test_large_body_streams_incrementally_and_exactly(
    http: Any, http_server: HttpServer
) -> None:
    size = 8 << 20
    received = bytearray()
    chunks = 0
    with trio.fail_after(WAIT):
        async with http.stream("GET", http_server.url(f"/chunked?n={size}")) as response:
            assert response.status_code == 200
            async for chunk in response.aiter_raw():
                received += chunk
                chunks += 1
    assert chunks > 1
    assert received == pattern(size)


async def test_gzip_body_arrives_decoded(http: Any, http_server: HttpServer) -> None:
    with trio.fail_after(WAIT):
        response = await http.get(http_server.url("/gzip?n=5000"))
    assert response.content == pattern(5000)


async def test_early_close_stops_the_executor_download(http: Any, http_server: HttpServer) -> None:
    # A body that would take 1000 s: only http/request/cancel ends it in time.
    with trio.fail_after(WAIT):
        async with http.stream("GET", http_server.url("/drip?n=100000&every=0.01")) as response:
            assert response.status_code == 200
        await http_server.wait_aborted()
        # The client carries on with other requests on the same connection.
        again = await http.get(http_server.url())
    assert again.status_code == 200


async def test_read_body_is_not_cancelled(
    http: Any, client: execsrv.Client, http_server: HttpServer
) -> None:
    with trio.fail_after(WAIT):
        async with http.stream("GET", http_server.url("/bytes?n=1000")) as response:
            await response.aread()
        # The body was done before the close: nothing was left to cancel.
        assert not await client.http.cancel("http-1")
    assert http_server.aborted == 0


async def test_follow_redirects_is_httpx_s(http: Any, http_server: HttpServer) -> None:
    with trio.fail_after(WAIT):
        stopped = await http.get(http_server.url("/redirect?to=/echo"))
        followed = await http.get(http_server.url("/chain?n=2"), follow_redirects=True)
    assert stopped.status_code == 302
    assert stopped.headers["location"] == "/echo"
    assert stopped.url == http_server.url("/redirect?to=/echo")
    assert followed.status_code == 200
    assert followed.url == http_server.url("/chain?n=0")
    assert [hop.status_code for hop in followed.history] == [302, 302]
    # One http/request per hop: the server saw each one.
    assert [r.target for r in http_server.received] == [
        "/redirect?to=/echo",
        "/chain?n=2",
        "/chain?n=1",
        "/chain?n=0",
    ]


async def test_too_many_redirects(http: Any, lib: ModuleType, http_server: HttpServer) -> None:
    with trio.fail_after(WAIT), pytest.raises(lib.TooManyRedirects):
        await http.get(http_server.url("/loop"), follow_redirects=True)


async def test_connection_refused_is_connect_error(http: Any, lib: ModuleType) -> None:
    with trio.fail_after(WAIT), pytest.raises(lib.ConnectError) as raised:
        await http.get(f"http://127.0.0.1:{closed_port()}/")
    assert "error sending request" in str(raised.value)


async def test_unsupported_scheme(http: Any, lib: ModuleType) -> None:
    with trio.fail_after(WAIT), pytest.raises(lib.UnsupportedProtocol):
        await http.get("ftp://127.0.0.1/")


async def test_no_head_in_time_is_read_timeout(
    http: Any, lib: ModuleType, http_server: HttpServer
) -> None:
    with trio.fail_after(WAIT), pytest.raises(lib.ReadTimeout):
        await http.get(http_server.url("/hang"), timeout=lib.Timeout(0.2))


async def test_slow_body_is_read_timeout(
    http: Any, lib: ModuleType, http_server: HttpServer
) -> None:
    with trio.fail_after(WAIT):
        async with http.stream(
            "GET", http_server.url("/drip?n=3&every=0.5"), timeout=lib.Timeout(0.2)
        ) as response:
            assert response.status_code == 200
            with pytest.raises(lib.ReadTimeout):
                await response.aread()
        # The timeout cancelled the download: the next drip finds the connection closed.
        await http_server.wait_aborted()


async def test_broken_body_is_remote_protocol_error(
    http: Any, lib: ModuleType, http_server: HttpServer
) -> None:
    with trio.fail_after(WAIT), pytest.raises(lib.RemoteProtocolError):
        await http.get(http_server.url("/broken?n=100000"))


async def test_https_through_the_executor_trust(http: Any, https_server: HttpServer) -> None:
    with trio.fail_after(WAIT):
        response = await http.get(https_server.url("/echo"))
    assert json.loads(response.content)["method"] == "GET"
