"""A small HTTP/1.1 server on 127.0.0.1 for the http/request tests (trio + h11).

It shares no code with execsrv: both execsrv and codex fetch from it. Every
request is recorded (method, target, headers exactly as they came off the
wire, body) so tests can check what the client sent. Endpoints:

=====================  ==================================================================
``/echo``              200, JSON ``{method, target, headers: [[name, value]], body}``
                       (body base64; header names as received)
``/bytes?n=N``         ``n`` bytes with ``content-length``, written in ``chunk`` pieces
``/chunked?n=N``       ``n`` bytes with ``transfer-encoding: chunked``, ``chunk`` a piece
``/drip?n=N&every=S``  ``n`` chunked pieces of ``drip`` bytes, one every ``S`` seconds
``/broken?n=N``        promises ``n`` bytes (content-length), sends half, then closes;
                       ``&chunked=1``: a chunked body that stops mid-chunk
``/hang``              reads the request, never answers
``/status?code=C``     status ``C`` with a short text body
``/redirect``          ``status`` (default 302) to ``to`` (default ``/echo``)
``/chain?n=K``         302 to ``/chain?n=K-1`` … ``n=0`` answers like ``/echo``
``/loop``              302 to itself, forever
``/headers``           repeated and mixed-case response headers, and one with a
                       non-ASCII value (``x-bin: caf\\xe9``)
``/gzip?n=N``          ``n`` bytes gzip-compressed, ``content-encoding: gzip`` (``enc``
                       replaces the value), ``content-length``, in ``chunk`` pieces;
                       ``&zeros=1``: zeros instead of the pattern (a gzip bomb);
                       ``&members=K``: K gzip members back to back; ``&chunked=1``;
                       ``&damage=1``: a corrupted stream; ``&cut=1``: its last 8 bytes
                       (the trailer) left out; ``&junk=J``: ``J`` appended
=====================  ==================================================================

``chunk`` (default 65536) sets the piece size of generated bodies. The body of
``n`` bytes is :func:`pattern` ``(n)``. Any method works on any path; HEAD gets
the headers only.
"""

from __future__ import annotations

import base64
import gzip
import json
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

import h11
import trio

READ_SIZE: Final = 65536

Headers = list[tuple[bytes, bytes]]


def pattern(n: int) -> bytes:
    """``n`` bytes of a repeating, position-dependent pattern (so reordering shows)."""
    block = bytes(range(256)) * 16
    whole, rest = divmod(n, len(block))
    return block * whole + block[:rest]


@dataclass(frozen=True)
class Received:
    """One request as it came off the wire."""

    method: str
    target: str
    headers: list[tuple[str, str]]  # raw names (wire casing), in wire order
    body: bytes

    def header(self, name: str) -> list[str]:
        return [v for n, v in self.headers if n.lower() == name.lower()]


@dataclass
class HttpServer:
    port: int = 0
    scheme: str = "http"
    received: list[Received] = field(default_factory=list)
    connections: int = 0
    aborted: int = 0  # connections that ended with a response still being written
    _aborted: trio.Event = field(default_factory=trio.Event)

    async def wait_aborted(self) -> None:
        """Return once a response could not be written to the end (the client left)."""
        await self._aborted.wait()

    def url(self, path: str = "/echo") -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"


class _Closed(Exception):
    """The client went away."""


class _Exchange:
    """One server-side connection: h11 state plus the stream."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self.conn = h11.Connection(h11.SERVER)

    async def send(self, event: h11.Event) -> None:
        data = self.conn.send(event)
        if data:
            try:
                await self.stream.send_all(data)
            except BaseException:
                self.conn.send_failed()
                raise

    async def next_event(self) -> h11.Event:
        while True:
            event = self.conn.next_event()
            if event is not h11.NEED_DATA:
                return event  # type: ignore[return-value]
            try:
                data = await self.stream.receive_some(READ_SIZE)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                data = b""
            self.conn.receive_data(data)


async def _handle(server: HttpServer, ssl_context: ssl.SSLContext | None, raw: trio.SocketStream):
    stream: trio.abc.Stream = raw
    if ssl_context is not None:
        stream = trio.SSLStream(raw, ssl_context, server_side=True)
    server.connections += 1
    exchange = _Exchange(stream)
    try:
        while True:
            try:
                if not await _serve_one(server, exchange):
                    break
            except (h11.RemoteProtocolError, _Closed, trio.BrokenResourceError, ssl.SSLError):
                break
            if exchange.conn.our_state is h11.MUST_CLOSE:
                break
            try:
                exchange.conn.start_next_cycle()
            except h11.LocalProtocolError:
                break
    except trio.BrokenResourceError:
        pass
    finally:
        with trio.move_on_after(1, shield=True):
            try:
                await stream.aclose()
            except (trio.BrokenResourceError, trio.ClosedResourceError, ssl.SSLError):
                pass


async def _serve_one(server: HttpServer, exchange: _Exchange) -> bool:
    """Answer one request; False when the connection should end."""
    event = await exchange.next_event()
    if isinstance(event, h11.ConnectionClosed):
        return False
    if not isinstance(event, h11.Request):
        raise _Closed
    body = bytearray()
    while True:
        part = await exchange.next_event()
        if isinstance(part, h11.Data):
            body += part.data
        elif isinstance(part, h11.EndOfMessage):
            break
        else:
            raise _Closed
    target = event.target.decode()
    request = Received(
        method=event.method.decode(),
        target=target,
        headers=[(n.decode(), v.decode("latin-1")) for n, v in event.headers.raw_items()],
        body=bytes(body),
    )
    server.received.append(request)
    split = urlsplit(target)
    query = {k: v[-1] for k, v in parse_qs(split.query).items()}
    route = _ROUTES.get(split.path, _echo)
    try:
        return await route(server, exchange, request, query)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        server.aborted += 1
        server._aborted.set()
        return False


async def _respond(
    exchange: _Exchange,
    request: Received,
    status: int,
    body: bytes,
    headers: Headers = (),  # type: ignore[assignment]
) -> bool:
    all_headers = [*headers, (b"content-length", str(len(body)).encode())]
    await exchange.send(h11.Response(status_code=status, headers=all_headers))
    if request.method != "HEAD" and body:
        await exchange.send(h11.Data(data=body))
    await exchange.send(h11.EndOfMessage())
    return True


def _echo_body(request: Received) -> bytes:
    return json.dumps(
        {
            "method": request.method,
            "target": request.target,
            "headers": [list(h) for h in request.headers],
            "body": base64.b64encode(request.body).decode(),
        }
    ).encode()


async def _echo(server: HttpServer, exchange: _Exchange, request: Received, query: Any) -> bool:
    return await _respond(
        exchange, request, 200, _echo_body(request), [(b"content-type", b"application/json")]
    )


def _sizes(query: dict[str, str], default_n: int = 1000) -> tuple[int, int]:
    return int(query.get("n", default_n)), int(query.get("chunk", 65536))


async def _bytes(server: HttpServer, exchange: _Exchange, request: Received, query: Any) -> bool:
    n, chunk = _sizes(query)
    body = pattern(n)
    await exchange.send(h11.Response(status_code=200, headers=[(b"content-length", b"%d" % n)]))
    if request.method != "HEAD":
        for start in range(0, n, chunk):
            await exchange.send(h11.Data(data=body[start : start + chunk]))
    await exchange.send(h11.EndOfMessage())
    return True


async def _chunked(server: HttpServer, exchange: _Exchange, request: Received, query: Any) -> bool:
    n, chunk = _sizes(query)
    body = pattern(n)
    await exchange.send(h11.Response(status_code=200, headers=[(b"transfer-encoding", b"chunked")]))
    if request.method != "HEAD":
        for start in range(0, n, chunk):
            await exchange.send(h11.Data(data=body[start : start + chunk]))
    await exchange.send(h11.EndOfMessage())
    return True


async def _drip(server: HttpServer, exchange: _Exchange, request: Received, query: Any) -> bool:
    count = int(query.get("n", 5))
    every = float(query.get("every", 0.1))
    size = int(query.get("drip", 10))
    await exchange.send(h11.Response(status_code=200, headers=[(b"transfer-encoding", b"chunked")]))
    for i in range(count):
        if i:
            await trio.sleep(every)
        await exchange.send(h11.Data(data=bytes([65 + i % 26]) * size))
    await exchange.send(h11.EndOfMessage())
    return True


async def _broken(server: HttpServer, exchange: _Exchange, request: Received, query: Any) -> bool:
    """Send part of the body, then drop the connection."""
    n = int(query.get("n", 100000))
    body = pattern(n)
    if query.get("chunked"):
        head = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
        # One complete chunk, then a chunk that promises more than it sends.
        half, rest = n // 2, n - n // 2
        data = b"%x\r\n%s\r\n%x\r\n%s" % (half, body[:half], rest, body[half : half + rest // 2])
    else:
        head = b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % n
        data = body[: n // 2]
    await exchange.stream.send_all(head + data)
    await trio.sleep(float(query.get("linger", 0.05)))
    return False


async def _hang(server: HttpServer, exchange: _Exchange, request: Received, query: Any) -> bool:
    await trio.sleep_forever()


async def _status(server: HttpServer, exchange: _Exchange, request: Received, query: Any) -> bool:
    code = int(query.get("code", 404))
    return await _respond(exchange, request, code, b"status %d\n" % code)


async def _redirect(server: HttpServer, exchange: _Exchange, request: Received, query: Any) -> bool:
    status = int(query.get("status", 302))
    location = query.get("to", "/echo").encode()
    return await _respond(exchange, request, status, b"", [(b"location", location)])


async def _chain(server: HttpServer, exchange: _Exchange, request: Received, query: Any) -> bool:
    n = int(query.get("n", 0))
    if n <= 0:
        return await _echo(server, exchange, request, query)
    return await _respond(exchange, request, 302, b"", [(b"location", b"/chain?n=%d" % (n - 1))])


async def _loop(server: HttpServer, exchange: _Exchange, request: Received, query: Any) -> bool:
    return await _respond(exchange, request, 302, b"", [(b"location", b"/loop")])


async def _headers(server: HttpServer, exchange: _Exchange, request: Received, query: Any) -> bool:
    headers = [
        (b"X-One", b"1"),
        (b"x-multi", b"a"),
        (b"X-Other", b"b"),
        (b"X-Multi", b"c"),
        (b"x-bin", b"caf\xe9"),
        (b"x-tab", b"a\tb"),
    ]
    return await _respond(exchange, request, 200, b"ok", headers)


def gzip_body(data: bytes, members: int = 1) -> bytes:
    """``data`` gzip-compressed, in ``members`` members (split evenly)."""
    size = -(-len(data) // members) if data else 0
    parts = [data[i * size : (i + 1) * size] for i in range(members)]
    return b"".join(gzip.compress(part, mtime=0) for part in parts)


async def _gzip(server: HttpServer, exchange: _Exchange, request: Received, query: Any) -> bool:
    n, chunk = _sizes(query)
    data = bytes(n) if query.get("zeros") else pattern(n)
    body = gzip_body(data, int(query.get("members", 1)))
    if query.get("damage"):
        middle = len(body) // 2
        damaged = bytes(b ^ 0x5A for b in body[middle : middle + 16])
        body = body[:middle] + damaged + body[middle + 16 :]
    if query.get("cut"):
        body = body[:-8]
    body += query.get("junk", "").encode()
    headers = [(b"content-encoding", query.get("enc", "gzip").encode())]
    if query.get("chunked"):
        headers.append((b"transfer-encoding", b"chunked"))
    else:
        headers.append((b"content-length", b"%d" % len(body)))
    await exchange.send(h11.Response(status_code=200, headers=headers))
    if request.method != "HEAD":
        for start in range(0, len(body), chunk):
            await exchange.send(h11.Data(data=body[start : start + chunk]))
    await exchange.send(h11.EndOfMessage())
    return True


_ROUTES = {
    "/echo": _echo,
    "/bytes": _bytes,
    "/chunked": _chunked,
    "/drip": _drip,
    "/broken": _broken,
    "/hang": _hang,
    "/status": _status,
    "/redirect": _redirect,
    "/chain": _chain,
    "/loop": _loop,
    "/headers": _headers,
    "/gzip": _gzip,
}


async def serve_http(
    ssl_context: ssl.SSLContext | None = None,
    *,
    task_status: trio.TaskStatus[HttpServer] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve on an ephemeral 127.0.0.1 port until cancelled; ``started(HttpServer)``."""
    server = HttpServer(scheme="https" if ssl_context else "http")
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    server.port = listeners[0].socket.getsockname()[1]
    async with trio.open_nursery() as nursery:
        task_status.started(server)
        await trio.serve_listeners(partial(_handle, server, ssl_context), listeners)
        nursery.cancel_scope.cancel()


@asynccontextmanager
async def open_http_server(ssl_context: ssl.SSLContext | None = None) -> AsyncIterator[HttpServer]:
    async with trio.open_nursery() as nursery:
        server = await nursery.start(partial(serve_http, ssl_context))
        yield server
        nursery.cancel_scope.cancel()
