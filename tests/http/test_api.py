"""``client.http.request`` through a real execsrv to the test HTTP(S) server.

Covers the handler (buffered and streamed bodies, deadlines, limits, TLS via
``http_ca_file``, concurrency, streams dying with their connection) and the
client (typed responses, body streams and their failures).
"""

from __future__ import annotations

import json

import pytest
import trio

import execsrv
from execsrv import Disconnected, RemoteError
from execsrv.client import HttpBodyStream, HttpStreamError
from execsrv.client.http_body import BODY_BUFFER_FRAMES
from execsrv.protocol.http import HttpRequestBodyDeltaNotification

from ..proxy import open_proxy
from .conftest import closed_port
from .server import HttpServer, pattern

WAIT = 10


async def collect(body: HttpBodyStream, into: bytearray) -> None:
    """Append every chunk to ``into`` (what arrived stays there when the stream raises)."""
    async for chunk in body:
        into += chunk


async def test_buffered_request(client: execsrv.Client, http_server: HttpServer) -> None:
    with trio.fail_after(WAIT):
        response = await client.http.request(
            "PUT", http_server.url(), headers={"X-Test": "1"}, body=b"data"
        )
    assert response.status == 200
    assert response.header("content-type") == "application/json"
    assert response.request_id.startswith("http-")
    assert isinstance(response.body, bytes)
    echoed = json.loads(response.body)
    assert echoed["method"] == "PUT"
    assert ["x-test", "1"] in echoed["headers"]
    assert http_server.received[0].body == b"data"


async def test_headers_that_are_not_visible_ascii_are_dropped(
    client: execsrv.Client, http_server: HttpServer
) -> None:
    with trio.fail_after(WAIT):
        response = await client.http.request("GET", http_server.url("/headers"))
    assert response.headers == [
        ("x-one", "1"),
        ("x-multi", "a"),
        ("x-multi", "c"),
        ("x-other", "b"),
        ("x-tab", "a\tb"),
        ("content-length", "2"),
    ]


async def test_error_statuses_are_results(client: execsrv.Client, http_server: HttpServer) -> None:
    with trio.fail_after(WAIT):
        response = await client.http.request("GET", http_server.url("/status?code=500"))
    assert (response.status, response.body) == (500, b"status 500\n")


async def test_invalid_and_failed_requests(client: execsrv.Client) -> None:
    with trio.fail_after(WAIT):
        with pytest.raises(RemoteError) as invalid:
            await client.http.request("GET", "ftp://x/")
        url = f"http://127.0.0.1:{closed_port()}/"
        with pytest.raises(RemoteError) as failed:
            await client.http.request("GET", url, stream=True)
    assert (invalid.value.code, invalid.value.message) == (
        -32602,
        "http/request only supports http and https URLs, got ftp",
    )
    assert (failed.value.code, failed.value.message) == (
        -32603,
        f"http/request failed: error sending request for url ({url})",
    )


@pytest.mark.parametrize("path", ["/bytes?n=2000000&chunk=100000", "/chunked?n=2000000&chunk=9000"])
async def test_streamed_body(client: execsrv.Client, http_server: HttpServer, path: str) -> None:
    with trio.fail_after(WAIT):
        response = await client.http.request("GET", http_server.url(path), stream=True)
        assert isinstance(response.body, HttpBodyStream)
        assert response.status == 200
        chunks = [chunk async for chunk in response.body]
    assert len(chunks) > 1
    assert b"".join(chunks) == pattern(2000000)


async def test_streamed_head_ends_at_once(client: execsrv.Client, http_server: HttpServer) -> None:
    with trio.fail_after(WAIT):
        response = await client.http.request("HEAD", http_server.url("/bytes?n=10"), stream=True)
        assert isinstance(response.body, HttpBodyStream)
        assert await response.body.read() == b""
    assert response.header("content-length") == "10"


async def test_a_broken_stream_raises_after_its_chunks(
    client: execsrv.Client, http_server: HttpServer
) -> None:
    with trio.fail_after(WAIT):
        response = await client.http.request(
            "GET", http_server.url("/broken?n=100000"), stream=True
        )
        assert isinstance(response.body, HttpBodyStream)
        received = bytearray()
        with pytest.raises(HttpStreamError) as caught:
            await collect(response.body, received)
    assert received == pattern(100000)[: len(received)]
    assert len(received) == 50000
    assert caught.value.reason == "error decoding response body"
    assert str(caught.value) == (
        f"http response stream `{response.request_id}` failed: error decoding response body"
    )


async def test_the_deadline_covers_a_streamed_body(
    client: execsrv.Client, http_server: HttpServer
) -> None:
    url = http_server.url("/drip?n=50&every=0.05")
    with trio.fail_after(WAIT):
        response = await client.http.request("GET", url, stream=True, timeout_ms=300)
        assert isinstance(response.body, HttpBodyStream)
        received = bytearray()
        with pytest.raises(HttpStreamError, match="error decoding response body"):
            await collect(response.body, received)
    assert 0 < len(received) < 500


async def test_deadlines_before_the_headers(
    client: execsrv.Client, http_server: HttpServer
) -> None:
    hang = http_server.url("/hang")
    expected = f"http/request failed: error sending request for url ({hang})"
    with trio.fail_after(WAIT):
        start = trio.current_time()
        with pytest.raises(RemoteError, match=expected.replace("(", r"\(").replace(")", r"\)")):
            await client.http.request("GET", hang, timeout_ms=200)
        assert 0.15 < trio.current_time() - start < 2
        with pytest.raises(RemoteError) as zero:
            await client.http.request("GET", http_server.url(), timeout_ms=0)
    assert (
        zero.value.message
        == f"http/request failed: error sending request for url ({http_server.url()})"
    )
    assert len(http_server.received) == 1  # timeoutMs 0: nothing was sent


async def test_buffered_body_deadline_and_limit(
    client: execsrv.Client, http_server: HttpServer
) -> None:
    with trio.fail_after(WAIT):
        with pytest.raises(RemoteError) as slow:
            await client.http.request("GET", http_server.url("/drip?n=20"), timeout_ms=300)
        big = http_server.url(f"/bytes?n={(1 << 20) + 1}")
        with pytest.raises(RemoteError) as large:
            await client.http.request("GET", big)
        streamed = await client.http.request("GET", big, stream=True)
        assert isinstance(streamed.body, HttpBodyStream)
        assert len(await streamed.body.read()) == (1 << 20) + 1  # streams are not limited
    assert slow.value.message == (
        "failed to read http/request response body: error decoding response body"
    )
    assert (large.value.code, large.value.message) == (
        -32603,
        "failed to read http/request response body: "
        "response body is larger than the limit of 1048576 bytes",
    )


async def test_https_with_the_configured_ca(
    client: execsrv.Client, https_server: HttpServer
) -> None:
    with trio.fail_after(WAIT):
        response = await client.http.request("POST", https_server.url(), body=b"tls")
        streamed = await client.http.request("GET", https_server.url("/bytes?n=70000"), stream=True)
        assert isinstance(streamed.body, HttpBodyStream)
        assert await streamed.body.read() == pattern(70000)
    assert json.loads(response.body)["body"] == "dGxz"


async def test_a_slow_request_holds_up_nothing(
    client: execsrv.Client, http_server: HttpServer
) -> None:
    """DESIGN.md §1.1.1: the reference would answer the quick calls after the slow one."""
    done: list[str] = []
    with trio.fail_after(WAIT):
        async with trio.open_nursery() as nursery:

            async def slow() -> None:
                await client.http.request("GET", http_server.url("/drip?n=6&every=0.1"))
                done.append("slow")

            nursery.start_soon(slow)
            await trio.sleep(0.05)
            await client.http.request("GET", http_server.url())
            await client.list_processes()
            done.append("quick")
    assert done == ["quick", "slow"]


async def test_many_streams_at_once(client: execsrv.Client, http_server: HttpServer) -> None:
    bodies: dict[int, bytes] = {}

    async def one(n: int) -> None:
        response = await client.http.request(
            "GET", http_server.url(f"/chunked?n={n}&chunk=5000"), stream=True
        )
        assert isinstance(response.body, HttpBodyStream)
        bodies[n] = await response.body.read()

    with trio.fail_after(WAIT):
        async with trio.open_nursery() as nursery:
            for n in range(100000, 100008):
                nursery.start_soon(one, n)
    assert bodies == {n: pattern(n) for n in range(100000, 100008)}


async def test_a_lost_connection_fails_the_stream_and_aborts_the_fetch(
    server: execsrv.ExecServer, http_server: HttpServer
) -> None:
    assert server.port is not None
    with trio.fail_after(WAIT):
        async with open_proxy(server.port) as proxy, execsrv.connect(proxy.url) as client:
            url = http_server.url("/drip?n=400&every=0.02&drip=1000")
            response = await client.http.request("GET", url, stream=True)
            assert isinstance(response.body, HttpBodyStream)
            assert await response.body.__anext__()
            proxy.sever()
            with pytest.raises(Disconnected):
                await collect(response.body, bytearray())
        await http_server.wait_aborted()  # the server's fetch was cancelled: the drip breaks


def _delta(seq: int, data: bytes = b"x", *, done: bool = False, error: str | None = None):
    return HttpRequestBodyDeltaNotification(
        request_id="r", seq=seq, delta_base64=data, done=done, error=error
    )


async def test_a_seq_gap_fails_the_stream() -> None:
    finished: list[HttpBodyStream] = []
    stream = HttpBodyStream("r", finished.append)
    stream.feed(_delta(1, b"a"))
    stream.feed(_delta(3, b"c"))
    stream.feed(_delta(4, b"", done=True))  # ignored: the stream already failed
    assert await stream.__anext__() == b"a"
    with pytest.raises(HttpStreamError) as caught:
        await stream.__anext__()
    assert str(caught.value) == "http response stream `r` received seq 3, expected 2"
    assert finished == [stream]  # the router stops routing to it


async def test_a_consumer_that_falls_behind_fails_the_stream() -> None:
    stream = HttpBodyStream("r", lambda stream: None)
    for seq in range(1, BODY_BUFFER_FRAMES + 2):
        stream.feed(_delta(seq))
    received = bytearray()
    with pytest.raises(HttpStreamError, match="body delta channel filled before delivery"):
        await collect(stream, received)
    assert len(received) == BODY_BUFFER_FRAMES  # what was buffered is still delivered


async def test_a_final_frame_may_carry_data_and_an_error() -> None:
    stream = HttpBodyStream("r", lambda stream: None)
    stream.feed(_delta(1, b"last", done=True, error="boom"))
    assert await stream.__anext__() == b"last"
    with pytest.raises(HttpStreamError, match=r"^http response stream `r` failed: boom$"):
        await stream.__anext__()
    closed = HttpBodyStream("s", lambda stream: None)
    closed.close()
    closed.feed(_delta(1))
    assert await closed.read() == b""


async def test_cancel_stops_a_streamed_download(
    client: execsrv.Client, http_server: HttpServer
) -> None:
    """``http/request/cancel`` (extension): the origin connection closes, the body ends
    with ``cancelled``, and a second cancel finds nothing running."""
    with trio.fail_after(WAIT):
        response = await client.http.request(
            "GET", http_server.url("/drip?n=100000&every=0.01"), stream=True
        )
        assert isinstance(response.body, HttpBodyStream)
        assert await client.http.cancel(response.request_id)
        with pytest.raises(HttpStreamError) as raised:
            await response.body.read()
        await http_server.wait_aborted()
        assert not await client.http.cancel(response.request_id)
    assert raised.value.reason == "cancelled"


async def test_cancelled_before_the_head_stops_on_the_server(
    client: execsrv.Client, http_server: HttpServer
) -> None:
    """A streamed request cancelled while waiting for its head is cancelled on the
    server too: the id is free again at once (a running one would be refused)."""
    with trio.fail_after(WAIT):
        with trio.move_on_after(0.5):
            await client.http.request("GET", http_server.url("/hang"), stream=True)
        assert [request.target for request in http_server.received] == ["/hang"]
        assert not await client.http.cancel("http-1")
