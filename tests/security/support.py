"""Helpers for the security tests: raw HTTP upgrades, token files, in-process servers."""

from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit

import trio

import execsrv

from ..conftest import TEST_CONFIG

TOKEN = "tok-0123456789abcdef0123456789abcdef"


def token_file(directory: Path, content: str = TOKEN + "\n") -> str:
    """A token file readable by its owner only (as the server recommends)."""
    path = directory / "token"
    path.write_text(content)
    path.chmod(0o600)
    return str(path)


@asynccontextmanager
async def running(**options: object) -> AsyncIterator[execsrv.ExecServer]:
    """An in-process server on 127.0.0.1:0 with ``options`` on top of the test config."""
    config = replace(TEST_CONFIG, listen="ws://127.0.0.1:0", **options)  # type: ignore[arg-type]
    async with trio.open_nursery() as nursery:
        server: execsrv.ExecServer = await nursery.start(partial(execsrv.serve, config=config))
        yield server
        nursery.cancel_scope.cancel()


@dataclass
class HttpAnswer:
    status: int
    headers: dict[str, str]
    body: bytes
    closed: bool
    """The server closed the TCP connection after the answer."""


def port_of(url: str) -> int:
    port = urlsplit(url).port
    assert port is not None, url
    return port


async def upgrade(url: str, headers: Sequence[tuple[str, str]] = ()) -> HttpAnswer:
    """Send a websocket upgrade request by hand to 127.0.0.1 and read the HTTP answer.

    For 101 the connection is then dropped; for an error the body is read and the
    server is expected to close the connection.
    """
    port = port_of(url)
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        "GET / HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        *(f"{name}: {value}" for name, value in headers),
    ]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    with trio.fail_after(10):
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        async with stream:
            await stream.send_all(request)
            buffer = bytearray()
            while b"\r\n\r\n" not in buffer:
                chunk = await stream.receive_some()
                assert chunk, f"connection closed before an HTTP answer: {bytes(buffer)!r}"
                buffer += chunk
            head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
            status_line, *header_lines = head.decode("latin-1").split("\r\n")
            version, status, *_ = status_line.split(" ", 2)
            assert version == "HTTP/1.1", status_line
            answer_headers: dict[str, str] = {}
            for line in header_lines:
                name, _, value = line.partition(":")
                answer_headers[name.strip().lower()] = value.strip()
            if status == "101":
                return HttpAnswer(101, answer_headers, b"", closed=False)
            body = bytearray(rest)
            length = int(answer_headers.get("content-length", "0"))
            while len(body) < length:
                chunk = await stream.receive_some()
                assert chunk, "connection closed inside the body"
                body += chunk
            closed = await stream.receive_some() == b""
            return HttpAnswer(int(status), answer_headers, bytes(body), closed)


def upgrade_request(
    port: int, headers: Sequence[tuple[bytes, bytes]] = (), *, final_crlf: bool = True
) -> bytes:
    """A websocket upgrade request as raw bytes, for requests no client library would send.

    ``headers`` replace the standard header of the same name (ignoring case) or are
    added; ``final_crlf=False`` leaves out the empty line that ends the request.
    """
    key = base64.b64encode(os.urandom(16))
    standard = [
        (b"Host", f"127.0.0.1:{port}".encode()),
        (b"Upgrade", b"websocket"),
        (b"Connection", b"Upgrade"),
        (b"Sec-WebSocket-Key", key),
        (b"Sec-WebSocket-Version", b"13"),
    ]
    replaced = {name.lower() for name, _ in headers}
    lines = [
        b"GET / HTTP/1.1",
        *(b"%s: %s" % pair for pair in standard if pair[0].lower() not in replaced),
        *(b"%s: %s" % pair for pair in headers),
    ]
    return b"\r\n".join(lines) + b"\r\n" + (b"\r\n" if final_crlf else b"")


async def exchange(port: int, request: bytes, *, half_close: bool = True) -> bytes:
    """Send ``request`` on a new connection; everything the server sent until it closed.

    ``half_close`` ends our side after the request (EOF), as a hit-and-run peer does.
    A reset counts as a close (a server that closes with our bytes unread resets).
    Time limits are the caller's.
    """
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    answer = bytearray()
    async with stream:
        try:
            await stream.send_all(request)
            if half_close:
                await stream.send_eof()
            while chunk := await stream.receive_some():
                answer += chunk
        except trio.BrokenResourceError:
            pass
    return bytes(answer)


def status_of(answer: bytes) -> int | None:
    """The status of an HTTP answer, None when the server closed without one."""
    if not answer:
        return None
    version, status, *_ = answer.split(b"\r\n", 1)[0].split(b" ", 2)
    assert version == b"HTTP/1.1", answer[:200]
    return int(status)
