"""Fuzz: mutated raw upgrade requests (bytes, not strings) against one live server.

Each example is a valid upgrade request with header values replaced by random
bytes, headers added, dropped or repeated, a different request line, and then a
few raw bytes inserted, overwritten or cut. It is sent on a new connection,
followed by EOF. The server must answer (101, or an HTTP error) or close, every
time, and never log a traceback; afterwards a client still completes a handshake.
"""

from __future__ import annotations

import socket

import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ..servers import open_execsrv
from ..wire import open_wire
from .support import port_of

KEY = b"dGhlIHNhbXBsZSBub25jZQ=="
STANDARD_HEADERS = [
    (b"Host", b"127.0.0.1"),
    (b"Upgrade", b"websocket"),
    (b"Connection", b"Upgrade"),
    (b"Sec-WebSocket-Key", KEY),
    (b"Sec-WebSocket-Version", b"13"),
]
HEADER_NAMES = [
    *(name for name, _ in STANDARD_HEADERS),
    b"Sec-WebSocket-Extensions",
    b"Sec-WebSocket-Protocol",
    b"Origin",
    b"Authorization",
    b"Content-Length",
    b"Transfer-Encoding",
]
SPECIAL_VALUES = [
    b"\xff",
    b"xn--",
    b"xn--\xff",
    b"Upgrade, \xff",
    b"\xc3\xa9",
    b"permessage-deflate; client_max_window_bits",
    b"websocket",
    b"13",
    b"",
    b" ",
    b"\x00",
    b"a" * 300,
]
REQUEST_LINES = [
    b"GET / HTTP/1.1",
    b"GET /\xff HTTP/1.1",
    b"GET / HTTP/1.0",
    b"POST / HTTP/1.1",
    b"GET * HTTP/1.1",
    b"GET http://x/ HTTP/1.1",
    b"get / http/1.1",
    b"",
]
ANSWERS = {101, 400, 403, 404, 426}
"""101, or what a bad request can get: 400, 426 (version), 403 (an Origin header),
404 (a path other than ``/``: only ``/`` upgrades, as in codex 0.171)."""

header_names = st.sampled_from(HEADER_NAMES) | st.binary(max_size=12)
header_values = st.sampled_from(SPECIAL_VALUES) | st.binary(max_size=16)
lines = st.binary(max_size=20)


@st.composite
def upgrade_requests(draw: st.DrawFn) -> bytes:
    headers = list(STANDARD_HEADERS)
    for _ in range(draw(st.integers(0, 3))):
        operation = draw(st.sampled_from(["replace", "add", "drop", "repeat"]))
        index = draw(st.integers(0, max(0, len(headers) - 1)))
        if operation == "add" or not headers:
            headers.insert(index, (draw(header_names), draw(header_values)))
        elif operation == "replace":
            headers[index] = (headers[index][0], draw(header_values))
        elif operation == "drop":
            del headers[index]
        else:
            headers.insert(index, headers[index])
    request_line = draw(st.just(REQUEST_LINES[0]) | st.sampled_from(REQUEST_LINES) | lines)
    raw = b"\r\n".join([request_line, *(name + b": " + value for name, value in headers)])
    raw += b"\r\n\r\n"
    for _ in range(draw(st.sampled_from([0, 0, 1, 2, 3]))):
        operation = draw(st.sampled_from(["insert", "overwrite", "cut"]))
        position = draw(st.integers(0, len(raw)))
        if operation == "cut":
            raw = raw[:position] + raw[position + draw(st.integers(1, 8)) :]
        else:
            data = draw(st.binary(min_size=1, max_size=4))
            skip = len(data) if operation == "overwrite" else 0
            raw = raw[:position] + data + raw[position + skip :]
    return raw


def exchange_blocking(port: int, request: bytes) -> bytes:
    """Send ``request`` then EOF; what the server sent before closing (a reset ends it)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        answer = bytearray()
        try:
            sock.sendall(request)
            sock.shutdown(socket.SHUT_WR)
            while chunk := sock.recv(65536):
                answer += chunk
        except (ConnectionResetError, BrokenPipeError):
            pass
        return bytes(answer)


def fuzz(port: int) -> None:
    @settings(
        max_examples=300,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(upgrade_requests())
    def one_request(request: bytes) -> None:
        answer = exchange_blocking(port, request)
        if answer:
            status_line = answer.split(b"\r\n", 1)[0]
            version, status, *_ = status_line.split(b" ", 2)
            assert version == b"HTTP/1.1", answer[:200]
            assert int(status) in ANSWERS, answer[:200]

    one_request()


async def test_mutated_upgrade_requests_never_take_the_server_down() -> None:
    async with open_execsrv() as server:
        port = port_of(server.url)
        with trio.fail_after(120):
            await trio.to_thread.run_sync(fuzz, port)
            assert server.process.returncode is None
            async with open_wire(server.url) as wire:
                await wire.handshake()
                assert (await wire.request("process/list", {}))["result"] == {"processes": []}
        log = server.stderr_text()
    assert "Traceback" not in log, log[-4000:]
    assert "connection failed" not in log, log[-4000:]
