"""Hostile upgrade requests: a bad handshake ends that connection only, and soon.

Every bad request gets HTTP 400 or a close; a peer that stops sending is let go at
EOF or at the handshake deadline; idle peers beyond the pending-handshake limit make
room for new ones (the oldest is closed). The server keeps serving throughout.
"""

from __future__ import annotations

import contextlib

import pytest
import trio

from .support import exchange, port_of, running, status_of, upgrade, upgrade_request

REPORTED_HEADERS = [
    pytest.param((b"Host", b"\xff"), id="host-ff"),
    pytest.param((b"Host", b"xn--"), id="host-empty-punycode"),
    pytest.param((b"Sec-WebSocket-Extensions", b"\xff"), id="extensions-ff"),
    pytest.param((b"Connection", b"Upgrade, \xff"), id="connection-ff"),
    pytest.param((b"Sec-WebSocket-Protocol", b"\xff"), id="protocol-ff"),
]


@pytest.mark.parametrize("header", REPORTED_HEADERS)
async def test_a_non_ascii_header_gets_400_and_the_server_keeps_serving(
    header: tuple[bytes, bytes],
) -> None:
    async with running() as server:
        assert server.url is not None
        port = port_of(server.url)
        with trio.fail_after(10):
            for half_close in (False, True):
                answer = await exchange(
                    port, upgrade_request(port, [header]), half_close=half_close
                )
                assert status_of(answer) == 400, answer
                assert b"bad websocket upgrade request" in answer
            assert (await upgrade(server.url)).status == 101


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        pytest.param(b"GET /\xff HTTP/1.1\r\nHost: h\r\n\r\n", 400, id="non-ascii-target"),
        pytest.param(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" * 4, 400, id="tls-hello"),
        pytest.param(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n", 400, id="post"),
        pytest.param(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n", 400, id="plain-get"),
    ],
)
async def test_requests_that_are_no_websocket_upgrade_get_400(
    request_bytes: bytes, status: int
) -> None:
    async with running() as server:
        assert server.url is not None
        with trio.fail_after(10):
            answer = await exchange(port_of(server.url), request_bytes)
            assert status_of(answer) == status, answer[:200]
            assert (await upgrade(server.url)).status == 101


async def test_a_request_head_that_never_ends_is_refused_at_16_kib() -> None:
    async with running(handshake_timeout=60.0) as server:
        assert server.url is not None
        with trio.fail_after(10):
            stream = await trio.open_tcp_stream("127.0.0.1", port_of(server.url))
            async with stream:
                await stream.send_all(b"GET / HTTP/1.1\r\nX: ")
                answer = bytearray()
                try:
                    while True:
                        await stream.send_all(b"a" * 4096)
                except trio.BrokenResourceError:
                    pass  # the server answered and closed, with our bytes unread: a reset
                with contextlib.suppress(trio.BrokenResourceError):
                    while chunk := await stream.receive_some():
                        answer += chunk
            # The reset may beat the answer; either way the server let go.
            assert status_of(bytes(answer)) in (400, None), answer[:200]
            assert (await upgrade(server.url)).status == 101


async def test_a_wrong_websocket_version_gets_426_naming_the_version() -> None:
    async with running() as server:
        assert server.url is not None
        port = port_of(server.url)
        with trio.fail_after(10):
            answer = await exchange(port, upgrade_request(port, [(b"Sec-WebSocket-Version", b"8")]))
        assert status_of(answer) == 426, answer
        assert b"\r\nSec-WebSocket-Version: 13\r\n" in answer


@pytest.mark.parametrize(
    "sent",
    [
        pytest.param(0, id="nothing"),
        pytest.param(20, id="request-line"),
        pytest.param(-2, id="all-but-the-final-crlf"),
    ],
)
async def test_eof_during_the_upgrade_request_releases_the_connection_at_once(
    sent: int,
) -> None:
    # A long deadline: only noticing the EOF can release the connection in time.
    async with running(handshake_timeout=60.0) as server:
        assert server.url is not None
        port = port_of(server.url)
        partial = upgrade_request(port)[:sent]
        with trio.fail_after(5):
            assert await exchange(port, partial) == b""
            while server.pending_handshakes:  # noqa: ASYNC110 (no event for it)
                await trio.sleep(0.01)


async def test_an_upgrade_request_without_its_final_crlf_is_dropped_at_the_deadline() -> None:
    deadline = 0.3
    async with running(handshake_timeout=deadline) as server:
        assert server.url is not None
        port = port_of(server.url)
        started = trio.current_time()
        with trio.fail_after(5):
            answer = await exchange(port, upgrade_request(port, final_crlf=False), half_close=False)
        assert answer == b""
        assert trio.current_time() - started >= deadline * 0.9
        assert server.pending_handshakes == 0
        assert (await upgrade(server.url)).status == 101


async def test_a_slow_sender_is_dropped_at_the_deadline_however_it_trickles() -> None:
    deadline = 0.5
    async with running(handshake_timeout=deadline) as server:
        assert server.url is not None
        port = port_of(server.url)
        request = upgrade_request(port)
        with trio.fail_after(5):
            stream = await trio.open_tcp_stream("127.0.0.1", port)
            async with stream:
                closed = False
                for byte in request:
                    try:
                        await stream.send_all(bytes([byte]))
                    except trio.BrokenResourceError:
                        closed = True
                        break
                    with trio.move_on_after(0.05):
                        if await stream.receive_some() == b"":
                            closed = True
                            break
                assert closed, "the server waited for a request trickling past its deadline"


async def test_hit_and_run_connects_leave_nothing_behind() -> None:
    async with running(handshake_timeout=60.0) as server:
        assert server.url is not None
        port = port_of(server.url)
        with trio.fail_after(10):
            for _ in range(300):
                stream = await trio.open_tcp_stream("127.0.0.1", port)
                await stream.aclose()
            while server.pending_handshakes:  # noqa: ASYNC110 (no event for it)
                await trio.sleep(0.01)
            assert (await upgrade(server.url)).status == 101


async def test_beyond_the_pending_limit_the_oldest_idle_peer_makes_room() -> None:
    limit = 4
    async with running(max_pending_handshakes=limit, handshake_timeout=60.0) as server:
        assert server.url is not None
        port = port_of(server.url)
        with trio.fail_after(10):
            idle = [await trio.open_tcp_stream("127.0.0.1", port) for _ in range(10)]
            # The six oldest are closed, in the order they came.
            for stream in idle[:6]:
                assert await stream.receive_some() == b""
            while server.pending_handshakes < limit:  # noqa: ASYNC110 (no event for it)
                await trio.sleep(0.01)
            assert server.pending_handshakes == limit
            # A real client still gets in while the idle peers are held.
            assert (await upgrade(server.url)).status == 101
            assert await idle[6].receive_some() == b""
        for stream in idle:
            await stream.aclose()
