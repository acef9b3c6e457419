"""Fixtures for the conformance suite: one server per kind, raw wire clients.

``wire_server`` is parametrized over ``execsrv`` and ``codex``. The codex
param carries the ``interop`` mark, so ``pytest -m "not interop"`` runs every
conformance test against execsrv alone and ``pytest -m interop`` runs the same
tests against the real binary.

Each server is started once per test session. pytest-trio runs every test in
its own ``trio.run``, so a session-scoped server cannot live in a test's event
loop: it runs in a background thread with its own trio loop, started with the
ordinary ``tests/servers.py`` helpers. Tests only use its URL, and every test
gets fresh connections (and so fresh sessions), so they cannot see each other.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager

import pytest
import trio

from ..servers import STARTUP_TIMEOUT, RunningServer, ServerKind, open_codex, open_execsrv
from ..wire import WireClient, open_wire

_OPENERS: dict[str, Callable[[], AbstractAsyncContextManager[RunningServer]]] = {
    "execsrv": open_execsrv,
    "codex": open_codex,
}


class _ServerThread:
    """Run ``opener()`` in a trio loop of its own thread until :meth:`stop`."""

    def __init__(self, opener: Callable[[], AbstractAsyncContextManager[RunningServer]]) -> None:
        self._opener = opener
        self._ready = threading.Event()
        self._server: RunningServer | None = None
        self._error: BaseException | None = None
        self._stop_event: trio.Event | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._thread = threading.Thread(target=self._run, name="conformance-server", daemon=True)

    def start(self) -> RunningServer:
        self._thread.start()
        if not self._ready.wait(STARTUP_TIMEOUT + 10):
            raise RuntimeError("server thread did not report within the startup timeout")
        if self._error is not None:
            raise self._error  # e.g. pytest.skip from open_codex outside the interop session
        assert self._server is not None
        return self._server

    def stop(self) -> None:
        if self._token is not None and self._stop_event is not None:
            try:
                trio.from_thread.run_sync(self._stop_event.set, trio_token=self._token)
            except trio.RunFinishedError:
                pass
        self._thread.join(timeout=30)

    def _run(self) -> None:
        try:
            trio.run(self._main)
        except BaseException as error:  # handed to the test thread by start()
            self._error = error
        finally:
            self._ready.set()

    async def _main(self) -> None:
        self._stop_event = trio.Event()
        self._token = trio.lowlevel.current_trio_token()
        async with self._opener() as server:
            self._server = server
            self._ready.set()
            await self._stop_event.wait()


@pytest.fixture(
    scope="session",
    params=["execsrv", pytest.param("codex", marks=pytest.mark.interop)],
)
def wire_server(request: pytest.FixtureRequest) -> Iterator[RunningServer]:
    """A server subprocess of each kind, shared by the whole test session."""
    runner = _ServerThread(_OPENERS[request.param])
    try:
        yield runner.start()
    finally:
        runner.stop()


@pytest.fixture
def kind(wire_server: RunningServer) -> ServerKind:
    """``"execsrv"`` or ``"codex"``: branch on it only for DESIGN.md §1.1 items."""
    return wire_server.kind


@pytest.fixture
def url(wire_server: RunningServer) -> str:
    return wire_server.url


@pytest.fixture
async def raw(url: str) -> AsyncIterator[WireClient]:
    """A connected client that has not sent ``initialize``."""
    async with open_wire(url) as client:
        yield client


@pytest.fixture
async def wire(url: str) -> AsyncIterator[WireClient]:
    """A connected client past ``initialize`` and ``initialized``."""
    async with open_wire(url) as client:
        with trio.fail_after(10):
            await client.handshake("conformance")
        yield client
