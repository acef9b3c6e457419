"""A TCP proxy on 127.0.0.1 that tests can sever, to force real disconnects.

``sever()`` aborts every proxied connection at once with a TCP reset (RST, no
websocket close frame, no FIN), as a network failure would. ``cut_after()`` resets
each of the next connections once it has carried a given number of bytes, so a
test can place a reset exactly (mid-frame, inside a handshake) without timing.
"""

from __future__ import annotations

import socket
import struct
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial

import trio

_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST


@dataclass(frozen=True)
class Cut:
    """Reset one connection once it has forwarded ``from_server`` bytes to the client,
    or ``from_client`` bytes to the server (None: no limit that way)."""

    from_server: int | None = None
    from_client: int | None = None


class _Budget:
    """Bytes one direction of one connection may still forward (None: unlimited)."""

    def __init__(self, left: int | None) -> None:
        self.left = left


Tap = Callable[[int, str, bytes], None]
"""Sees every forwarded piece: (connection number, "client" or "server" = who sent it, bytes)."""


class Proxy:
    def __init__(self, upstream_port: int, tap: Tap | None = None) -> None:
        self.upstream_port = upstream_port
        self.tap = tap
        self.port = 0
        self.connections = 0
        self.cuts_made = 0
        """Connections reset by a :class:`Cut` (their budget ran out)."""
        self._cuts: deque[Cut] = deque()
        self._then = Cut()
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

    def cut_after(self, *cuts: Cut, then: Cut | None = None) -> None:
        """The next connections (in order of arrival) get these cuts, later ones ``then``."""
        self._cuts.extend(cuts)
        self._then = then or Cut()

    def hold(self) -> None:
        """Accept new connections but do not forward them until :meth:`release`."""
        if self._open.is_set():
            self._open = trio.Event()

    def release(self) -> None:
        self._open.set()

    async def _handle(self, downstream: trio.SocketStream) -> None:
        upstream: trio.SocketStream | None = None
        budgets: list[_Budget] = []
        try:
            with trio.CancelScope() as scope:
                self._scopes.add(scope)
                await self._open.wait()
                self.connections += 1
                cut = self._cuts.popleft() if self._cuts else self._then
                budgets = [_Budget(cut.from_client), _Budget(cut.from_server)]
                upstream = await trio.open_tcp_stream("127.0.0.1", self.upstream_port)
                number = self.connections
                async with trio.open_nursery() as nursery:
                    for source, sink, budget, sender in zip(
                        (downstream, upstream),
                        (upstream, downstream),
                        budgets,
                        ("client", "server"),
                        strict=True,
                    ):
                        tap = None if self.tap is None else partial(self.tap, number, sender)
                        nursery.start_soon(
                            _pump, source, sink, nursery.cancel_scope, budget, scope, tap
                        )
        finally:
            self._scopes.discard(scope)
            if any(budget.left == 0 for budget in budgets):
                self.cuts_made += 1
            for stream in (downstream, upstream):
                if stream is not None:
                    if scope.cancel_called:  # severed: reset, don't close politely
                        stream.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
                    await trio.aclose_forcefully(stream)


async def _pump(
    source: trio.SocketStream,
    sink: trio.SocketStream,
    done: trio.CancelScope,
    budget: _Budget,
    reset: trio.CancelScope,
    tap: Callable[[bytes], None] | None = None,
) -> None:
    """Forward until EOF (then end the connection politely) or until ``budget`` is
    spent (then reset it, after forwarding exactly the budgeted bytes)."""
    try:
        while data := await source.receive_some(65536):
            if budget.left is not None:
                data = data[: budget.left]
                budget.left -= len(data)
            await sink.send_all(data)
            if tap is not None:
                tap(data)
            if budget.left == 0:
                reset.cancel()
                return
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass
    done.cancel()


@asynccontextmanager
async def open_proxy(upstream_port: int, tap: Tap | None = None) -> AsyncIterator[Proxy]:
    proxy = Proxy(upstream_port, tap)
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(trio.serve_tcp, proxy._handle, 0, host="127.0.0.1"))
        proxy.port = listeners[0].socket.getsockname()[1]
        yield proxy
        nursery.cancel_scope.cancel()
