"""A TCP proxy on 127.0.0.1 that tests can sever, to force real disconnects.

``sever()`` aborts every proxied connection at once with a TCP reset (RST, no
websocket close frame, no FIN), as a network failure would.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

import trio

_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST


class Proxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = 0
        self.connections = 0
        self._scopes: set[trio.CancelScope] = set()
        self._open = trio.Event()
        self._open.set()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def sever(self) -> int:
        """Reset every live proxied connection; returns how many were cut."""
        scopes = list(self._scopes)
        for scope in scopes:
            scope.cancel()
        return len(scopes)

    def hold(self) -> None:
        """Accept new connections but do not forward them until :meth:`release`."""
        if self._open.is_set():
            self._open = trio.Event()

    def release(self) -> None:
        self._open.set()

    async def _handle(self, downstream: trio.SocketStream) -> None:
        upstream: trio.SocketStream | None = None
        try:
            with trio.CancelScope() as scope:
                self._scopes.add(scope)
                await self._open.wait()
                self.connections += 1
                upstream = await trio.open_tcp_stream("127.0.0.1", self.upstream_port)
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(_pump, downstream, upstream, nursery.cancel_scope)
                    nursery.start_soon(_pump, upstream, downstream, nursery.cancel_scope)
        finally:
            self._scopes.discard(scope)
            for stream in (downstream, upstream):
                if stream is not None:
                    if scope.cancel_called:  # severed: reset, don't close politely
                        stream.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
                    await trio.aclose_forcefully(stream)


async def _pump(source: trio.SocketStream, sink: trio.SocketStream, done: trio.CancelScope) -> None:
    try:
        while data := await source.receive_some(65536):
            await sink.send_all(data)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass
    done.cancel()


@asynccontextmanager
async def open_proxy(upstream_port: int) -> AsyncIterator[Proxy]:
    proxy = Proxy(upstream_port)
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(trio.serve_tcp, proxy._handle, 0, host="127.0.0.1"))
        proxy.port = listeners[0].socket.getsockname()[1]
        yield proxy
        nursery.cancel_scope.cancel()
