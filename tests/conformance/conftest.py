"""Fixtures for the conformance suite: one server per kind, raw wire clients.

``target`` is parametrized over four (server, generation) pairs: execsrv spoken
to as codex 0.130 and as codex 0.171 (one execsrv serves both, as it must),
codex 0.130.0 and codex 0.171.0. The codex params carry the ``interop`` mark,
so ``pytest -m "not interop"`` runs every conformance test against execsrv
alone, in both generations, and ``pytest -m interop`` runs the same tests
against the real binaries. Tests build requests in the ``generation``'s form
and branch on it where the generations differ.

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
from dataclasses import dataclass
from functools import partial
from typing import Final

import pytest
import trio

from execsrv.protocol.generation import Generation

from ..servers import STARTUP_TIMEOUT, RunningServer, ServerKind, open_codex, open_execsrv
from ..wire import WireClient, open_wire

_OPENERS: dict[ServerKind, Callable[[], AbstractAsyncContextManager[RunningServer]]] = {
    "execsrv": open_execsrv,
    "codex": partial(open_codex, generation=Generation.V0_130),
    "codex-0.171": partial(open_codex, generation=Generation.V0_171),
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


class _ServerPool:
    """One server per kind for the whole test session, started when first asked for."""

    def __init__(self) -> None:
        self._runners: dict[ServerKind, _ServerThread] = {}
        self._started: dict[ServerKind, RunningServer | BaseException] = {}

    def get(self, kind: ServerKind) -> RunningServer:
        if kind not in self._started:
            runner = self._runners[kind] = _ServerThread(_OPENERS[kind])
            try:
                self._started[kind] = runner.start()
            except BaseException as error:  # e.g. the skip of a codex binary not configured
                self._started[kind] = error
        started = self._started[kind]
        if isinstance(started, BaseException):
            raise started
        return started

    def stop(self) -> None:
        for runner in self._runners.values():
            runner.stop()


@pytest.fixture(scope="session")
def _server_pool() -> Iterator[_ServerPool]:
    pool = _ServerPool()
    try:
        yield pool
    finally:
        pool.stop()


@dataclass(frozen=True)
class Target:
    """A server and the protocol generation the tests speak to it."""

    server: RunningServer
    generation: Generation


TARGETS: Final = [
    pytest.param(("execsrv", Generation.V0_130), id="execsrv-0.130"),
    pytest.param(("execsrv", Generation.V0_171), id="execsrv-0.171"),
    pytest.param(("codex", Generation.V0_130), id="codex-0.130", marks=pytest.mark.interop),
    pytest.param(("codex-0.171", Generation.V0_171), id="codex-0.171", marks=pytest.mark.interop),
]
"""Every server kind with each generation it speaks (execsrv speaks both)."""


ONLY_0171: Final = pytest.mark.parametrize(
    "target",
    [param for param in TARGETS if param.values[0][1] is Generation.V0_171],
    indirect=True,
    scope="session",
)
"""``pytestmark`` of a module of 0.171 requests only: its tests get the 0.171 targets."""


@pytest.fixture(scope="session", params=TARGETS)
def target(request: pytest.FixtureRequest, _server_pool: _ServerPool) -> Target:
    """Each server kind with the generation it speaks; execsrv speaks both."""
    kind, generation = request.param
    return Target(_server_pool.get(kind), generation)


@pytest.fixture
def generation(target: Target) -> Generation:
    """The generation the test speaks: every request is built in its form, and the
    test branches on it where codex 0.130 and 0.171 differ."""
    return target.generation


@pytest.fixture
def kind(target: Target) -> ServerKind:
    """``"execsrv"`` or ``"codex"`` (of either generation): branch on it only for
    DESIGN.md §1.1 items and for ``pending`` 0.171 features."""
    return "execsrv" if target.server.kind == "execsrv" else "codex"


@pytest.fixture
def url(target: Target) -> str:
    return target.server.url


@pytest.fixture
async def raw(url: str) -> AsyncIterator[WireClient]:
    """A connected client that has not sent ``initialize``."""
    async with open_wire(url) as client:
        yield client


@pytest.fixture
async def wire(url: str, generation: Generation) -> AsyncIterator[WireClient]:
    """A connected client past ``initialize`` and ``initialized``.

    In 0.171 its first call is an ``fs/getMetadata`` of a URI, as the 0.171
    harness's first calls are (codex-exec-server-0.171.md §6.2): that is how execsrv
    learns a session speaks 0.171, so requests that do not say it themselves
    (``process/read``, ``http/request``) are then answered as 0.171.
    """
    async with open_wire(url) as client:
        with trio.fail_after(10):
            await client.handshake("conformance")
            if generation is Generation.V0_171:
                spoken = await client.request("fs/getMetadata", {"path": "file:///"}, id="0.171")
                assert spoken["result"]["isDirectory"] is True, spoken
        yield client
