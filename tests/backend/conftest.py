"""One suite, two backends: every test here runs on LocalBackend and RemoteBackend.

The remote backend talks to an in-process execsrv over a real websocket.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial

import pytest
import trio

import execsrv
from execsrv.backend import ExecBackend, LocalBackend, RemoteBackend
from execsrv.process import ProcessLimits

from ..conftest import TEST_CONFIG


@pytest.fixture(params=["local", "remote"])
async def backend(
    request: pytest.FixtureRequest, nursery: trio.Nursery
) -> AsyncIterator[ExecBackend]:
    if request.param == "local":
        limits = ProcessLimits(kill_grace_seconds=TEST_CONFIG.kill_grace)
        async with LocalBackend.open(limits) as local:
            yield local
    else:
        server = await nursery.start(partial(execsrv.serve, "ws://127.0.0.1:0", config=TEST_CONFIG))
        async with execsrv.connect(server.url, client_name="pytest-backend") as client:
            yield RemoteBackend(client)
