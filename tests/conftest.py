"""Shared fixtures: an in-process execsrv on 127.0.0.1 and a connected client.

Tests that need a server *subprocess* (CLI, signals, interop) use
``tests/servers.py``; raw-protocol tests use ``tests/wire.py``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from functools import partial

import pytest
import trio

import execsrv

TEST_CONFIG = execsrv.ServerConfig(kill_grace=0.5)
"""Short kill grace so teardown of misbehaving children stays quick."""

CHILD_ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
"""A minimal exact environment for children (nothing is inherited)."""


@pytest.fixture
async def server(nursery: trio.Nursery) -> execsrv.ExecServer:
    """An execsrv listening on an ephemeral 127.0.0.1 port, stopped after the test."""
    return await nursery.start(partial(execsrv.serve, "ws://127.0.0.1:0", config=TEST_CONFIG))


@pytest.fixture
async def client(server: execsrv.ExecServer) -> AsyncIterator[execsrv.Client]:
    assert server.url is not None
    async with execsrv.connect(server.url, client_name="pytest") as connected:
        yield connected
